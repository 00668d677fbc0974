package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/miniauth/miniauth/app/apptest"
	"github.com/miniauth/miniauth/app/avatars/avatartest"
	"github.com/miniauth/miniauth/app/tokens"
	"github.com/miniauth/miniauth/app/tokens/tokentest"
	"github.com/miniauth/miniauth/app/wechatsim"
	"github.com/miniauth/miniauth/ent"
	"github.com/miniauth/miniauth/ent/identity"
	"github.com/miniauth/miniauth/ent/session"
	"github.com/miniauth/miniauth/ent/user"
)

// A second mini program for the several-apps tests.
const (
	appB    = "wxbbbbbbbbbbbbbbbb"
	secretB = "test-app-secret-of-the-second-app"
)

// startTwoApps runs miniauth with MINIAUTH_WECHAT_APPS naming apptest's
// app and appB, both served by one simulated WeChat.
func startTwoApps(t *testing.T, b apptest.Backend) *apptest.Env {
	t.Helper()
	wx := apptest.NewWeChat(t)
	wx.AddApp(appB, secretB)
	return start(t, apptest.Options{DatabaseURL: b.URL(t), WeChat: wx, Env: map[string]string{
		"MINIAUTH_WECHAT_APPID":  "",
		"MINIAUTH_WECHAT_SECRET": "",
		"MINIAUTH_WECHAT_APPS":   apptest.AppID + ":" + apptest.Secret + "," + appB + ":" + secretB,
	}})
}

// appLogin logs an identity in through app appID.
func appLogin(t *testing.T, env *apptest.Env, appID, openid, unionid string) *apptest.Grant {
	t.Helper()
	code := env.WeChat.NewCode(wechatsim.Identity{OpenID: openid, UnionID: unionid, AppID: appID})
	return env.LoginWith(t, map[string]any{"code": code, "appid": appID})
}

func identitiesOf(t *testing.T, env *apptest.Env, userID int) []*ent.Identity {
	t.Helper()
	ids, err := env.Server.DB.Read.Identity.Query().Where(identity.UserID(userID)).Order(ent.Asc(identity.FieldID)).All(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func TestTwoAppsSharingUnionIDAreOneUser(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		env := startTwoApps(t, b)
		a := appLogin(t, env, apptest.AppID, "o_shop", "u_alice")
		bb := appLogin(t, env, appB, "o_companion", "u_alice")
		if !a.IsNewUser || bb.IsNewUser {
			t.Errorf("is_new_user: first app %v, second app %v; want true, false", a.IsNewUser, bb.IsNewUser)
		}
		if a.UserID() != bb.UserID() {
			t.Fatalf("same unionid from two apps gave users %d and %d", a.UserID(), bb.UserID())
		}
		ids := identitiesOf(t, env, a.UserID())
		if len(ids) != 2 || ids[0].Appid != apptest.AppID || ids[1].Appid != appB || ids[1].Openid != "o_companion" {
			t.Fatalf("identities: %+v", ids)
		}
		// Each token records its app, and the session does too.
		for i, g := range []*apptest.Grant{a, bb} {
			if r := me(t, env, g.AccessToken); r.Status != http.StatusOK {
				t.Fatalf("me: %d %s", r.Status, r.Body)
			}
			claims, err := tokentest.Parse(g.AccessToken, tokens.Access, env.Server.Keys.UserToken)
			if want := []string{apptest.AppID, appB}[i]; err != nil || claims.App != want {
				t.Errorf("token app claim: %v %q, want %q", err, claims.App, want)
			}
		}
		sessions, err := env.Server.DB.Read.Session.Query().Where(session.UserID(a.UserID())).Order(ent.Asc(session.FieldID)).All(context.Background())
		if err != nil || len(sessions) != 2 || sessions[0].Appid != apptest.AppID || sessions[1].Appid != appB {
			t.Fatalf("sessions: %v %+v", err, sessions)
		}
		if userCount(t, env) != 1 {
			t.Errorf("%d users, want 1", userCount(t, env))
		}
	})
}

func TestTwoAppsWithoutUnionIDAreTwoUsers(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		env := startTwoApps(t, b)
		a := appLogin(t, env, apptest.AppID, "o_shop_nounion", "")
		bb := appLogin(t, env, appB, "o_companion_nounion", "")
		if a.UserID() == bb.UserID() || !a.IsNewUser || !bb.IsNewUser {
			t.Fatalf("without a unionid two apps must be two new users: %d %v, %d %v", a.UserID(), a.IsNewUser, bb.UserID(), bb.IsNewUser)
		}
		// The same openid under another app id is another identity.
		c := appLogin(t, env, appB, "o_shop_nounion", "")
		if c.UserID() == a.UserID() {
			t.Error("an openid of one app must not log in the user of another app's equal openid")
		}
	})
}

func TestUnionIDArrivingLaterAttaches(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		env := startTwoApps(t, b)
		first := appLogin(t, env, apptest.AppID, "o_later", "")
		again := appLogin(t, env, apptest.AppID, "o_later", "u_later")
		if again.UserID() != first.UserID() || again.IsNewUser {
			t.Fatalf("the returning identity must stay its user: %d vs %d", again.UserID(), first.UserID())
		}
		u, err := env.Server.DB.Read.User.Get(context.Background(), first.UserID())
		if err != nil || u.Unionid == nil || *u.Unionid != "u_later" {
			t.Fatalf("user unionid after a later login: %v %v", err, u.Unionid)
		}
		// The other app now finds the user by that unionid.
		other := appLogin(t, env, appB, "o_later_b", "u_later")
		if other.UserID() != first.UserID() {
			t.Errorf("second app gave user %d, want %d", other.UserID(), first.UserID())
		}
		if ids := identitiesOf(t, env, first.UserID()); len(ids) != 2 || ids[0].Unionid == nil || *ids[0].Unionid != "u_later" {
			t.Errorf("identities: %+v", ids)
		}
	})
}

func TestConflictingUnionIDIsRecordedNotMerged(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		env := startTwoApps(t, b)
		one := appLogin(t, env, apptest.AppID, "o_conflict_a", "")
		two := appLogin(t, env, appB, "o_conflict_b", "u_conflict")
		if one.UserID() == two.UserID() {
			t.Fatal("setup: two users expected")
		}
		// The first identity now brings the unionid the second user has.
		for range 2 {
			g := appLogin(t, env, apptest.AppID, "o_conflict_a", "u_conflict")
			if g.UserID() != one.UserID() {
				t.Fatalf("conflicting login went to user %d, want the identity's own user %d", g.UserID(), one.UserID())
			}
		}
		ctx := context.Background()
		conflicts, err := env.Server.DB.Read.IdentityConflict.Query().All(ctx)
		if err != nil || len(conflicts) != 1 {
			t.Fatalf("conflicts: %v %+v (want exactly one, however often the identity logs in)", err, conflicts)
		}
		c := conflicts[0]
		if c.UserID != one.UserID() || c.OtherUserID != two.UserID() || c.Unionid != "u_conflict" || c.Appid != apptest.AppID {
			t.Errorf("conflict: %+v", c)
		}
		u1, _ := env.Server.DB.Read.User.Get(ctx, one.UserID())
		u2, _ := env.Server.DB.Read.User.Get(ctx, two.UserID())
		if u1.Unionid != nil || u2.Unionid == nil || *u2.Unionid != "u_conflict" {
			t.Errorf("unionids changed: %v %v", u1.Unionid, u2.Unionid)
		}
		if len(identitiesOf(t, env, one.UserID())) != 1 || len(identitiesOf(t, env, two.UserID())) != 1 || userCount(t, env) != 2 {
			t.Error("a conflict must merge nothing")
		}
	})
}

func TestLoginAppIDValidation(t *testing.T) {
	t.Parallel()
	env := startTwoApps(t, sqliteOnly)
	code := env.WeChat.NewCode(wechatsim.Identity{OpenID: "o_appid_validation"})
	for _, c := range []struct {
		name string
		body map[string]any
	}{
		{"missing with several apps", map[string]any{"code": code}},
		{"unknown", map[string]any{"code": code, "appid": "wxunknown000000000"}},
		{"empty", map[string]any{"code": code, "appid": ""}},
		{"not an app id", map[string]any{"code": code, "appid": "wx<script>"}},
		{"wrong type", map[string]any{"code": code, "appid": 12}},
	} {
		for _, path := range []string{loginPath, "/api/auth/phone-login"} {
			body := c.body
			if path != loginPath {
				body = map[string]any{"phone_code": "p"}
				for k, v := range c.body {
					body[k] = v
				}
			}
			r := env.Do(t, apptest.Request{Method: "POST", Path: path, Body: body})
			apptest.Expect(t, r, http.StatusBadRequest, "validation_failed")
			if _, ok := errorFields(t, r)["appid"]; !ok {
				t.Errorf("%s %s: fields lack appid: %s", path, c.name, r.Body)
			}
		}
	}
	if n := env.WeChat.Calls(wechatsim.PathCode2Session); n != 0 {
		t.Errorf("WeChat was called %d times for invalid app ids", n)
	}
	// The same code still works once the app is named.
	g := env.LoginWith(t, map[string]any{"code": code, "appid": apptest.AppID})
	if !g.IsNewUser {
		t.Error("want a new user")
	}

	// With one app, appid may be left out, and must be that app if sent.
	one := start(t, apptest.Options{})
	g = one.LoginWith(t, map[string]any{"code": one.WeChat.NewCode(wechatsim.Identity{OpenID: "o_one"})})
	g2 := one.LoginWith(t, map[string]any{"code": one.WeChat.NewCode(wechatsim.Identity{OpenID: "o_one"}), "appid": apptest.AppID})
	if g.UserID() != g2.UserID() {
		t.Error("appid of the single app must be the same as none")
	}
	r := one.Do(t, apptest.Request{Method: "POST", Path: loginPath, Body: map[string]any{"code": "x", "appid": appB}})
	apptest.Expect(t, r, http.StatusBadRequest, "validation_failed")
}

// TestConcurrentFirstLoginsFromTwoApps fires the first logins of many
// people from both apps at once: each person must end up one user.
func TestConcurrentFirstLoginsFromTwoApps(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		env := startTwoApps(t, b)
		const people = 50
		type req struct {
			body   map[string]any
			person int
		}
		var reqs []req
		for p := range people {
			for _, app := range []string{apptest.AppID, appB} {
				code := env.WeChat.NewCode(wechatsim.Identity{OpenID: fmt.Sprintf("o_%s_%d", app, p), UnionID: fmt.Sprintf("u_race_%d", p), AppID: app})
				reqs = append(reqs, req{map[string]any{"code": code, "appid": app}, p})
			}
		}
		users := make([]int, len(reqs))
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i, r := range reqs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				status, body, err := post(env, loginPath, r.body)
				if err != nil || status != http.StatusOK {
					t.Errorf("login %d: %v %d %s", i, err, status, body)
					return
				}
				var g apptest.Grant
				if err := json.Unmarshal(body, &g); err != nil {
					t.Error(err)
					return
				}
				users[i] = g.UserID()
			}()
		}
		close(start)
		wg.Wait()
		if t.Failed() {
			return
		}
		for i := 0; i < len(reqs); i += 2 {
			if users[i] != users[i+1] {
				t.Errorf("person %d: apps gave users %d and %d", reqs[i].person, users[i], users[i+1])
			}
			if n := len(identitiesOf(t, env, users[i])); n != 2 {
				t.Errorf("person %d: %d identities, want 2", reqs[i].person, n)
			}
		}
		if n := userCount(t, env); n != people {
			t.Errorf("%d users, want %d", n, people)
		}
	})
}

// TestPhoneAndDecryptUseTheSessionsApp: a session opened from app B binds
// the phone with B's access token and B's openid.
func TestPhoneUsesTheSessionsApp(t *testing.T) {
	t.Parallel()
	env := startTwoApps(t, sqliteOnly)
	g := appLogin(t, env, appB, "o_phone_b", "")
	code := env.WeChat.NewPhoneCode("13800138000", "86")
	r := env.Do(t, apptest.Request{Method: "POST", Path: "/api/me/phone", Token: g.AccessToken, Body: map[string]any{"code": code}})
	if r.Status != http.StatusOK || r.JSON(t)["phone"] != "13800138000" {
		t.Fatalf("bind phone from app B: %d %s", r.Status, r.Body)
	}
	if got := env.WeChat.PhoneCodeOpenID(code); got != "o_phone_b" {
		t.Errorf("phone exchange carried openid %q, want app B's", got)
	}
	// The simulator watermarks with the app of the access token, and the
	// client accepts only its own app's watermark: a 200 means B's token.
}

func TestPhoneLogin(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		env := startOn(t, b, nil)
		const path = "/api/auth/phone-login"
		phoneLogin := func(openid, phone string) *apptest.Response {
			return env.Do(t, apptest.Request{Method: "POST", Path: path, Body: map[string]any{
				"code":       env.WeChat.NewCode(wechatsim.Identity{OpenID: openid}),
				"phone_code": env.WeChat.NewPhoneCode(phone, "86"),
			}})
		}
		// A new user signs up with the phone button.
		r := phoneLogin("o_phone_new", "13900000001")
		g := grantOf(t, r)
		if !g.IsNewUser || g.User["phone"] != "13900000001" {
			t.Fatalf("new phone login: %s", r.Body)
		}
		// Returning: the same user, phone kept.
		g2 := grantOf(t, phoneLogin("o_phone_new", "13900000001"))
		if g2.IsNewUser || g2.UserID() != g.UserID() || g2.User["phone"] != "13900000001" {
			t.Fatalf("returning phone login: %+v", g2)
		}
		if r := me(t, env, g2.AccessToken); r.Status != http.StatusOK {
			t.Fatalf("me: %d", r.Status)
		}

		// The phone of someone else: 409 and nothing written.
		ctx := context.Background()
		before := counts(t, env)
		r = phoneLogin("o_phone_other", "13900000001")
		apptest.Expect(t, r, http.StatusConflict, "account_conflict")
		if after := counts(t, env); after != before {
			t.Errorf("a refused phone login wrote rows: before %v, after %v", before, after)
		}
		if n, _ := env.Server.DB.Read.Identity.Query().Where(identity.Openid("o_phone_other")).Count(ctx); n != 0 {
			t.Error("identity written")
		}
		// A returning user whose new phone belongs to another: 409, and
		// their own phone is untouched.
		phoneLogin("o_phone_third", "13900000003")
		r = phoneLogin("o_phone_third", "13900000001")
		apptest.Expect(t, r, http.StatusConflict, "account_conflict")
		third, _ := env.Server.DB.Read.User.Query().Where(user.Openid("o_phone_third")).Only(ctx)
		if third.Phone != "13900000003" {
			t.Errorf("phone of the refused returning user: %q", third.Phone)
		}

		// A failed login never reaches getuserphonenumber (it is billed).
		calls := env.WeChat.Calls(wechatsim.PathPhoneNumber)
		r = env.Do(t, apptest.Request{Method: "POST", Path: path, Body: map[string]any{
			"code": "not-a-code", "phone_code": env.WeChat.NewPhoneCode("13900000009", "86")}})
		apptest.Expect(t, r, http.StatusUnauthorized, "invalid_code")
		if err := env.Server.Profiles.SetDisabled(ctx, g.UserID(), true); err != nil {
			t.Fatal(err)
		}
		apptest.Expect(t, phoneLogin("o_phone_new", "13900000001"), http.StatusForbidden, "user_disabled")
		if n := env.WeChat.Calls(wechatsim.PathPhoneNumber); n != calls {
			t.Errorf("getuserphonenumber called %d times after failed logins", n-calls)
		}
		// Missing phone_code: invalid_request before WeChat.
		c2s := env.WeChat.Calls(wechatsim.PathCode2Session)
		r = env.Do(t, apptest.Request{Method: "POST", Path: path, Body: map[string]any{"code": "x"}})
		apptest.Expect(t, r, http.StatusBadRequest, "invalid_request")
		if env.WeChat.Calls(wechatsim.PathCode2Session) != c2s {
			t.Error("WeChat called for a malformed phone login")
		}
	})
}

// counts is the number of users, identities and sessions.
func counts(t *testing.T, env *apptest.Env) [3]int {
	t.Helper()
	ctx := context.Background()
	u, err1 := env.Server.DB.Read.User.Query().Count(ctx)
	i, err2 := env.Server.DB.Read.Identity.Query().Count(ctx)
	s, err3 := env.Server.DB.Read.Session.Query().Count(ctx)
	for _, err := range []error{err1, err2, err3} {
		if err != nil {
			t.Fatal(err)
		}
	}
	return [3]int{u, i, s}
}

func TestReturningLoginFillsOnlyEmptyProfileFields(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		env := startOn(t, b, nil)
		id := wechatsim.Identity{OpenID: "o_keep_edits"}
		g := env.LoginWith(t, map[string]any{"code": env.WeChat.NewCode(id), "nickname": "微信用户"})
		r := env.Do(t, apptest.Request{Method: "PUT", Path: "/api/me", Token: g.AccessToken, Body: map[string]any{"nickname": "Alice"}})
		if r.Status != http.StatusOK {
			t.Fatalf("put: %d %s", r.Status, r.Body)
		}
		again := env.LoginWith(t, map[string]any{"code": env.WeChat.NewCode(id), "nickname": "微信用户",
			"avatar_url": "https://example.com/a.png", "gender": 1})
		if again.User["nickname"] != "Alice" {
			t.Errorf("a returning login overwrote the user's nickname: %v", again.User["nickname"])
		}
		if again.User["avatar_url"] != "https://example.com/a.png" || again.User["gender"] != float64(1) {
			t.Errorf("empty fields must be filled: %v", again.User)
		}
	})
}

// TestSimulatorServesAnyAppID: without credentials (development) a login
// may name any app id, and one code on two app ids is one person.
func TestSimulatorServesAnyAppID(t *testing.T) {
	t.Parallel()
	env := start(t, apptest.Options{Env: map[string]string{"MINIAUTH_WECHAT_APPID": "", "MINIAUTH_WECHAT_SECRET": ""}})
	a := env.LoginWith(t, map[string]any{"code": "alice"})
	b := env.LoginWith(t, map[string]any{"code": "alice", "appid": "wxcompanion0000000"})
	c := env.LoginWith(t, map[string]any{"code": "bob", "appid": "wxcompanion0000000"})
	if a.UserID() != b.UserID() || c.UserID() == a.UserID() || !c.IsNewUser {
		t.Fatalf("simulated apps: alice %d/%d, bob %d", a.UserID(), b.UserID(), c.UserID())
	}
	r := env.Do(t, apptest.Request{Method: "POST", Path: "/api/me/phone", Token: b.AccessToken, Body: map[string]any{"code": "any"}})
	if r.Status != http.StatusOK {
		t.Fatalf("simulated phone for another app id: %d %s", r.Status, r.Body)
	}
}

// TestConcurrentPhoneLoginsOneNumber: many people sign up with the same
// number at once; exactly one gets it, the rest get account_conflict and
// leave nothing behind.
func TestConcurrentPhoneLoginsOneNumber(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		env := startOn(t, b, nil)
		const n = 30
		bodies := make([]map[string]any, n)
		for i := range bodies {
			bodies[i] = map[string]any{
				"code":       env.WeChat.NewCode(wechatsim.Identity{OpenID: fmt.Sprintf("o_phone_race_%d", i)}),
				"phone_code": env.WeChat.NewPhoneCode("13500000000", "86"),
			}
		}
		statuses := make([]int, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range bodies {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				status, body, err := post(env, "/api/auth/phone-login", bodies[i])
				if err != nil {
					t.Error(err)
				}
				if status != http.StatusOK && status != http.StatusConflict {
					t.Errorf("status %d: %s", status, body)
				}
				statuses[i] = status
			}()
		}
		close(start)
		wg.Wait()
		ok := 0
		for _, s := range statuses {
			if s == http.StatusOK {
				ok++
			}
		}
		c := counts(t, env)
		if ok != 1 || c != [3]int{1, 1, 1} {
			t.Errorf("%d sign-ups got the number, rows (users, identities, sessions) = %v; want 1 and [1 1 1]", ok, c)
		}
		if n, _ := env.Server.DB.Read.User.Query().Where(user.Phone("13500000000")).Count(context.Background()); n != 1 {
			t.Errorf("%d users have the number", n)
		}
	})
}

// A user in a recorded unionid conflict logs in with a local avatar_url:
// the login is answered properly (their own upload is accepted, another
// user's refused as validation_failed), never a 500 for the two users
// the identity and the unionid name.
func TestConflictLoginWithLocalAvatar(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		env := startTwoApps(t, b)
		one := appLogin(t, env, apptest.AppID, "o_conflict_av_a", "")
		two := appLogin(t, env, appB, "o_conflict_av_b", "u_conflict_av")
		appLogin(t, env, apptest.AppID, "o_conflict_av_a", "u_conflict_av") // records the conflict
		mine := uploadAvatar(t, env, one.AccessToken, avatartest.PNG(t, 1))
		theirs := uploadAvatar(t, env, two.AccessToken, avatartest.PNG(t, 2))
		login := func(url string) *apptest.Response {
			code := env.WeChat.NewCode(wechatsim.Identity{OpenID: "o_conflict_av_a", UnionID: "u_conflict_av", AppID: apptest.AppID})
			return env.Do(t, apptest.Request{Method: "POST", Path: loginPath, Body: map[string]any{"code": code, "appid": apptest.AppID, "avatar_url": url}})
		}
		r := login(mine)
		if r.Status != http.StatusOK {
			t.Fatalf("conflict login with own avatar: %d %s", r.Status, r.Body)
		}
		if u, _ := r.JSON(t)["user"].(map[string]any); u["id"] != float64(one.UserID()) {
			t.Errorf("logged in as %v, want %d", u["id"], one.UserID())
		}
		apptest.Expect(t, login(theirs), http.StatusBadRequest, "validation_failed")
	})
}
