package app_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/miniauth/miniauth/app/apptest"
	"github.com/miniauth/miniauth/app/avatars/avatartest"
	"github.com/miniauth/miniauth/app/wechatsim"
	"github.com/miniauth/miniauth/ent"
	"github.com/miniauth/miniauth/ent/reviewitem"
)

const contentPublicURL = "https://auth.example.com"

func contentEnv(extra map[string]string) map[string]string {
	env := pushEnv(true)
	env["MINIAUTH_CONTENT_CHECK"] = "on"
	env["MINIAUTH_PUBLIC_URL"] = contentPublicURL
	for k, v := range extra {
		env[k] = v
	}
	return env
}

func reviewItems(t testing.TB, env *apptest.Env, userID int) []*ent.ReviewItem {
	t.Helper()
	items, err := env.Server.DB.Read.ReviewItem.Query().Where(reviewitem.UserID(userID)).All(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return items
}

func loginNick(t *testing.T, env *apptest.Env, openid, nickname string) *apptest.Response {
	t.Helper()
	return env.Do(t, apptest.Request{Method: "POST", Path: "/api/auth/login",
		Body: map[string]any{"code": env.WeChat.NewCode(wechatsim.Identity{OpenID: openid}), "nickname": nickname}})
}

// Nicknames from login and PUT/PATCH /api/me go through msgSecCheck
// (scene 1, the user's openid): risky → 422 content_rejected naming the
// field and nothing stored; review → stored and listed; pass → stored.
func TestContentCheckNicknames(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		env := startOn(t, b, contentEnv(nil))
		r := loginNick(t, env, "o_risky_login", "a risky name")
		apptest.Expect(t, r, http.StatusUnprocessableEntity, "content_rejected")
		if f := errorFields(t, r); f["nickname"] == "" {
			t.Errorf("fields: %v", f)
		}
		if n := userCount(t, env); n != 0 {
			t.Fatalf("a refused login stored %d users", n)
		}
		calls := env.WeChat.TextChecks()
		if len(calls) != 1 || calls[0].OpenID != "o_risky_login" || calls[0].Scene != 1 || calls[0].Content != "a risky name" {
			t.Fatalf("msgSecCheck calls: %+v", calls)
		}

		g := grantOf(t, loginNick(t, env, "o_review_login", "please review me"))
		if g.User["nickname"] != "please review me" {
			t.Errorf("review nickname not stored: %v", g.User)
		}
		if items := reviewItems(t, env, g.UserID()); len(items) != 1 || items[0].Kind != "nickname" || items[0].Reason != "review" {
			t.Fatalf("review items: %+v", items)
		}
		ok := grantOf(t, loginNick(t, env, "o_pass_login", "Alice"))
		if len(reviewItems(t, env, ok.UserID())) != 0 || ok.User["nickname"] != "Alice" {
			t.Error("a passing nickname was flagged")
		}
		// A returning user's login never changes a set nickname: nothing to check.
		before := len(env.WeChat.TextChecks())
		grantOf(t, loginNick(t, env, "o_pass_login", "a risky name"))
		if len(env.WeChat.TextChecks()) != before {
			t.Error("a nickname that would not be stored was checked")
		}

		// PUT and PATCH.
		for _, method := range []string{"PUT", "PATCH"} {
			r := env.Do(t, apptest.Request{Method: method, Path: "/api/me", Token: ok.AccessToken, Body: map[string]any{"nickname": "risky again", "gender": 2}})
			apptest.Expect(t, r, http.StatusUnprocessableEntity, "content_rejected")
			if u := meJSON(t, env, ok.AccessToken); u["nickname"] != "Alice" || u["gender"] != float64(0) {
				t.Errorf("%s risky changed the user: %v", method, u)
			}
		}
		r = env.Do(t, apptest.Request{Method: "PUT", Path: "/api/me", Token: ok.AccessToken, Body: map[string]any{"nickname": "review this"}})
		if r.Status != http.StatusOK || r.JSON(t)["nickname"] != "review this" {
			t.Fatalf("PUT review: %d %s", r.Status, r.Body)
		}
		if items := reviewItems(t, env, ok.UserID()); len(items) != 1 || items[0].Content != "review this" {
			t.Fatalf("review items after PUT: %+v", items)
		}
		// Changing it to a passing nickname takes it off the queue.
		env.Do(t, apptest.Request{Method: "PATCH", Path: "/api/me", Token: ok.AccessToken, Body: map[string]any{"nickname": "Alice B"}})
		if items := reviewItems(t, env, ok.UserID()); len(items) != 0 {
			t.Fatalf("stale review items: %+v", items)
		}

		// A hundred risky updates at once: every one refused.
		var wg sync.WaitGroup
		for range 100 {
			wg.Go(func() {
				r := env.Do(t, apptest.Request{Method: "PUT", Path: "/api/me", Token: ok.AccessToken, Body: map[string]any{"nickname": "so risky"}})
				if r.Status != http.StatusUnprocessableEntity {
					t.Errorf("at once: %d %s", r.Status, r.Body)
				}
			})
		}
		wg.Wait()
		if u := meJSON(t, env, ok.AccessToken); u["nickname"] != "Alice B" {
			t.Errorf("after 100 risky updates: %v", u)
		}
	})
}

// WeChat unavailable: the nickname is stored and listed (fail open), or
// refused with 502 and nothing stored (MINIAUTH_CONTENT_CHECK_FAIL=closed).
func TestContentCheckUnavailable(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		open := startOn(t, b, contentEnv(nil))
		open.WeChat.Fail(wechatsim.PathMsgSecCheck, wechatsim.Failure{ErrCode: -1})
		g := grantOf(t, loginNick(t, open, "o_unavail", "Bob"))
		if items := reviewItems(t, open, g.UserID()); len(items) != 1 || items[0].Reason != "unavailable" || g.User["nickname"] != "Bob" {
			t.Fatalf("fail open: %v %+v", g.User, items)
		}
		open.WeChat.Fail(wechatsim.PathMsgSecCheck, wechatsim.Failure{ErrCode: 61010}) // not used in the last 2 hours
		r := open.Do(t, apptest.Request{Method: "PUT", Path: "/api/me", Token: g.AccessToken, Body: map[string]any{"nickname": "Bobby"}})
		if r.Status != http.StatusOK {
			t.Fatalf("fail open PUT: %d %s", r.Status, r.Body)
		}

		closed := startOn(t, b, contentEnv(map[string]string{"MINIAUTH_CONTENT_CHECK_FAIL": "closed"}))
		closed.WeChat.Fail(wechatsim.PathMsgSecCheck, wechatsim.Failure{Status: 503, Body: "busy"})
		apptest.Expect(t, loginNick(t, closed, "o_closed", "Carol"), http.StatusBadGateway, "wechat_unavailable")
		if n := userCount(t, closed); n != 0 {
			t.Errorf("fail closed stored %d users", n)
		}
		g = grantOf(t, loginNick(t, closed, "o_closed2", "Carol"))
		closed.WeChat.Fail(wechatsim.PathMsgSecCheck, wechatsim.Failure{ErrCode: 45009})
		apptest.Expect(t, closed.Do(t, apptest.Request{Method: "PUT", Path: "/api/me", Token: g.AccessToken, Body: map[string]any{"nickname": "Caro"}}),
			http.StatusBadGateway, "wechat_unavailable")
		if u := meJSON(t, closed, g.AccessToken); u["nickname"] != "Carol" {
			t.Errorf("fail closed changed the nickname: %v", u)
		}
	})
}

// Uploaded avatars go to mediaCheckAsync with MINIAUTH_PUBLIC_URL + their
// path, are shown at once, and the pushed wxa_media_check decides.
func TestContentCheckAvatars(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		env := startOn(t, b, contentEnv(nil))
		for _, xml := range []bool{false, true} {
			p := pusherFor(t, env, true, xml)
			g := env.Login(t, "o_avatar_"+map[bool]string{false: "json", true: "xml"}[xml])
			openid := "o_avatar_" + map[bool]string{false: "json", true: "xml"}[xml]
			upload := func(seed int) (url, trace string) {
				url = uploadAvatar(t, env, g.AccessToken, avatartest.PNG(t, seed))
				checks := env.WeChat.MediaChecks()
				last := checks[len(checks)-1]
				if last.MediaURL != contentPublicURL+url || last.OpenID != openid {
					t.Fatalf("mediaCheckAsync got %+v for %s", last, url)
				}
				return url, last.TraceID
			}
			fileOf := func(url string) string { return filepath.Join(avatarDirOf(env), filepath.Base(url)) }

			// pass: nothing changes.
			url, trace := upload(1)
			pushOK(t, p, wechatsim.MediaCheck(openid, trace, "pass"))
			if u := meJSON(t, env, g.AccessToken); u["avatar_url"] != url || len(reviewItems(t, env, g.UserID())) != 0 {
				t.Errorf("pass: %v", u)
			}
			// review: listed.
			url, trace = upload(2)
			pushOK(t, p, wechatsim.MediaCheck(openid, trace, "review"))
			if items := reviewItems(t, env, g.UserID()); len(items) != 1 || items[0].Kind != "avatar" || items[0].Content != url || items[0].Reason != "review" {
				t.Errorf("review items: %+v", items)
			}
			// risky: the file goes, avatar_url is cleared, audited.
			url, trace = upload(3)
			if len(reviewItems(t, env, g.UserID())) != 0 {
				t.Error("the replaced avatar's review item stayed")
			}
			pushOK(t, p, wechatsim.MediaCheck(openid, trace, "risky"))
			if u := meJSON(t, env, g.AccessToken); u["avatar_url"] != "" {
				t.Errorf("risky avatar still shown: %v", u)
			}
			if _, err := os.Stat(fileOf(url)); !os.IsNotExist(err) {
				t.Errorf("risky file still stored: %v", err)
			}
			if n := len(wechatAudit(t, env, "avatar_rejected", g.UserID())); n != 1 {
				t.Errorf("%d audit entries for the risky avatar", n)
			}
			// A verdict on an avatar already replaced leaves the new one.
			_, oldTrace := upload(4)
			newURL, _ := upload(5)
			pushOK(t, p, wechatsim.MediaCheck(openid, oldTrace, "risky"))
			if u := meJSON(t, env, g.AccessToken); u["avatar_url"] != newURL {
				t.Errorf("a verdict on a replaced avatar changed the user: %v", u)
			}
			if _, err := os.Stat(fileOf(newURL)); err != nil {
				t.Errorf("the current avatar's file: %v", err)
			}
			// -1008 (WeChat could not download it): listed, unavailable.
			url, trace = upload(6)
			pushOK(t, p, wechatsim.PushEvent{Event: "wxa_media_check", OpenID: openid, TraceID: trace, ErrCode: -1008})
			if items := reviewItems(t, env, g.UserID()); len(items) != 1 || items[0].Reason != "unavailable" || items[0].Content != url {
				t.Errorf("-1008: %+v", items)
			}
			// A trace_id we never sent: fine, nothing done.
			pushOK(t, p, wechatsim.MediaCheck(openid, "no-such-trace", "risky"))
			if u := meJSON(t, env, g.AccessToken); u["avatar_url"] != url {
				t.Errorf("unknown trace changed the user: %v", u)
			}
		}
	})
}

// Without MINIAUTH_PUBLIC_URL start-up says so in one line and each
// upload is listed for review unchecked.
func TestContentCheckWithoutPublicURL(t *testing.T) {
	t.Parallel()
	vars := contentEnv(nil)
	delete(vars, "MINIAUTH_PUBLIC_URL")
	env := start(t, apptest.Options{Env: vars})
	if !strings.Contains(env.Logs.String(), "MINIAUTH_PUBLIC_URL is not set") {
		t.Error("no start-up line about MINIAUTH_PUBLIC_URL")
	}
	g := env.Login(t, "o_no_public_url")
	url := uploadAvatar(t, env, g.AccessToken, avatartest.PNG(t, 9))
	if items := reviewItems(t, env, g.UserID()); len(items) != 1 || items[0].Reason != "unchecked" || items[0].Content != url {
		t.Errorf("review items: %+v", items)
	}
	if n := len(env.WeChat.MediaChecks()); n != 0 {
		t.Errorf("%d media checks without a public URL", n)
	}
	// Closing the account takes the queue entry along.
	env.Do(t, apptest.Request{Method: "DELETE", Path: "/api/me", Token: g.AccessToken})
	if n, _ := env.Server.DB.Read.ReviewItem.Query().Count(context.Background()); n != 0 {
		t.Errorf("%d review items after deletion", n)
	}
}
