package app_test

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/miniauth/miniauth/app/apptest"
	"github.com/miniauth/miniauth/app/wechatsim"
)

// findChromium is Debian's Chromium (or another Chrome on PATH, or
// MINIAUTH_CHROMIUM); without one the test skips, unless
// MINIAUTH_REQUIRE_BROWSER=1 (CI) makes that a failure.
func findChromium(t *testing.T) string {
	t.Helper()
	candidates := []string{"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome", "google-chrome-stable"}
	if exe := os.Getenv("MINIAUTH_CHROMIUM"); exe != "" {
		candidates = []string{exe}
	}
	for _, c := range candidates {
		if p, err := exec.LookPath(c); err == nil {
			return p
		}
	}
	if os.Getenv("MINIAUTH_REQUIRE_BROWSER") == "1" {
		t.Fatalf("Chromium not found (%s) and MINIAUTH_REQUIRE_BROWSER=1", strings.Join(candidates, ", "))
	}
	t.Skip("Chromium not found: skipping the browser test (set MINIAUTH_REQUIRE_BROWSER=1 to make this a failure)")
	return ""
}

// TestWebLoginDemoPageInChromium drives the demo page /login/qr in a real
// headless Chromium under its Content-Security-Policy: it shows the code,
// says when it is scanned, and once the user confirms in the mini program
// it shows that user, whose session list now has the browser; signing
// out ends that session and shows a new code.
func TestWebLoginDemoPageInChromium(t *testing.T) {
	exe := findChromium(t)
	env := start(t, apptest.Options{})
	code := env.WeChat.NewCode(wechatsim.Identity{OpenID: "o_web_browser"})
	user := env.LoginWith(t, map[string]any{"code": code, "nickname": "网页 Tester"})

	// The page's headers: the panel's policy, no inline script allowed.
	page := env.Do(t, apptest.Request{Method: "GET", Path: "/login/qr"})
	if csp := page.Header.Get("Content-Security-Policy"); page.Status != http.StatusOK ||
		!strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "connect-src 'self'") {
		t.Fatalf("/login/qr: %d, CSP %q", page.Status, csp)
	}
	if strings.Contains(string(page.Body), "<script>") {
		t.Errorf("the demo page has an inline script")
	}
	script := env.Do(t, apptest.Request{Method: "GET", Path: "/static/weblogin.js"})
	if script.Status != http.StatusOK || !strings.Contains(script.Header.Get("Content-Type"), "javascript") {
		t.Fatalf("/static/weblogin.js: %d %s", script.Status, script.Header.Get("Content-Type"))
	}

	shots := t.TempDir()
	if dir := os.Getenv("MINIAUTH_SCREENSHOT_DIR"); dir != "" {
		shots = filepath.Join(dir, "web-sign-in")
		if err := os.MkdirAll(shots, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("lang", "en-US"),
		chromedp.WindowSize(800, 700),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start %s: %v", exe, err)
	}
	ctx, cancel := context.WithTimeout(bctx, 2*time.Minute)
	defer cancel()

	css := func(sel string) chromedp.CSS { return chromedp.CSS(sel) }
	shot := func(name string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			buf, err := chromedp.FullScreenshot(90)(ctx, tg)
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(shots, name), buf, 0o644)
		})
	}
	eval := func(js string, dst *string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) (err error) {
			*dst, err = chromedp.Evaluate[string](js)(ctx, tg)
			return err
		})
	}
	// ticketOnPage is the ticket of the code the page shows, read from the
	// picture itself, as a phone's camera would.
	ticketOnPage := func() string {
		t.Helper()
		var src string
		if err := chromedp.Do(ctx, chromedp.WaitVisible(css(`#qr-image`)), eval(`document.getElementById('qr-image').getAttribute('src')`, &src)); err != nil {
			t.Fatalf("browser: %v", err)
		}
		return scanImage(t, env, qrTicket{ImageURL: src})
	}

	if err := chromedp.Do(ctx, chromedp.Navigate(env.URL+"/login/qr"), chromedp.WaitVisible(css(`#qr-status[data-status="pending"]`))); err != nil {
		t.Fatalf("browser: %v", err)
	}
	ticket := ticketOnPage()
	var inline, natural string
	if err := chromedp.Do(ctx,
		eval(`String(document.querySelectorAll('script:not([src])').length)`, &inline),
		eval(`String(document.getElementById('qr-image').naturalWidth)`, &natural),
		shot("1-code.jpg"),
	); err != nil {
		t.Fatalf("browser: %v", err)
	}
	if inline != "0" || natural == "0" {
		t.Errorf("inline scripts %s, image width %s", inline, natural)
	}

	// The user scans: the page says so.
	r := mini(t, env, ticket, "scan", user.AccessToken)
	if r.Status != http.StatusOK || r.JSON(t)["device"] != "Chrome on Linux" {
		t.Fatalf("scan: %d %s", r.Status, r.Body)
	}
	if err := chromedp.Do(ctx, chromedp.WaitVisible(css(`#qr-status[data-status="scanned"]`)), shot("2-scanned.jpg")); err != nil {
		t.Fatalf("browser: %v", err)
	}
	// And confirms: the page shows who signed in.
	if r := mini(t, env, ticket, "confirm", user.AccessToken); r.Status != http.StatusNoContent {
		t.Fatalf("confirm: %d %s", r.Status, r.Body)
	}
	var name, id string
	if err := chromedp.Do(ctx,
		chromedp.WaitVisible(css(`#qr-user`)),
		eval(`document.getElementById('user-name').textContent`, &name),
		eval(`document.getElementById('user-id').textContent`, &id),
		shot("3-signed-in.jpg"),
	); err != nil {
		t.Fatalf("browser: %v", err)
	}
	if name != "网页 Tester" || id != strconv.Itoa(user.UserID()) {
		t.Errorf("the page shows %q (id %q), want the user who confirmed", name, id)
	}
	list := listSessions(t, env, user.AccessToken)
	webSessions := 0
	for _, s := range list.Sessions {
		if s.App == "web" && s.Device == "Chrome on Linux" {
			webSessions++
		}
	}
	if webSessions != 1 {
		t.Fatalf("sessions %+v, want one from the browser", list.Sessions)
	}

	// Signing out ends the browser's session and shows a new code.
	if err := chromedp.Do(ctx, chromedp.Click(css(`#qr-logout`)), chromedp.WaitVisible(css(`#qr-status[data-status="pending"]`))); err != nil {
		t.Fatalf("browser: %v", err)
	}
	if next := ticketOnPage(); next == ticket {
		t.Errorf("the same code after signing out")
	}
	// (The page asks for the new code once the logout is answered.)
	if n := len(listSessions(t, env, user.AccessToken).Sessions); n != 1 {
		t.Errorf("%d sessions after the browser signed out, want 1", n)
	}

	// Denied on the phone: the page says so and offers a new code.
	ticket = ticketOnPage()
	if r := mini(t, env, ticket, "deny", user.AccessToken); r.Status != http.StatusNoContent {
		t.Fatalf("deny: %d %s", r.Status, r.Body)
	}
	if err := chromedp.Do(ctx, chromedp.WaitVisible(css(`#qr-status[data-status="denied"]`)), chromedp.WaitVisible(css(`#qr-renew`)), shot("4-denied.jpg"),
		chromedp.Click(css(`#qr-renew`)), chromedp.WaitVisible(css(`#qr-status[data-status="pending"]`))); err != nil {
		t.Fatalf("browser: %v", err)
	}
	if next := ticketOnPage(); next == ticket {
		t.Errorf("the same code after asking for a new one")
	}
}
