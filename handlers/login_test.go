package handlers_test

// POST /api/auth/login: new and returning users, the request's checks,
// WeChat's failures, disabled users.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miniauth/miniauth/app/apptest"
	"github.com/miniauth/miniauth/app/wechatsim"
	"github.com/miniauth/miniauth/ent/user"
)

func TestLoginNewThenReturningUser(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		env := startOn(t, b, nil)
		id := wechatsim.Identity{OpenID: "o_alice_openid_0001", UnionID: "u_alice_unionid_0001"}
		r := env.Do(t, apptest.Request{Method: "POST", Path: loginPath, Body: map[string]any{
			"code": env.WeChat.NewCode(id), "nickname": "  Alice 🌸  ", "avatar_url": "https://example.com/a.png", "gender": 2,
		}})
		secrets := []string{`"openid"`, `"unionid"`, `"session_key"`, id.OpenID, id.UnionID, env.WeChat.SessionKey(id.OpenID)}
		fragments(t, r.Body, []string{
			`"token_type":"Bearer"`, `"expires_in":7200`, `"is_new_user":true`, `"nickname":"Alice 🌸"`,
			`"avatar_url":"https://example.com/a.png"`, `"gender":2`, `"phone":""`, `"created_at":"`, `"updated_at":"`,
		}, secrets)
		if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("Cache-Control = %q, want no-store", cc)
		}
		first := grantOf(t, r)
		if len(first.RefreshToken) < 43 || strings.Count(first.AccessToken, ".") != 2 {
			t.Errorf("tokens look wrong: access %q, refresh of %d chars", first.AccessToken, len(first.RefreshToken))
		}
		if _, err := time.Parse(time.RFC3339, first.User["created_at"].(string)); err != nil {
			t.Errorf("created_at: %v", err)
		}

		// The same WeChat user again, without a profile: same id, profile kept.
		r = env.Do(t, apptest.Request{Method: "POST", Path: loginPath, Body: map[string]any{"code": env.WeChat.NewCode(id)}})
		fragments(t, r.Body, []string{`"is_new_user":false`, `"nickname":"Alice 🌸"`, `"gender":2`}, secrets)
		again := grantOf(t, r)
		if again.UserID() != first.UserID() {
			t.Fatalf("returning user got id %d, first login %d", again.UserID(), first.UserID())
		}
		if again.AccessToken == first.AccessToken || again.RefreshToken == first.RefreshToken {
			t.Error("a second login must open a new session with new tokens")
		}
		// A profile sent with a later login fills only empty fields: the
		// gender set at sign-up stays (changing it is PUT /api/me's job).
		g := env.LoginWith(t, map[string]any{"code": env.WeChat.NewCode(id), "gender": 1})
		if g.User["nickname"] != "Alice 🌸" || g.User["gender"] != float64(2) {
			t.Errorf("login profile update: %v", g.User)
		}
		// Both sessions are live, and /api/me leaks nothing either.
		for _, tok := range []string{first.AccessToken, again.AccessToken} {
			r := me(t, env, tok)
			if r.Status != http.StatusOK {
				t.Fatalf("me: %d %s", r.Status, r.Body)
			}
			fragments(t, r.Body, []string{fmt.Sprintf(`"id":%d`, first.UserID())}, secrets)
		}
		if n := userCount(t, env); n != 1 {
			t.Errorf("%d users, want 1", n)
		}
	})
}

// TestLoginRequestValidation sends bad requests carrying a valid code:
// each is refused before WeChat is called, so the code still works.
func TestLoginRequestValidation(t *testing.T) {
	t.Parallel()
	env := startOn(t, sqliteOnly, nil)
	code := env.WeChat.NewCode(wechatsim.Identity{OpenID: "o_validation"})
	with := func(kv ...any) map[string]any {
		m := map[string]any{"code": code}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	raw := func(format string) string { return fmt.Sprintf(format, code) }
	emoji := func(n int) string { return strings.Repeat("😀", n) }
	huge := `{"code":"` + strings.Repeat("a", 1<<20) + `"}`
	bomb := gzipped(t, []byte(`{"code":"`+strings.Repeat("0", 2<<20)+`"}`))
	gz := map[string]string{"Content-Encoding": "gzip"}

	cases := []struct {
		name   string
		body   any
		header map[string]string
		noType bool
		status int
		code   string
		field  string // validation_failed names this field
	}{
		{name: "malformed JSON", body: `{"code":`, status: 400, code: "invalid_request"},
		{name: "form body", body: "code=abc", header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, status: 400, code: "invalid_request"},
		{name: "JSON as text/plain", body: with(), header: map[string]string{"Content-Type": "text/plain"}, status: 400, code: "invalid_request"},
		{name: "no content type", body: with(), noType: true, status: 400, code: "invalid_request"},
		{name: "empty body", body: "", status: 400, code: "invalid_request"},
		{name: "JSON null", body: "null", status: 400, code: "invalid_request"},
		{name: "JSON array", body: raw(`[{"code":%q}]`), status: 400, code: "invalid_request"},
		{name: "JSON string", body: `"code"`, status: 400, code: "invalid_request"},
		{name: "two objects", body: raw(`{"code":%q}{}`), status: 400, code: "invalid_request"},
		{name: "trailing garbage", body: raw(`{"code":%q} x`), status: 400, code: "invalid_request"},
		{name: "unknown field", body: with("openid", "o_validation"), status: 400, code: "invalid_request"},
		{name: "unknown null field", body: with("phone", nil), status: 400, code: "invalid_request"},
		{name: "missing code", body: map[string]any{"nickname": "x"}, status: 400, code: "invalid_request"},
		{name: "null code", body: map[string]any{"code": nil}, status: 400, code: "validation_failed", field: "code"},
		{name: "numeric code", body: map[string]any{"code": 12345}, status: 400, code: "validation_failed", field: "code"},
		{name: "empty code", body: map[string]any{"code": ""}, status: 400, code: "validation_failed", field: "code"},
		{name: "overlong code", body: map[string]any{"code": strings.Repeat("c", 513)}, status: 400, code: "validation_failed", field: "code"},
		{name: "null nickname", body: with("nickname", nil), status: 400, code: "validation_failed", field: "nickname"},
		{name: "65 emoji nickname", body: with("nickname", emoji(65)), status: 400, code: "validation_failed", field: "nickname"},
		{name: "65 CJK nickname", body: with("nickname", strings.Repeat("微", 65)), status: 400, code: "validation_failed", field: "nickname"},
		{name: "blank nickname", body: with("nickname", " \t "), status: 400, code: "validation_failed", field: "nickname"},
		{name: "NUL in nickname", body: with("nickname", "a\x00b"), status: 400, code: "validation_failed", field: "nickname"},
		{name: "newline in nickname", body: with("nickname", "a\nb"), status: 400, code: "validation_failed", field: "nickname"},
		{name: "DEL in nickname", body: with("nickname", "a\x7fb"), status: 400, code: "validation_failed", field: "nickname"},
		{name: "C1 control in nickname", body: with("nickname", "a\u0085b"), status: 400, code: "validation_failed", field: "nickname"},
		{name: "RTL override in nickname", body: with("nickname", "evil\u202Egnp.exe"), status: 400, code: "validation_failed", field: "nickname"},
		{name: "numeric nickname", body: with("nickname", 42), status: 400, code: "validation_failed", field: "nickname"},
		{name: "gender 3", body: with("gender", 3), status: 400, code: "validation_failed", field: "gender"},
		{name: "gender -1", body: with("gender", -1), status: 400, code: "validation_failed", field: "gender"},
		{name: "gender huge", body: raw(`{"code":%q,"gender":1e30}`), status: 400, code: "validation_failed", field: "gender"},
		{name: "gender as string", body: with("gender", "1"), status: 400, code: "validation_failed", field: "gender"},
		{name: "gender fraction", body: with("gender", 1.5), status: 400, code: "validation_failed", field: "gender"},
		{name: "gender bool", body: with("gender", true), status: 400, code: "validation_failed", field: "gender"},
		{name: "gender null", body: with("gender", nil), status: 400, code: "validation_failed", field: "gender"},
		{name: "avatar http", body: with("avatar_url", "http://example.com/a.png"), status: 400, code: "validation_failed", field: "avatar_url"},
		{name: "avatar javascript", body: with("avatar_url", "javascript:alert(1)"), status: 400, code: "validation_failed", field: "avatar_url"},
		{name: "avatar relative", body: with("avatar_url", "a.png"), status: 400, code: "validation_failed", field: "avatar_url"},
		{name: "avatar scheme-relative", body: with("avatar_url", "//evil.example/a.png"), status: 400, code: "validation_failed", field: "avatar_url"},
		{name: "avatar with credentials", body: with("avatar_url", "https://u:p@example.com/a.png"), status: 400, code: "validation_failed", field: "avatar_url"},
		{name: "avatar path traversal", body: with("avatar_url", "/uploads/../jwt_secret"), status: 400, code: "validation_failed", field: "avatar_url"},
		{name: "avatar other local path", body: with("avatar_url", "/admin/users"), status: 400, code: "validation_failed", field: "avatar_url"},
		{name: "avatar percent-encoded dot segments", body: with("avatar_url", "/uploads/%2e%2e/admin/users.csv"), status: 400, code: "validation_failed", field: "avatar_url"},
		{name: "avatar with query", body: with("avatar_url", "/uploads/avatars/a.png?x=1"), status: 400, code: "validation_failed", field: "avatar_url"},
		{name: "avatar 1025 chars", body: with("avatar_url", "https://example.com/"+strings.Repeat("a", 1025-20)), status: 400, code: "validation_failed", field: "avatar_url"},
		{name: "avatar number", body: with("avatar_url", 7), status: 400, code: "validation_failed", field: "avatar_url"},
		{name: "body over 1 MiB", body: huge, status: 413, code: "request_too_large"},
		{name: "gzip inflating past 1 MiB", body: bomb, header: gz, status: 413, code: "request_too_large"},
		{name: "not gzip", body: with(), header: gz, status: 400, code: "invalid_request"},
		{name: "unsupported encoding", body: with(), header: map[string]string{"Content-Encoding": "br"}, status: 400, code: "invalid_request"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			body := c.body
			if s, ok := body.(string); ok {
				body = []byte(s)
			}
			r := env.Do(t, apptest.Request{Method: "POST", Path: loginPath, Body: body, Header: c.header, NoType: c.noType})
			apptest.Expect(t, r, c.status, c.code)
			if c.field != "" {
				if f := errorFields(t, r); f[c.field] == "" {
					t.Errorf("fields %v do not name %q", f, c.field)
				}
			}
			fragments(t, r.Body, nil, []string{code, "access_token"})
		})
	}
	t.Run("every bad field named at once", func(t *testing.T) {
		r := env.Do(t, apptest.Request{Method: "POST", Path: loginPath, Body: with("nickname", "", "gender", 9, "avatar_url", "http://x")})
		apptest.Expect(t, r, 400, "validation_failed")
		if f := errorFields(t, r); len(f) != 3 {
			t.Errorf("fields = %v, want nickname, gender and avatar_url", f)
		}
	})
	if n := env.WeChat.Calls(wechatsim.PathCode2Session); n != 0 {
		t.Fatalf("WeChat was called %d times for requests refused before it", n)
	}
	if n := userCount(t, env); n != 0 {
		t.Fatalf("%d users written by refused requests", n)
	}
	// The code was never spent.
	env.LoginWith(t, map[string]any{"code": code, "nickname": "ok"})
	if n := env.WeChat.Calls(wechatsim.PathCode2Session); n != 1 {
		t.Fatalf("WeChat calls = %d, want 1", n)
	}
}

// TestLoginProfileAccepted covers the edges of the profile rules that are
// valid, including lengths counted in characters rather than bytes.
func TestLoginProfileAccepted(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		env := startOn(t, b, nil)
		family := "👨\u200d👩\u200d👧\u200d👦" // 7 characters joined by ZWJ
		cases := []struct {
			name    string
			profile map[string]any
			gzip    bool
			ctype   string
			want    map[string]any
		}{
			{name: "64 emoji", profile: map[string]any{"nickname": strings.Repeat("😀", 64)}, want: map[string]any{"nickname": strings.Repeat("😀", 64)}},
			{name: "64 CJK", profile: map[string]any{"nickname": strings.Repeat("微", 64)}, want: map[string]any{"nickname": strings.Repeat("微", 64)}},
			{name: "ZWJ emoji sequences", profile: map[string]any{"nickname": strings.Repeat(family, 9)}, want: map[string]any{"nickname": strings.Repeat(family, 9)}},
			{name: "nickname trimmed", profile: map[string]any{"nickname": "  Bob  "}, want: map[string]any{"nickname": "Bob"}},
			{name: "https avatar", profile: map[string]any{"avatar_url": "https://thirdwx.qlogo.cn/mmopen/vi_32/x/132"}, want: map[string]any{"avatar_url": "https://thirdwx.qlogo.cn/mmopen/vi_32/x/132"}},
			{name: "1024 char avatar", profile: map[string]any{"avatar_url": "https://example.com/" + strings.Repeat("a", 1004)}, want: map[string]any{"avatar_url": "https://example.com/" + strings.Repeat("a", 1004)}},
			{name: "gender 0", profile: map[string]any{"gender": 0}, want: map[string]any{"gender": float64(0)}},
			{name: "gender 1", profile: map[string]any{"gender": 1}, want: map[string]any{"gender": float64(1)}},
			{name: "gender 2", profile: map[string]any{"gender": 2}, want: map[string]any{"gender": float64(2)}},
			{name: "small gzip body", profile: map[string]any{"nickname": "zipped"}, gzip: true, want: map[string]any{"nickname": "zipped"}},
			{name: "charset parameter", profile: map[string]any{"nickname": "cs"}, ctype: "application/json; charset=utf-8", want: map[string]any{"nickname": "cs"}},
		}
		for i, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				body := map[string]any{"code": env.WeChat.NewCode(wechatsim.Identity{OpenID: fmt.Sprintf("o_profile_%d", i)})}
				for k, v := range c.profile {
					body[k] = v
				}
				j, _ := json.Marshal(body)
				req := apptest.Request{Method: "POST", Path: loginPath, Body: j, Header: map[string]string{}}
				if c.gzip {
					req.Body = gzipped(t, j)
					req.Header["Content-Encoding"] = "gzip"
				}
				if c.ctype != "" {
					req.Header["Content-Type"] = c.ctype
				}
				g := grantOf(t, env.Do(t, req))
				for k, v := range c.want {
					if g.User[k] != v {
						t.Errorf("%s = %v, want %v", k, g.User[k], v)
					}
				}
				// What login stored is what /api/me reads back.
				var u map[string]any
				json.Unmarshal(me(t, env, g.AccessToken).Body, &u)
				for k, v := range c.want {
					if u[k] != v {
						t.Errorf("stored %s = %v, want %v", k, u[k], v)
					}
				}
			})
		}
	})
}

// TestLoginWeChatFailures drives every WeChat failure through the login
// endpoint. Each is called exactly once (codes are single-use: no retry)
// and writes nothing.
func TestLoginWeChatFailures(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		failure    *wechatsim.Failure // nil: an unknown code, refused by the simulator itself
		status     int
		code       string
		retryAfter bool
	}{
		{name: "unknown code", status: 401, code: "invalid_code"},
		{name: "errcode 40029", failure: &wechatsim.Failure{ErrCode: 40029}, status: 401, code: "invalid_code"},
		{name: "errcode 40163", failure: &wechatsim.Failure{ErrCode: 40163}, status: 401, code: "invalid_code"},
		{name: "errcode -1", failure: &wechatsim.Failure{ErrCode: -1}, status: 502, code: "wechat_unavailable"},
		{name: "errcode 45011", failure: &wechatsim.Failure{ErrCode: 45011}, status: 429, code: "rate_limited", retryAfter: true},
		{name: "errcode 40226", failure: &wechatsim.Failure{ErrCode: 40226}, status: 403, code: "login_blocked"},
		{name: "errcode 40125 bad secret", failure: &wechatsim.Failure{ErrCode: 40125}, status: 502, code: "wechat_unavailable"},
		{name: "HTTP 500", failure: &wechatsim.Failure{Status: 500, Body: "Internal Server Error"}, status: 502, code: "wechat_unavailable"},
		{name: "HTTP 503 empty", failure: &wechatsim.Failure{Status: 503}, status: 502, code: "wechat_unavailable"},
		{name: "garbage", failure: &wechatsim.Failure{Body: "<html>not json</html>"}, status: 502, code: "wechat_unavailable"},
		{name: "slower than the deadline", failure: &wechatsim.Failure{Delay: 3 * time.Second}, status: 502, code: "wechat_unavailable"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var vars map[string]string
			if c.failure != nil && c.failure.Delay > 0 {
				// A short deadline, so the test does not wait out 5 s.
				vars = map[string]string{"MINIAUTH_WECHAT_TIMEOUT": "500ms"}
			}
			env := startOn(t, sqliteOnly, vars)
			code := "never-issued-code"
			if c.failure != nil {
				code = env.WeChat.NewCode(wechatsim.Identity{OpenID: "o_failure"})
				env.WeChat.Fail(wechatsim.PathCode2Session, *c.failure)
			}
			start := time.Now()
			r := env.Do(t, apptest.Request{Method: "POST", Path: loginPath, Body: map[string]any{"code": code}})
			if d := time.Since(start); d > 20*time.Second {
				t.Errorf("login took %s; the WeChat deadline is 5s", d)
			}
			apptest.Expect(t, r, c.status, c.code)
			if c.retryAfter {
				if ra := r.Header.Get("Retry-After"); ra == "" || ra == "0" {
					t.Errorf("Retry-After = %q", ra)
				}
			}
			fragments(t, r.Body, nil, []string{code, apptest.Secret, "errcode", "scripted failure"})
			if n := env.WeChat.Calls(wechatsim.PathCode2Session); n != 1 {
				t.Errorf("WeChat called %d times, want exactly 1 (no retry)", n)
			}
			if n := userCount(t, env); n != 0 {
				t.Errorf("%d users written by a failed login", n)
			}
			// The failure is over: a fresh code logs in.
			env.Login(t, "o_after_failure")
		})
	}
}

func TestLoginCodeIsSingleUse(t *testing.T) {
	t.Parallel()
	env := startOn(t, sqliteOnly, nil)
	code := env.WeChat.NewCode(wechatsim.Identity{OpenID: "o_single_use"})
	env.LoginWith(t, map[string]any{"code": code})
	r := env.Do(t, apptest.Request{Method: "POST", Path: loginPath, Body: map[string]any{"code": code}})
	apptest.Expect(t, r, 401, "invalid_code")
	if n := env.WeChat.Calls(wechatsim.PathCode2Session); n != 2 {
		t.Fatalf("WeChat calls = %d, want one per request", n)
	}
}

func TestConcurrentFirstLoginMakesOneUser(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		env := startOn(t, b, nil)
		const n = 20
		codes := make([]string, n)
		for i := range codes {
			codes[i] = env.WeChat.NewCode(wechatsim.Identity{OpenID: "o_concurrent_new_user"})
		}
		grants := make([]apptest.Grant, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				status, body, err := post(env, loginPath, map[string]any{"code": codes[i]})
				if err == nil && status != http.StatusOK {
					err = fmt.Errorf("status %d: %s", status, body)
				}
				if err == nil {
					err = json.Unmarshal(body, &grants[i])
				}
				errs[i] = err
			}()
		}
		close(start)
		wg.Wait()
		newUsers := 0
		for i, g := range grants {
			if errs[i] != nil {
				t.Fatalf("login %d: %v", i, errs[i])
			}
			if g.UserID() != grants[0].UserID() {
				t.Errorf("login %d got user %d, login 0 got %d", i, g.UserID(), grants[0].UserID())
			}
			if g.IsNewUser {
				newUsers++
			}
		}
		if newUsers != 1 {
			t.Errorf("%d answers said is_new_user, want exactly 1", newUsers)
		}
		if c := userCount(t, env); c != 1 {
			t.Errorf("%d users, want 1", c)
		}
		u, err := env.Server.DB.Read.User.Query().Where(user.Openid("o_concurrent_new_user")).Only(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if u.LoginCount != n {
			t.Errorf("login_count = %d, want %d", u.LoginCount, n)
		}
	})
}

func TestDisabledUser(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		env := startOn(t, b, nil)
		g1 := env.Login(t, "o_disabled")
		g2 := env.Login(t, "o_disabled")
		bystander := env.Login(t, "o_bystander")
		ctx := context.Background()
		if err := env.Server.Profiles.SetDisabled(ctx, g1.UserID(), true); err != nil {
			t.Fatal(err)
		}
		for _, g := range []*apptest.Grant{g1, g2} {
			expectUnauthorized(t, me(t, env, g.AccessToken))
			expectUnauthorized(t, refresh(t, env, g.RefreshToken))
		}
		code := env.WeChat.NewCode(wechatsim.Identity{OpenID: "o_disabled"})
		r := env.Do(t, apptest.Request{Method: "POST", Path: loginPath, Body: map[string]any{"code": code, "nickname": "sneaky"}})
		apptest.Expect(t, r, http.StatusForbidden, "user_disabled")
		fragments(t, r.Body, nil, []string{"access_token", "refresh_token"})
		if r := me(t, env, bystander.AccessToken); r.Status != 200 {
			t.Fatalf("another user was affected: %d", r.Status)
		}
		u, err := env.Server.DB.Read.User.Get(ctx, g1.UserID())
		if err != nil {
			t.Fatal(err)
		}
		if u.Nickname == "sneaky" || u.LoginCount != 2 {
			t.Errorf("a refused login changed the user: nickname %q, login_count %d", u.Nickname, u.LoginCount)
		}
		// Enabled again: logins work, the revoked sessions stay dead.
		if err := env.Server.Profiles.SetDisabled(ctx, g1.UserID(), false); err != nil {
			t.Fatal(err)
		}
		g3 := env.Login(t, "o_disabled")
		if g3.UserID() != g1.UserID() || g3.IsNewUser {
			t.Errorf("re-enabled user logged in as %d (new %v)", g3.UserID(), g3.IsNewUser)
		}
		expectUnauthorized(t, me(t, env, g1.AccessToken))
		expectUnauthorized(t, refresh(t, env, g2.RefreshToken))
	})
}
