package admin_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/miniauth/miniauth/app/apptest"
)

// RequireBrowserEnv, set to 1 (as .ci/run does), turns a missing Chromium
// into a failure instead of a skip.
const RequireBrowserEnv = "MINIAUTH_REQUIRE_BROWSER"

// ScreenshotDirEnv names a directory to keep the screenshots in.
const ScreenshotDirEnv = "MINIAUTH_SCREENSHOT_DIR"

// ChromiumEnv names the browser binary, overriding the search.
const ChromiumEnv = "MINIAUTH_CHROMIUM"

// chromium finds Debian's Chromium (or another Chrome on PATH).
func chromium(t *testing.T) string {
	t.Helper()
	candidates := []string{"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome", "google-chrome-stable"}
	if exe := os.Getenv(ChromiumEnv); exe != "" {
		candidates = []string{exe}
	}
	for _, c := range candidates {
		if p, err := exec.LookPath(c); err == nil {
			return p
		}
	}
	msg := "Chromium not found (apt-get install chromium) at " + strings.Join(candidates, ", ")
	if os.Getenv(RequireBrowserEnv) == "1" {
		t.Fatalf("%s, and %s=1 requires the browser test to run", msg, RequireBrowserEnv)
	}
	t.Skipf("%s: skipping the browser test (set %s=1 to make this a failure)", msg, RequireBrowserEnv)
	return ""
}

// TestBrowserSignInSearchDisable drives a real headless Chromium through
// the panel: sign in with the form, see the dashboard chart and the users
// table, search, open a user, disable them (through the confirm dialog
// the panel's script raises), and check that their app session died.
func TestBrowserSignInSearchDisable(t *testing.T) {
	exe := chromium(t)
	p := startPanel(t, apptest.Options{})
	target := p.loginUser(t, "o-browser-target-00000000001", "union-browser-1", "Alice Browser")
	p.loginUser(t, "o-browser-other-000000000002", "", "Bob Browser")
	p.loginUser(t, "o-browser-xss-00000000000003", "", `<script>alert("xss")</script><img src=x onerror=alert(2)>`)

	shots := os.Getenv(ScreenshotDirEnv)
	if shots == "" {
		shots = t.TempDir()
	} else if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1280, 900),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()
	// The first call starts the browser, and must not carry the timeout
	// (it would stop the browser); later calls do.
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start %s: %v", exe, err)
	}
	ctx, cancel := context.WithTimeout(bctx, 2*time.Minute)
	defer cancel()

	// The panel asks for confirmation before disabling: accept it. An
	// alert() would be injected script running: record it.
	alerts := make(chan string, 8)
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for d, err := range dialogs {
			if err != nil {
				return
			}
			if d.Type == page.DialogTypeAlert {
				select {
				case alerts <- d.Message:
				default:
				}
			}
			go chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
				_, err := cdp.Call(ctx, tg, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
				return err
			}))
		}
	}()

	shot := func(name string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			buf, err := chromedp.FullScreenshot(100)(ctx, tg)
			if err != nil {
				return err
			}
			path := filepath.Join(shots, name)
			t.Logf("screenshot %s", path)
			return os.WriteFile(path, buf, 0o644)
		})
	}
	// text reads an element's text into *dst.
	text := func(sel string, dst *string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) (err error) {
			*dst, err = chromedp.Text(chromedp.CSS(sel))(ctx, tg)
			return err
		})
	}
	css := func(sel string) chromedp.CSS { return chromedp.CSS(sel) }

	var loginURL, total, table, searched, openid, unionid, notice string
	var bars int
	userPath := fmt.Sprintf("/admin/users/%d", target.UserID())
	err := chromedp.Do(ctx,
		// Unauthenticated: sent to the sign-in form.
		chromedp.Navigate(p.URL+"/admin/users"),
		chromedp.WaitVisible(css(`#login-form`)),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) (err error) {
			loginURL, err = chromedp.Location()(ctx, tg)
			return err
		}),
		chromedp.SendKeys(css(`input[name=username]`), adminName),
		chromedp.SendKeys(css(`input[name=password]`), adminPassword),
		chromedp.Submit(css(`#login-form`)),
		// The dashboard, with its server-drawn chart.
		chromedp.WaitVisible(css(`#stat-total`)),
		text(`#stat-total`, &total),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) (err error) {
			bars, err = chromedp.Evaluate[int](`document.querySelectorAll('#signup-chart rect').length`)(ctx, tg)
			return err
		}),
		shot("dashboard.png"),
		// The users table.
		chromedp.Click(css(`nav a[href="/admin/users"]`)),
		chromedp.WaitVisible(css(`#users-table`)),
		text(`#users-table`, &table),
		shot("users.png"),
		// Search by nickname prefix.
		chromedp.SendKeys(css(`#search`), "Alice"),
		chromedp.Submit(css(`#search`)),
		chromedp.WaitVisible(css(`a.btn-ghost[href="/admin/users"]`)), // the search's Clear link
		text(`#users-table`, &searched),
		// Open the user and disable them.
		chromedp.Click(css(`#users-table a[href="`+userPath+`"]`)),
		chromedp.WaitVisible(css(`#user-openid`)),
		text(`#user-openid`, &openid),
		text(`#user-unionid`, &unionid),
		chromedp.Click(css(`#disable-user`)),
		chromedp.WaitVisible(css(`#notice`)),
		chromedp.WaitVisible(css(`#enable-user`)),
		text(`#notice`, &notice),
		shot("user-disabled.png"),
	)
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	if !strings.HasSuffix(loginURL, "/admin/login") {
		t.Errorf("unauthenticated visit ended at %s", loginURL)
	}
	if strings.TrimSpace(total) != "3" || bars != 30 {
		t.Errorf("dashboard: total %q, %d chart bars; want 3 and 30", total, bars)
	}
	if !strings.Contains(table, "Alice Browser") || !strings.Contains(table, "Bob Browser") || !strings.Contains(table, `<script>alert("xss")</script>`) {
		t.Errorf("users table text:\n%s", table)
	}
	if !strings.Contains(searched, "Alice Browser") || strings.Contains(searched, "Bob Browser") {
		t.Errorf("search for Alice shows:\n%s", searched)
	}
	if openid != "o-browser-target-00000000001" || unionid != "union-browser-1" {
		t.Errorf("detail page: openid %q unionid %q", openid, unionid)
	}
	if !strings.Contains(notice, "disabled") {
		t.Errorf("notice after disabling: %q", notice)
	}
	select {
	case msg := <-alerts:
		t.Errorf("a nickname ran as script: alert(%q)", msg)
	default:
	}
	// The user's app session died with the click.
	apptest.Expect(t, p.Do(t, apptest.Request{Method: "GET", Path: "/api/me", Token: target.AccessToken}), http.StatusUnauthorized, "unauthorized")
	for _, name := range []string{"dashboard.png", "users.png", "user-disabled.png"} {
		if fi, err := os.Stat(filepath.Join(shots, name)); err != nil || fi.Size() < 1000 {
			t.Errorf("screenshot %s missing or empty: %v", name, err)
		}
	}
}
