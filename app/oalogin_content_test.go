package app_test

import (
	"context"
	"net/http"
	"sync"
	"testing"

	"github.com/miniauth/miniauth/app/apptest"
	"github.com/miniauth/miniauth/app/wechatsim"
	"github.com/miniauth/miniauth/ent/identity"
)

// oaTicketLogin walks the H5 flow for person and answers the ticket's
// redemption as it is, refusals included.
func oaTicketLogin(t *testing.T, e *apptest.Env, p wechatsim.OAuthPerson) *apptest.Response {
	t.Helper()
	b := newBrowser(t)
	e.WeChat.QueueAuthorize(wechatsim.AuthorizeAnswer{Person: p})
	returnTo := h5Prefix + "index.html"
	status, loc := b.get(onServer(e, b.consent(b.authorize(e, "snsapi_userinfo", returnTo))))
	ticket := fragment(t, loc, returnTo).Get("ticket")
	if status != http.StatusFound || ticket == "" {
		t.Fatalf("callback: %d %q", status, loc)
	}
	return e.Do(t, apptest.Request{Method: "POST", Path: "/api/auth/ticket", Body: map[string]any{"ticket": ticket}})
}

// identitiesOf counts the identities of one door with openid.
func identityCount(t *testing.T, e *apptest.Env, appID, openid string) int {
	t.Helper()
	n, err := e.Server.DB.Read.Identity.Query().Where(identity.Appid(appID), identity.Openid(openid)).Count(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// A nickname that an Official Account or app login takes from WeChat's
// userinfo passes the same content check as a mini program login's:
// msgSecCheck with the person's mini program openid; risky refuses the
// login (422 content_rejected, nothing stored), review stores and lists
// it. A person with no mini program identity cannot be checked: stored
// and listed (fail open), or left out (fail closed).
func TestOALoginNicknameContentCheck(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		e := startDoors(t, b.URL(t), contentEnv(nil))
		// Known to the mini program (without a nickname) and linked by unionid.
		mini := e.LoginWith(t, map[string]any{"code": e.WeChat.NewCode(wechatsim.Identity{OpenID: "mp-risky", UnionID: "u-risky"})})

		before := len(e.WeChat.TextChecks())
		r := oaTicketLogin(t, e, wechatsim.OAuthPerson{OpenID: "oa-risky", UnionID: "u-risky", Nickname: "a risky name"})
		apptest.Expect(t, r, http.StatusUnprocessableEntity, "content_rejected")
		if f := errorFields(t, r); f["nickname"] == "" {
			t.Errorf("fields: %v", f)
		}
		calls := e.WeChat.TextChecks()[before:]
		if len(calls) != 1 || calls[0].AppID != apptest.AppID || calls[0].OpenID != "mp-risky" || calls[0].Scene != 1 || calls[0].Content != "a risky name" {
			t.Fatalf("msgSecCheck calls: %+v, want one with the mini program's appid and openid", calls)
		}
		if identityCount(t, e, oaAppID, "oa-risky") != 0 || meJSON(t, e, mini.AccessToken)["nickname"] != "" {
			t.Fatal("a refused login stored something")
		}
		// The app door: the same.
		r = mobileLogin(t, e, wechatsim.OAuthPerson{OpenID: "app-risky", UnionID: "u-risky", Nickname: "RISKY app name"})
		apptest.Expect(t, r, http.StatusUnprocessableEntity, "content_rejected")
		if identityCount(t, e, mobileAppID, "app-risky") != 0 {
			t.Fatal("a refused app login stored its identity")
		}

		// A hundred risky app logins of one person at once: every one
		// refused, nothing stored.
		var wg sync.WaitGroup
		for range 100 {
			wg.Go(func() {
				r := mobileLogin(t, e, wechatsim.OAuthPerson{OpenID: "app-risky", UnionID: "u-risky", Nickname: "so risky"})
				if r.Status != http.StatusUnprocessableEntity || r.ErrorCode() != "content_rejected" {
					t.Errorf("at once: %d %s", r.Status, r.Body)
				}
			})
		}
		wg.Wait()
		if identityCount(t, e, mobileAppID, "app-risky") != 0 || meJSON(t, e, mini.AccessToken)["nickname"] != "" {
			t.Error("risky logins at once stored something")
		}

		// review: stored and listed.
		g := grantOf(t, oaTicketLogin(t, e, wechatsim.OAuthPerson{OpenID: "oa-risky", UnionID: "u-risky", Nickname: "please review me"}))
		if g.UserID() != mini.UserID() || g.User["nickname"] != "please review me" {
			t.Fatalf("review login: %+v", g.User)
		}
		if items := reviewItems(t, e, g.UserID()); len(items) != 1 || items[0].Kind != "nickname" || items[0].Reason != "review" {
			t.Fatalf("review items: %+v", items)
		}

		// pass: stored, not listed.
		e.LoginWith(t, map[string]any{"code": e.WeChat.NewCode(wechatsim.Identity{OpenID: "mp-pass", UnionID: "u-pass"})})
		r = mobileLogin(t, e, wechatsim.OAuthPerson{OpenID: "app-pass", UnionID: "u-pass", Nickname: "Alice"})
		if r.Status != http.StatusOK {
			t.Fatalf("pass: %d %s", r.Status, r.Body)
		}
		pass := grantOf(t, r)
		if pass.User["nickname"] != "Alice" || len(reviewItems(t, e, pass.UserID())) != 0 {
			t.Fatalf("pass: %v %+v", pass.User, reviewItems(t, e, pass.UserID()))
		}

		// A returning user with a nickname: WeChat's is not stored, so not checked.
		before = len(e.WeChat.TextChecks())
		again := grantOf(t, oaTicketLogin(t, e, wechatsim.OAuthPerson{OpenID: "oa-pass", UnionID: "u-pass", Nickname: "now risky"}))
		if again.UserID() != pass.UserID() || again.User["nickname"] != "Alice" || len(e.WeChat.TextChecks()) != before {
			t.Fatalf("returning: %v, %d checks", again.User, len(e.WeChat.TextChecks())-before)
		}

		// Nobody the mini program knows: no openid to check with, so the
		// nickname is stored and listed for review as "unavailable".
		before = len(e.WeChat.TextChecks())
		lone := grantOf(t, oaTicketLogin(t, e, wechatsim.OAuthPerson{OpenID: "oa-lone", Nickname: "risky but unchecked"}))
		if lone.User["nickname"] != "risky but unchecked" || len(e.WeChat.TextChecks()) != before {
			t.Fatalf("unknown to the mini program: %v, %d checks", lone.User, len(e.WeChat.TextChecks())-before)
		}
		if items := reviewItems(t, e, lone.UserID()); len(items) != 1 || items[0].Reason != "unavailable" {
			t.Fatalf("unchecked nickname not listed: %+v", items)
		}

	})
}

// Failing closed: a check WeChat cannot answer refuses the login (502),
// as for a mini program login; a person with no mini program identity
// signs in without WeChat's nickname.
func TestOALoginNicknameContentCheckFailClosed(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		e := startDoors(t, b.URL(t), contentEnv(map[string]string{"MINIAUTH_CONTENT_CHECK_FAIL": "closed"}))
		lone := grantOf(t, oaTicketLogin(t, e, wechatsim.OAuthPerson{OpenID: "oa-closed", Nickname: "Dora"}))
		if lone.User["nickname"] != "" || len(reviewItems(t, e, lone.UserID())) != 0 {
			t.Fatalf("unchecked nickname stored: %v", lone.User)
		}

		e.LoginWith(t, map[string]any{"code": e.WeChat.NewCode(wechatsim.Identity{OpenID: "mp-closed", UnionID: "u-closed"})})
		e.WeChat.Fail(wechatsim.PathMsgSecCheck, wechatsim.Failure{ErrCode: -1})
		r := mobileLogin(t, e, wechatsim.OAuthPerson{OpenID: "app-closed", UnionID: "u-closed", Nickname: "Eve"})
		apptest.Expect(t, r, http.StatusBadGateway, "wechat_unavailable")
		if identityCount(t, e, mobileAppID, "app-closed") != 0 {
			t.Fatal("a refused login stored its identity")
		}
	})
}

// PUT /api/me from an Official Account or app session checks the new
// nickname like a mini program session's, with the user's mini program
// openid (before, it answered 401: the session's app is no mini program).
func TestOASessionProfileUpdateContentCheck(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		e := startDoors(t, b.URL(t), contentEnv(nil))
		e.LoginWith(t, map[string]any{"code": e.WeChat.NewCode(wechatsim.Identity{OpenID: "mp-put", UnionID: "u-put"})})
		g := grantOf(t, mobileLogin(t, e, wechatsim.OAuthPerson{OpenID: "app-put", UnionID: "u-put"}))
		before := len(e.WeChat.TextChecks())
		r := e.Do(t, apptest.Request{Method: "PUT", Path: "/api/me", Token: g.AccessToken, Body: map[string]any{"nickname": "risky one"}})
		apptest.Expect(t, r, http.StatusUnprocessableEntity, "content_rejected")
		if calls := e.WeChat.TextChecks()[before:]; len(calls) != 1 || calls[0].AppID != apptest.AppID || calls[0].OpenID != "mp-put" {
			t.Fatalf("msgSecCheck calls: %+v, want one with the mini program's appid and openid", calls)
		}
		r = e.Do(t, apptest.Request{Method: "PUT", Path: "/api/me", Token: g.AccessToken, Body: map[string]any{"nickname": "Frank"}})
		if r.Status != http.StatusOK || r.JSON(t)["nickname"] != "Frank" {
			t.Fatalf("PUT a passing nickname from an app session: %d %s", r.Status, r.Body)
		}
		// Known only to the app: stored and listed for review.
		lone := grantOf(t, mobileLogin(t, e, wechatsim.OAuthPerson{OpenID: "app-put-lone"}))
		r = e.Do(t, apptest.Request{Method: "PUT", Path: "/api/me", Token: lone.AccessToken, Body: map[string]any{"nickname": "Gina"}})
		if r.Status != http.StatusOK || r.JSON(t)["nickname"] != "Gina" {
			t.Fatalf("PUT from a session with no mini program identity: %d %s", r.Status, r.Body)
		}
		if items := reviewItems(t, e, lone.UserID()); len(items) != 1 || items[0].Reason != "unavailable" || items[0].Content != "Gina" {
			t.Fatalf("review items: %+v", items)
		}
	})
}

// A web session (a browser signed in by scanning a mini program code)
// checks a new nickname with the user's mini program openid too (before,
// it answered 400: a web session belongs to no mini program).
func TestWebSessionProfileUpdateContentCheck(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		env := startOn(t, b, contentEnv(nil))
		web := signInOnWeb(t, env, env.Login(t, "o_web_put"))
		before := len(env.WeChat.TextChecks())
		r := env.Do(t, apptest.Request{Method: "PATCH", Path: "/api/me", Token: web.AccessToken, Body: map[string]any{"nickname": "risky web"}})
		apptest.Expect(t, r, http.StatusUnprocessableEntity, "content_rejected")
		if calls := env.WeChat.TextChecks()[before:]; len(calls) != 1 || calls[0].OpenID != "o_web_put" {
			t.Fatalf("msgSecCheck calls: %+v, want one with the user's mini program openid", calls)
		}
		r = env.Do(t, apptest.Request{Method: "PATCH", Path: "/api/me", Token: web.AccessToken, Body: map[string]any{"nickname": "Hana"}})
		if r.Status != http.StatusOK || r.JSON(t)["nickname"] != "Hana" {
			t.Fatalf("PATCH from a web session: %d %s", r.Status, r.Body)
		}
	})
}
