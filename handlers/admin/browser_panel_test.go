package admin_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/miniauth/miniauth/app/admins"
	"github.com/miniauth/miniauth/app/apptest"
	"github.com/miniauth/miniauth/ent/session"
)

// ArtifactsDirEnv names a directory to keep the browser test's
// screenshots in (CI uploads it); without it they go to a temp dir whose
// path the test logs.
const ArtifactsDirEnv = "MINIAUTH_ARTIFACTS_DIR"

// artifactsDir is where screenshots are kept.
func artifactsDir(t *testing.T, sub string) string {
	dir := os.Getenv(ArtifactsDirEnv)
	if dir == "" {
		dir = os.Getenv(ScreenshotDirEnv)
	}
	if dir == "" {
		dir = t.TempDir()
	}
	dir = filepath.Join(dir, sub)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots in %s", dir)
	return dir
}

// startBrowser runs a headless Chromium until the test ends, accepting
// every confirm() the panel raises.
func startBrowser(t *testing.T, exe string) context.Context {
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
	t.Cleanup(cancelAlloc)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	t.Cleanup(cancelBrowser)
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start %s: %v", exe, err)
	}
	ctx, cancel := context.WithTimeout(bctx, 10*time.Minute)
	t.Cleanup(cancel)
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for _, err := range dialogs {
			if err != nil {
				return
			}
			go chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
				_, err := cdp.Call(ctx, tg, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
				return err
			}))
		}
	}()
	return ctx
}

// layout is what the width check reads from a page.
type layout struct {
	ScrollWidth, InnerWidth int
	SignOutRight            float64 // the Sign out button's right edge (0: none)
	SwitchVisible           bool
	Lang                    string
}

const layoutJS = `(() => {
  const so = document.querySelector('#sign-out');
  const sw = document.querySelector('#lang-switch');
  const r = so ? so.getBoundingClientRect() : null;
  return {ScrollWidth: document.documentElement.scrollWidth, InnerWidth: window.innerWidth,
    SignOutRight: r && r.width > 0 ? r.right : 0,
    SwitchVisible: !!sw && sw.getBoundingClientRect().width > 0 && sw.getBoundingClientRect().right <= window.innerWidth,
    Lang: document.documentElement.lang};
})()`

// TestBrowserPhoneChineseTwoFactor is the operator's path from the issue:
// a Chinese panel on a phone-sized window, signed in with a second factor,
// ending a user's session and finding it all in the audit log. Every page
// is checked at 390×844 and 1280×900 for sideways scroll.
func TestBrowserPhoneChineseTwoFactor(t *testing.T) {
	exe := chromium(t)
	p := startPanel(t, apptest.Options{})
	ctx0 := context.Background()
	svc := admins.New(p.Server.DB, p.Server.Keys)
	enrollment, err := svc.BeginTOTP(ctx0, adminName)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.ConfirmTOTP(ctx0, adminName, admins.TOTPCodeAt(enrollment.Secret, time.Now())); err != nil {
		t.Fatal(err)
	}
	target := p.loginUser(t, "o-phone-target-000000000001", "union-phone-1", "手机用户 with a very long nickname that must wrap somewhere")
	for i := range 30 {
		p.loginUser(t, fmt.Sprintf("o-phone-filler-%012d", i), "", fmt.Sprintf("用户%d", i))
	}
	sid := p.Server.DB.Read.Session.Query().Where(session.UserID(target.UserID())).OnlyIDX(ctx0)
	shots := artifactsDir(t, "panel")
	axe := axeSource(t)
	ctx := startBrowser(t, exe)

	run := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	phone := chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateTouch, chromedp.EmulatePortrait)
	desktop := chromedp.EmulateViewport(1280, 900)
	css := func(sel string) chromedp.CSS { return chromedp.CSS(sel) }

	// On a phone: the sign-in page, switched to Chinese with the link.
	run("sign-in page", phone, chromedp.Navigate(p.URL+"/admin/login"), chromedp.WaitVisible(css(`#login-form`)),
		chromedp.Click(css(`#lang-switch a[data-lang="zh-CN"]`)), chromedp.WaitVisible(css(`#login-form`)))
	lang, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.documentElement.lang`))
	if err != nil || lang != "zh-CN" {
		t.Fatalf("after the switch: <html lang=%q> (%v)", lang, err)
	}
	heading, _ := chromedp.Run(ctx, chromedp.Text(css(`h1`)))
	if !strings.Contains(heading, "登录") {
		t.Errorf("sign-in heading %q is not Chinese", heading)
	}
	// Password, then the code the phone's authenticator shows. The step
	// used to confirm the enrollment is spent, so take the next one (the
	// server accepts one step either side).
	run("password step",
		chromedp.SendKeys(css(`input[name=username]`), adminName),
		chromedp.SendKeys(css(`input[name=password]`), adminPassword),
		chromedp.Submit(css(`#login-form`)),
		chromedp.WaitVisible(css(`#otp-form`)))
	code := admins.TOTPCodeAt(enrollment.Secret, time.Now().Add(30*time.Second))
	run("code step", chromedp.SendKeys(css(`input[name=otp]`), code), chromedp.Submit(css(`#otp-form`)),
		chromedp.WaitVisible(css(`#stat-total`)))

	userPath := fmt.Sprintf("/admin/users/%d", target.UserID())
	// key is the page's main action or content: it must be inside the
	// window at every width, not only the page free of sideways scroll.
	pages := []struct{ name, path, ready, key string }{
		{"dashboard", "/admin/", "#signup-chart", "#signup-chart"},
		{"users", "/admin/users", "#users-table", "#users-table tbody tr:first-child .nick a"},
		{"search", "/admin/users?q=%E6%89%8B%E6%9C%BA", "#users-table", "#users-table tbody tr:first-child .nick a"},
		{"user", userPath, "#sessions-table", "#sessions-table tbody tr:first-child td:last-child"},
		{"audit", "/admin/audit", "#audit-table", "#audit-table tbody tr:first-child td.target"},
		{"account", "/admin/account", "#totp-status", "#totp-status"},
		{"not-found", "/admin/nowhere", ".error-page", ".error-page a"},
	}
	// A phone that finds the page too wide zooms out, which makes
	// innerWidth grow with scrollWidth: check it is still the window's.
	check := func(width string, wantInner int) {
		for _, pg := range pages {
			run(pg.name, chromedp.Navigate(p.URL+pg.path), chromedp.WaitVisible(css(pg.ready)))
			inView, err := chromedp.Run(ctx, chromedp.Evaluate[bool](fmt.Sprintf(`(() => {
  const el = document.querySelector(%q);
  if (!el) return false;
  el.scrollIntoView({block: 'nearest', inline: 'nearest'});
  const r = el.getBoundingClientRect();
  return r.width > 0 && r.left >= 0 && r.right <= window.innerWidth + 0.5;
})()`, pg.key)))
			if err != nil || !inView {
				t.Errorf("%s at %s: %s is not inside the window (%v)", pg.name, width, pg.key, err)
			}
			checkAccessible(t, ctx, axe, pg.name+" at "+width)
			l, err := chromedp.Run(ctx, chromedp.Evaluate[layout](layoutJS))
			if err != nil {
				t.Fatalf("%s: %v", pg.name, err)
			}
			if l.InnerWidth != wantInner {
				t.Errorf("%s at %s: innerWidth %d (the page was zoomed out to fit something too wide)", pg.name, width, l.InnerWidth)
			}
			if l.ScrollWidth > l.InnerWidth {
				t.Errorf("%s at %s: page scrolls sideways (scrollWidth %d > innerWidth %d)", pg.name, width, l.ScrollWidth, l.InnerWidth)
			}
			if l.SignOutRight <= 0 || l.SignOutRight > float64(l.InnerWidth) || !l.SwitchVisible {
				t.Errorf("%s at %s: sign out (right edge %.0f of %d) or language switch (%v) not visible", pg.name, width, l.SignOutRight, l.InnerWidth, l.SwitchVisible)
			}
			if l.Lang != "zh-CN" {
				t.Errorf("%s: <html lang=%q>", pg.name, l.Lang)
			}
			buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(shots, pg.name+"-"+width+".png"), buf, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	check("390x844", 390)

	// End the user's session from the phone (through the confirm dialog).
	run("end session", chromedp.Navigate(p.URL+userPath), chromedp.WaitVisible(css(`#sessions-table`)),
		chromedp.Click(css(fmt.Sprintf(`#end-session-%d`, sid))), chromedp.WaitVisible(css(`#notice`)))
	state, _ := chromedp.Run(ctx, chromedp.Text(css(fmt.Sprintf(`#session-%d`, sid))))
	if !strings.Contains(state, "被管理员强制下线") {
		t.Errorf("ended session row: %q", state)
	}
	apptest.Expect(t, p.Do(t, apptest.Request{Method: "GET", Path: "/api/me", Token: target.AccessToken}), http.StatusUnauthorized, "unauthorized")

	// The audit log has the sign-in and the ended session, in Chinese.
	run("audit", chromedp.Navigate(p.URL+"/admin/audit"), chromedp.WaitVisible(css(`#audit-table`)))
	log, _ := chromedp.Run(ctx, chromedp.Text(css(`#audit-table`)))
	for _, want := range []string{"登录", "强制下线", fmt.Sprintf("登录设备 #%d", sid), adminName} {
		if !strings.Contains(log, want) {
			t.Errorf("audit log lacks %q:\n%s", want, log)
		}
	}

	// And everything again on a desktop window.
	run("desktop", desktop)
	check("1280x900", 1280)

	// Back to English with the switch in the header.
	run("switch", chromedp.Navigate(p.URL+"/admin/users"), chromedp.WaitVisible(css(`#users-table`)),
		chromedp.Click(css(`#lang-switch a[data-lang="en"]`)), chromedp.WaitVisible(css(`#users-table`)))
	if lang, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.documentElement.lang`)); lang != "en" {
		t.Errorf("after switching back: lang %q", lang)
	}
	// The English panel passes the accessibility rules at both widths too.
	for _, vp := range []struct {
		name string
		size chromedp.Action[chromedp.Void]
	}{{"390x844", phone}, {"1280x900", desktop}} {
		run(vp.name, vp.size)
		for _, pg := range pages {
			run(pg.name, chromedp.Navigate(p.URL+pg.path), chromedp.WaitVisible(css(pg.ready)))
			checkAccessible(t, ctx, axe, pg.name+" in English at "+vp.name)
		}
	}
	entries, _ := os.ReadDir(shots)
	if len(entries) != 2*len(pages) {
		t.Errorf("%d screenshots kept, want %d", len(entries), 2*len(pages))
	}
}
