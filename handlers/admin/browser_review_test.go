package admin_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/miniauth/miniauth/app/apptest"
	"github.com/miniauth/miniauth/ent/reviewitem"
)

// TestBrowserReviewQueuePhoneChinese: an operator on a phone, in Chinese,
// works through the review queue: a long flagged nickname and an avatar
// fit a 390-pixel screen, clearing one (through the confirm dialog)
// erases it, approving the other keeps it.
func TestBrowserReviewQueuePhoneChinese(t *testing.T) {
	exe := chromium(t)
	p := startPanel(t, apptest.Options{Env: map[string]string{"MINIAUTH_CONTENT_CHECK": "on"}})
	long := p.loginUser(t, "o-review-long", "", "审核 review 一个非常非常长的昵称_without_any_space_at_all_0123456789")
	pic := p.loginUser(t, "o-review-pic", "", "头像用户")
	uploadPNG(t, p, pic.AccessToken, 11)
	ctx0 := context.Background()
	longItem := p.Server.DB.Read.ReviewItem.Query().Where(reviewitem.UserID(long.UserID())).OnlyIDX(ctx0)
	picItem := p.Server.DB.Read.ReviewItem.Query().Where(reviewitem.UserID(pic.UserID())).OnlyIDX(ctx0)

	shots := artifactsDir(t, "review")
	ctx := startBrowser(t, exe)
	run := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	css := func(sel string) chromedp.CSS { return chromedp.CSS(sel) }
	shot := func(name string) {
		buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(shots, name+".png"), buf, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run("sign in", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateTouch, chromedp.EmulatePortrait),
		chromedp.Navigate(p.URL+"/admin/login"), chromedp.WaitVisible(css(`#login-form`)),
		chromedp.Click(css(`#lang-switch a[data-lang="zh-CN"]`)), chromedp.WaitVisible(css(`#login-form`)),
		chromedp.SendKeys(css(`input[name=username]`), adminName),
		chromedp.SendKeys(css(`input[name=password]`), adminPassword),
		chromedp.Submit(css(`#login-form`)), chromedp.WaitVisible(css(`#stat-review`)))
	if n, _ := chromedp.Run(ctx, chromedp.Text(css(`#stat-review`))); strings.TrimSpace(n) != "2" {
		t.Errorf("dashboard counts %q waiting", n)
	}
	run("queue", chromedp.Click(css(`a[href="/admin/review"].card`)), chromedp.WaitVisible(css(`#review-list`)))
	l, err := chromedp.Run(ctx, chromedp.Evaluate[layout](layoutJS))
	if err != nil {
		t.Fatal(err)
	}
	if l.InnerWidth != 390 || l.ScrollWidth > l.InnerWidth || l.Lang != "zh-CN" {
		t.Errorf("queue at 390: innerWidth %d, scrollWidth %d, lang %q", l.InnerWidth, l.ScrollWidth, l.Lang)
	}
	if l.SignOutRight <= 0 || l.SignOutRight > 390 || !l.SwitchVisible {
		t.Errorf("header does not fit: sign out at %.0f, switch visible %v", l.SignOutRight, l.SwitchVisible)
	}
	text, _ := chromedp.Run(ctx, chromedp.Text(css(`#review-list`)))
	for _, want := range []string{"昵称", "头像", "微信：建议人工审核", "未检测：未设置公开地址", "通过", "清除"} {
		if !strings.Contains(text, want) {
			t.Errorf("queue lacks %q:\n%s", want, text)
		}
	}
	// Every action button is inside the screen.
	inside, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`[...document.querySelectorAll('.review-actions .btn')].every(b => { const r = b.getBoundingClientRect(); return r.width > 0 && r.left >= 0 && r.right <= window.innerWidth; })`))
	if err != nil || !inside {
		t.Errorf("an action button is off screen (%v)", err)
	}
	shot("queue-390x844")

	run("clear", chromedp.Click(css(fmt.Sprintf(`#clear-%d`, longItem))), chromedp.WaitVisible(css(`#notice`)))
	notice, _ := chromedp.Run(ctx, chromedp.Text(css(`#notice`)))
	if !strings.Contains(notice, "已清除") {
		t.Errorf("notice %q", notice)
	}
	if u := p.Do(t, apptest.Request{Method: "GET", Path: "/api/me", Token: long.AccessToken}).JSON(t); u["nickname"] != "" {
		t.Errorf("cleared nickname still %v", u["nickname"])
	}
	run("approve", chromedp.Click(css(fmt.Sprintf(`#approve-%d`, picItem))), chromedp.WaitVisible(css(`#no-review`)))
	if r := p.Do(t, apptest.Request{Method: "GET", Path: "/api/me", Token: pic.AccessToken}); r.Status != http.StatusOK || r.JSON(t)["avatar_url"] == "" {
		t.Errorf("approved avatar: %d %s", r.Status, r.Body)
	}
	shot("queue-empty-390x844")
	run("audit", chromedp.Navigate(p.URL+"/admin/audit"), chromedp.WaitVisible(css(`#audit-table`)))
	log, _ := chromedp.Run(ctx, chromedp.Text(css(`#audit-table`)))
	for _, want := range []string{"审核清除", "审核通过"} {
		if !strings.Contains(log, want) {
			t.Errorf("audit log lacks %q", want)
		}
	}
}
