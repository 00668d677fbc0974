package app_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/miniauth/miniauth/app/apptest"
	"github.com/miniauth/miniauth/app/wechatsim"
	"github.com/miniauth/miniauth/ent"
	"github.com/miniauth/miniauth/ent/user"
)

// scrape is the server's metrics text (the server must have been
// started with MINIAUTH_METRICS_ADDR).
func scrape(t *testing.T, env *apptest.Env) string {
	t.Helper()
	if env.Server.Metrics == nil {
		t.Fatal("metrics are off: set MINIAUTH_METRICS_ADDR")
	}
	rec := httptest.NewRecorder()
	env.Server.Metrics.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	return rec.Body.String()
}

func userByOpenID(t *testing.T, env *apptest.Env, openid string) *ent.User {
	t.Helper()
	u, err := env.Server.DB.Read.User.Query().Where(user.Openid(openid)).Only(context.Background())
	if err != nil {
		t.Fatalf("user %s: %v", openid, err)
	}
	return u
}

var riskEnv = map[string]string{"MINIAUTH_RISK_MAX_RANK": "2", "MINIAUTH_METRICS_ADDR": "127.0.0.1:0"}

// TestSignUpRiskGate: with MINIAUTH_RISK_MAX_RANK=2, a login that would
// create a user asks getUserRiskRank (scene 0, the client IP) first: rank
// 3 is refused with nothing written, ranks 2 and 1 sign up and keep their
// rank, by code login and by phone login; a returning user is not asked;
// WeChat unavailable lets the user in, flagged.
func TestSignUpRiskGate(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		env := startOn(t, b, riskEnv)
		sim := env.WeChat
		sim.SetRiskRank("o_above", 3)
		sim.SetRiskRank("o_at", 2)
		sim.SetRiskRank("o_below", 1)
		sim.SetRiskRank("o_phone_above", 4)
		sim.SetRiskRank("o_phone_at", 2)
		login := func(openid string) *apptest.Response {
			return env.Do(t, apptest.Request{Method: "POST", Path: "/api/auth/login",
				Body: map[string]any{"code": sim.NewCode(wechatsim.Identity{OpenID: openid}), "nickname": "n"}})
		}
		phoneLogin := func(openid, phone string) *apptest.Response {
			return env.Do(t, apptest.Request{Method: "POST", Path: "/api/auth/phone-login", Body: map[string]any{
				"code":       sim.NewCode(wechatsim.Identity{OpenID: openid}),
				"phone_code": sim.NewPhoneCodeFor(openid, phone, "86"),
			}})
		}

		before := counts(t, env)
		apptest.Expect(t, login("o_above"), http.StatusForbidden, "risk_rejected")
		phoneCalls := sim.Calls(wechatsim.PathPhoneNumber)
		apptest.Expect(t, phoneLogin("o_phone_above", "13700000001"), http.StatusForbidden, "risk_rejected")
		if after := counts(t, env); after != before {
			t.Fatalf("refused sign-ups wrote rows: before %v, after %v", before, after)
		}
		if n := sim.Calls(wechatsim.PathPhoneNumber); n != phoneCalls {
			t.Error("a refused phone sign-up redeemed its phone code")
		}
		calls := sim.RiskCalls()
		if len(calls) != 2 {
			t.Fatalf("risk calls: %+v", calls)
		}
		for _, c := range calls {
			if c.Scene != 0 || c.ClientIP != "127.0.0.1" || c.AppID != apptest.AppID {
				t.Errorf("risk call %+v: want scene 0, the client IP and our app", c)
			}
		}
		if calls[0].OpenID != "o_above" || calls[1].OpenID != "o_phone_above" {
			t.Errorf("risk calls asked about %q and %q", calls[0].OpenID, calls[1].OpenID)
		}

		for openid, rank := range map[string]int{"o_at": 2, "o_below": 1} {
			if g := grantOf(t, login(openid)); !g.IsNewUser {
				t.Fatalf("%s: not a new user", openid)
			}
			if u := userByOpenID(t, env, openid); u.RiskRank == nil || *u.RiskRank != rank || u.RiskFlagged {
				t.Errorf("%s stored rank %v flagged %v, want %d", openid, u.RiskRank, u.RiskFlagged, rank)
			}
		}
		g := grantOf(t, phoneLogin("o_phone_at", "13700000002"))
		if !g.IsNewUser || g.User["phone"] != "13700000002" {
			t.Fatalf("phone sign-up at the limit: %+v", g)
		}
		if u := userByOpenID(t, env, "o_phone_at"); u.RiskRank == nil || *u.RiskRank != 2 {
			t.Errorf("phone sign-up stored rank %v", u.RiskRank)
		}

		// Returning users are not asked, however risky they became.
		sim.SetRiskRank("o_at", 4)
		asked := len(sim.RiskCalls())
		if g := grantOf(t, login("o_at")); g.IsNewUser {
			t.Fatal("returning login made a new user")
		}
		grantOf(t, phoneLogin("o_phone_at", "13700000002"))
		if n := len(sim.RiskCalls()); n != asked {
			t.Errorf("returning logins asked getUserRiskRank %d times", n-asked)
		}

		// WeChat cannot say: the user is let in and flagged.
		sim.Fail(wechatsim.PathRiskRank, wechatsim.Failure{ErrCode: 61080})
		grantOf(t, login("o_unrated"))
		if u := userByOpenID(t, env, "o_unrated"); u.RiskRank != nil || !u.RiskFlagged {
			t.Errorf("unrated user: rank %v flagged %v, want no rank, flagged", u.RiskRank, u.RiskFlagged)
		}

		text := scrape(t, env)
		for _, want := range []string{
			`miniauth_signup_risk_total{appid="` + apptest.AppID + `",outcome="rejected",rank="3"} 1`,
			`miniauth_signup_risk_total{appid="` + apptest.AppID + `",outcome="rejected",rank="4"} 1`,
			`miniauth_signup_risk_total{appid="` + apptest.AppID + `",outcome="allowed",rank="2"} 2`,
			`miniauth_signup_risk_total{appid="` + apptest.AppID + `",outcome="unknown",rank=""} 1`,
			`miniauth_logins_total{outcome="risk_rejected"} 1`, // code login only
		} {
			if !strings.Contains(text, want) {
				t.Errorf("metrics lack %s", want)
			}
		}
		if n := strings.Count(env.Logs.String(), "sign-up refused: risk rank above the limit"); n != 2 {
			t.Errorf("%d log lines for refused sign-ups, want 2", n)
		}
	})
}

// TestRiskGateOffAsksNothing: without MINIAUTH_RISK_MAX_RANK WeChat's
// risk API is never called and users carry no rank.
func TestRiskGateOffAsksNothing(t *testing.T) {
	t.Parallel()
	env := startOn(t, sqliteOnly, nil)
	env.WeChat.SetRiskRank("o_risky", 4)
	env.Login(t, "o_risky")
	if n := env.WeChat.Calls(wechatsim.PathRiskRank); n != 0 {
		t.Fatalf("getuserriskrank called %d times with the gate off", n)
	}
	if u := userByOpenID(t, env, "o_risky"); u.RiskRank != nil || u.RiskFlagged {
		t.Fatalf("rank %v flagged %v", u.RiskRank, u.RiskFlagged)
	}
}

// TestRiskGateFlood: many first logins at once, half above the limit:
// exactly the others sign up, the refused leave nothing.
func TestRiskGateFlood(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		env := startOn(t, b, riskEnv)
		const n = 100
		codes := make([]string, n)
		for i := range codes {
			openid := fmt.Sprintf("o_flood_%d", i)
			if i%2 == 0 {
				env.WeChat.SetRiskRank(openid, 3)
			}
			codes[i] = env.WeChat.NewCode(wechatsim.Identity{OpenID: openid})
		}
		results := make([]string, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				status, body, err := post(env, "/api/auth/login", map[string]any{"code": codes[i]})
				results[i] = fmt.Sprintf("%d %s %v", status, errorCodeOf(body), err)
			})
		}
		wg.Wait()
		for i, r := range results {
			want := "200  <nil>"
			if i%2 == 0 {
				want = "403 risk_rejected <nil>"
			}
			if r != want {
				t.Errorf("login %d: %s, want %s", i, r, want)
			}
		}
		if got := userCount(t, env); got != n/2 {
			t.Errorf("%d users, want %d", got, n/2)
		}
		if c := counts(t, env); c[1] != n/2 || c[2] != n/2 {
			t.Errorf("identities and sessions %v, want %d each", c, n/2)
		}
	})
}

// TestRiskGateSparesUnionIDJoin: an identity from a second mini program
// joining an existing user by unionid is a returning person, not a
// sign-up: not asked.
func TestRiskGateSparesUnionIDJoin(t *testing.T) {
	t.Parallel()
	env := startTwoAppsWith(t, sqliteOnly, riskEnv)
	first := appLogin(t, env, apptest.AppID, "o_union_a", "u_union")
	env.WeChat.SetRiskRank("o_union_b", 4)
	asked := len(env.WeChat.RiskCalls())
	second := appLogin(t, env, appB, "o_union_b", "u_union")
	if second.UserID() != first.UserID() {
		t.Fatalf("unionid join made user %d, want %d", second.UserID(), first.UserID())
	}
	if n := len(env.WeChat.RiskCalls()); n != asked {
		t.Errorf("a unionid join asked getUserRiskRank")
	}
}

// startTwoAppsWith is startTwoApps with extra settings.
func startTwoAppsWith(t *testing.T, b apptest.Backend, extra map[string]string) *apptest.Env {
	t.Helper()
	wx := apptest.NewWeChat(t)
	wx.AddApp(appB, secretB)
	vars := map[string]string{
		"MINIAUTH_WECHAT_APPID":  "",
		"MINIAUTH_WECHAT_SECRET": "",
		"MINIAUTH_WECHAT_APPS":   apptest.AppID + ":" + apptest.Secret + "," + appB + ":" + secretB,
	}
	for k, v := range extra {
		vars[k] = v
	}
	return start(t, apptest.Options{DatabaseURL: b.URL(t), WeChat: wx, Env: vars})
}
