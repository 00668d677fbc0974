package app_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/miniauth/miniauth/app/apptest"
	"github.com/miniauth/miniauth/app/avatars/avatartest"
	"github.com/miniauth/miniauth/app/clock"
	"github.com/miniauth/miniauth/app/keys"
	"github.com/miniauth/miniauth/app/tokens"
	"github.com/miniauth/miniauth/app/tokens/tokentest"
	"github.com/miniauth/miniauth/app/wechatsim"
	"github.com/miniauth/miniauth/ent/session"
	"github.com/miniauth/miniauth/ent/user"
)

// testJWTSecret is configured where a test must forge tokens with our key.
const testJWTSecret = "miniauth-test-jwt-secret-0123456789abcdef"

const loginPath = "/api/auth/login"

// sqliteOnly is for tests that never reach the database's write path, or
// only check what does not depend on it.
var sqliteOnly = apptest.Backends()[0]

func startOn(t *testing.T, b apptest.Backend, env map[string]string) *apptest.Env {
	t.Helper()
	return start(t, apptest.Options{DatabaseURL: b.URL(t), Env: env})
}

func start(t testing.TB, o apptest.Options) *apptest.Env {
	t.Helper()
	return apptest.Start(t, o)
}

// fragments fails unless body holds every want and none of absent.
func fragments(t *testing.T, body []byte, want, absent []string) {
	t.Helper()
	for _, w := range want {
		if !bytes.Contains(body, []byte(w)) {
			t.Errorf("body lacks %q\nbody: %s", w, body)
		}
	}
	for _, a := range absent {
		if a != "" && bytes.Contains(body, []byte(a)) {
			t.Errorf("body contains %q, which must never appear\nbody: %s", a, body)
		}
	}
}

// errorFields is the "fields" of a validation_failed answer.
func errorFields(t *testing.T, r *apptest.Response) map[string]string {
	t.Helper()
	var m struct {
		Error struct {
			Fields map[string]string `json:"fields"`
		} `json:"error"`
	}
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("error body: %v\n%s", err, r.Body)
	}
	return m.Error.Fields
}

func expectUnauthorized(t *testing.T, r *apptest.Response) {
	t.Helper()
	apptest.Expect(t, r, http.StatusUnauthorized, "unauthorized")
	if h := r.Header.Get("WWW-Authenticate"); !strings.HasPrefix(h, "Bearer") {
		t.Errorf("WWW-Authenticate = %q, want a Bearer challenge", h)
	}
}

func me(t *testing.T, env *apptest.Env, token string) *apptest.Response {
	t.Helper()
	return env.Do(t, apptest.Request{Method: "GET", Path: "/api/me", Token: token})
}

func refresh(t *testing.T, env *apptest.Env, token string) *apptest.Response {
	t.Helper()
	return env.Do(t, apptest.Request{Method: "POST", Path: "/api/auth/refresh", Body: map[string]any{"refresh_token": token}})
}

func grantOf(t *testing.T, r *apptest.Response) *apptest.Grant {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("want 200, got %d %s", r.Status, r.Body)
	}
	var g apptest.Grant
	if err := json.Unmarshal(r.Body, &g); err != nil {
		t.Fatalf("grant: %v\n%s", err, r.Body)
	}
	return &g
}

func gzipped(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func userCount(t *testing.T, env *apptest.Env) int {
	t.Helper()
	n, err := env.Server.DB.Read.User.Query().Count(context.Background())
	if err != nil {
		t.Fatalf("count users: %v", err)
	}
	return n
}

func TestHealth(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		env := startOn(t, b, nil)
		r := env.Do(t, apptest.Request{Method: "GET", Path: "/healthz"})
		if r.Status != http.StatusOK || string(bytes.TrimSpace(r.Body)) != `{"status":"ok"}` {
			t.Fatalf("healthz: %d %s", r.Status, r.Body)
		}
		// Unknown URLs are 404 in the contract's shape, also under /api
		// (the bearer check is mounted on its groups only).
		for _, p := range []string{"/nope", "/api/nope", "/api/auth/nope"} {
			apptest.Expect(t, env.Do(t, apptest.Request{Method: "GET", Path: p}), http.StatusNotFound, "not_found")
		}
	})
}

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

// post is a goroutine-safe request (apptest.Do may call t.Fatal).
func post(env *apptest.Env, path string, body any) (int, []byte, error) {
	j, _ := json.Marshal(body)
	resp, err := env.HTTP.Post(env.URL+path, "application/json", bytes.NewReader(j))
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
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

// tokenForge signs tokens the way an attacker (or a buggy client) might.
type tokenForge struct {
	key []byte
	sub string
	sid int
}

func (f tokenForge) claims() jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{
		"iss": tokens.Issuer,
		"sub": f.sub,
		"aud": []string{tokens.Access.Audience},
		"exp": now.Add(time.Hour).Unix(),
		"iat": now.Unix(),
		"jti": "forged-jti-0001",
		"sid": f.sid,
		"typ": tokens.Access.Type,
	}
}

func sign(t *testing.T, m jwt.SigningMethod, key any, claims jwt.MapClaims, header map[string]any) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, claims)
	for k, v := range header {
		tok.Header[k] = v
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return s
}

// TestAccessTokenChecks presents every kind of bad bearer token. The
// first case proves the forging itself is right: the same claims signed
// properly are accepted.
func TestAccessTokenChecks(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		env := startOn(t, b, map[string]string{"MINIAUTH_JWT_SECRET": testJWTSecret})
		ks, err := keys.Derive([]byte(testJWTSecret))
		if err != nil {
			t.Fatal(err)
		}
		alice := env.Login(t, "o_token_alice")
		bob := env.Login(t, "o_token_bob")
		claims, err := tokentest.Parse(alice.AccessToken, tokens.Access, ks.UserToken)
		if err != nil {
			t.Fatalf("our own token does not parse with the derived key: %v", err)
		}
		ours := tokenForge{key: ks.UserToken, sub: claims.Subject, sid: claims.SessionID}
		bobClaims, _ := tokentest.Parse(bob.AccessToken, tokens.Access, ks.UserToken)
		attacker := []byte("attacker-key-0123456789abcdef-0123456789")

		var jwksHits atomic.Int32
		jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			jwksHits.Add(1)
			fmt.Fprintf(w, `{"keys":[{"kty":"oct","kid":"k1","alg":"HS256","k":%q}]}`, base64.RawURLEncoding.EncodeToString(attacker))
		}))
		defer jwks.Close()

		with := func(edit func(jwt.MapClaims)) jwt.MapClaims {
			c := ours.claims()
			edit(c)
			return c
		}
		hs := func(c jwt.MapClaims) string { return sign(t, jwt.SigningMethodHS256, ours.key, c, nil) }
		parts := strings.Split(alice.AccessToken, ".")
		bobParts := strings.Split(bob.AccessToken, ".")
		flip := func(s string, i int) string {
			c := byte('A')
			if s[i] == 'A' {
				c = 'B'
			}
			return s[:i] + string(c) + s[i+1:]
		}
		expired, _, err := (&tokens.Signer{Kind: tokens.Access, Key: ks.UserToken, TTL: time.Minute,
			Now: func() time.Time { return time.Now().Add(-time.Hour) }}).Sign(claims.UserID(), claims.SessionID)
		if err != nil {
			t.Fatal(err)
		}
		adminKind, _, _ := (&tokens.Signer{Kind: tokens.Admin, Key: ks.AdminToken, TTL: time.Hour}).Sign(claims.UserID(), claims.SessionID)
		adminKindUserKey, _, _ := (&tokens.Signer{Kind: tokens.Admin, Key: ks.UserToken, TTL: time.Hour}).Sign(claims.UserID(), claims.SessionID)
		userKindAdminKey, _, _ := (&tokens.Signer{Kind: tokens.Access, Key: ks.AdminToken, TTL: time.Hour}).Sign(claims.UserID(), claims.SessionID)

		cases := []struct {
			name   string
			auth   string // the whole Authorization header; "" sends none
			path   string // default /api/me
			status int
		}{
			{name: "issued token", auth: "Bearer " + alice.AccessToken, status: 200},
			{name: "forged with our key, all claims", auth: "Bearer " + hs(ours.claims()), status: 200},
			{name: "kid header ignored", auth: "Bearer " + sign(t, jwt.SigningMethodHS256, ours.key, ours.claims(), map[string]any{"kid": "../../../../dev/null"}), status: 200},
			{name: "jku header with our key, never fetched", auth: "Bearer " + sign(t, jwt.SigningMethodHS256, ours.key, ours.claims(), map[string]any{"jku": jwks.URL, "kid": "k1"}), status: 200},

			{name: "no Authorization", status: 401},
			{name: "empty bearer", auth: "Bearer ", status: 401},
			{name: "Basic scheme", auth: "Basic " + alice.AccessToken, status: 401},
			{name: "token without scheme", auth: alice.AccessToken, status: 401},
			{name: "token in query only", path: "/api/me?access_token=" + alice.AccessToken, status: 401},
			{name: "garbage", auth: "Bearer garbage", status: 401},
			{name: "three garbage segments", auth: "Bearer a.b.c", status: 401},
			{name: "refresh token as access token", auth: "Bearer " + alice.RefreshToken, status: 401},
			{name: "tampered signature", auth: "Bearer " + parts[0] + "." + parts[1] + "." + flip(parts[2], 10), status: 401},
			{name: "tampered payload", auth: "Bearer " + parts[0] + "." + flip(parts[1], 20) + "." + parts[2], status: 401},
			{name: "bob's payload with alice's signature", auth: "Bearer " + parts[0] + "." + bobParts[1] + "." + parts[2], status: 401},
			{name: "signature stripped", auth: "Bearer " + parts[0] + "." + parts[1] + ".", status: 401},
			{name: "signed with another key", auth: "Bearer " + sign(t, jwt.SigningMethodHS256, attacker, ours.claims(), nil), status: 401},
			{name: "alg none", auth: "Bearer " + sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, ours.claims(), nil), status: 401},
			{name: "alg none, our signature kept", auth: "Bearer " + strings.Split(sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, ours.claims(), nil), ".")[0] + "." + parts[1] + "." + parts[2], status: 401},
			{name: "HS512 with our key", auth: "Bearer " + sign(t, jwt.SigningMethodHS512, ours.key, ours.claims(), nil), status: 401},
			{name: "HS384 with our key", auth: "Bearer " + sign(t, jwt.SigningMethodHS384, ours.key, ours.claims(), nil), status: 401},
			{name: "jku header with attacker key, never fetched", auth: "Bearer " + sign(t, jwt.SigningMethodHS256, attacker, ours.claims(), map[string]any{"jku": jwks.URL, "kid": "k1"}), status: 401},
			{name: "embedded jwk with attacker key", auth: "Bearer " + sign(t, jwt.SigningMethodHS256, attacker, ours.claims(), map[string]any{"jwk": map[string]any{"kty": "oct", "k": base64.RawURLEncoding.EncodeToString(attacker)}}), status: 401},
			{name: "no exp", auth: "Bearer " + hs(with(func(c jwt.MapClaims) { delete(c, "exp") })), status: 401},
			{name: "expired, forged", auth: "Bearer " + hs(with(func(c jwt.MapClaims) {
				c["iat"] = time.Now().Add(-3 * time.Hour).Unix()
				c["exp"] = time.Now().Add(-time.Hour).Unix()
			})), status: 401},
			{name: "expired, signed by our signer", auth: "Bearer " + expired, status: 401},
			{name: "no iat", auth: "Bearer " + hs(with(func(c jwt.MapClaims) { delete(c, "iat") })), status: 401},
			{name: "iat in the future", auth: "Bearer " + hs(with(func(c jwt.MapClaims) { c["iat"] = time.Now().Add(30 * time.Minute).Unix() })), status: 401},
			{name: "nbf in the future", auth: "Bearer " + hs(with(func(c jwt.MapClaims) { c["nbf"] = time.Now().Add(30 * time.Minute).Unix() })), status: 401},
			{name: "no jti", auth: "Bearer " + hs(with(func(c jwt.MapClaims) { delete(c, "jti") })), status: 401},
			{name: "empty jti", auth: "Bearer " + hs(with(func(c jwt.MapClaims) { c["jti"] = "" })), status: 401},
			{name: "no iss", auth: "Bearer " + hs(with(func(c jwt.MapClaims) { delete(c, "iss") })), status: 401},
			{name: "wrong iss", auth: "Bearer " + hs(with(func(c jwt.MapClaims) { c["iss"] = "someone-else" })), status: 401},
			{name: "no aud", auth: "Bearer " + hs(with(func(c jwt.MapClaims) { delete(c, "aud") })), status: 401},
			{name: "wrong aud", auth: "Bearer " + hs(with(func(c jwt.MapClaims) { c["aud"] = "miniauth-admin" })), status: 401},
			{name: "extra aud", auth: "Bearer " + hs(with(func(c jwt.MapClaims) { c["aud"] = []string{tokens.Access.Audience, "other"} })), status: 401},
			{name: "no typ", auth: "Bearer " + hs(with(func(c jwt.MapClaims) { delete(c, "typ") })), status: 401},
			{name: "typ refresh", auth: "Bearer " + hs(with(func(c jwt.MapClaims) { c["typ"] = "refresh" })), status: 401},
			{name: "typ admin", auth: "Bearer " + hs(with(func(c jwt.MapClaims) { c["typ"] = tokens.Admin.Type })), status: 401},
			{name: "no sid", auth: "Bearer " + hs(with(func(c jwt.MapClaims) { delete(c, "sid") })), status: 401},
			{name: "sid of no session", auth: "Bearer " + hs(with(func(c jwt.MapClaims) { c["sid"] = ours.sid + 100000 })), status: 401},
			{name: "alice's sid, bob's sub", auth: "Bearer " + hs(with(func(c jwt.MapClaims) { c["sub"] = bobClaims.Subject })), status: 401},
			{name: "sub not a number", auth: "Bearer " + hs(with(func(c jwt.MapClaims) { c["sub"] = "alice" })), status: 401},
			{name: "sub with leading zero", auth: "Bearer " + hs(with(func(c jwt.MapClaims) { c["sub"] = "0" + ours.sub })), status: 401},
			{name: "admin token", auth: "Bearer " + adminKind, status: 401},
			{name: "admin claims with user key", auth: "Bearer " + adminKindUserKey, status: 401},
			{name: "access claims with admin key", auth: "Bearer " + userKindAdminKey, status: 401},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				path := c.path
				if path == "" {
					path = "/api/me"
				}
				req := apptest.Request{Method: "GET", Path: path}
				if c.auth != "" {
					req.Header = map[string]string{"Authorization": c.auth}
				}
				r := env.Do(t, req)
				if c.status == 200 {
					if r.Status != 200 {
						t.Fatalf("got %d %s, want 200", r.Status, r.Body)
					}
					fragments(t, r.Body, []string{`"id":` + ours.sub}, nil)
					return
				}
				expectUnauthorized(t, r)
			})
		}
		if n := jwksHits.Load(); n != 0 {
			t.Errorf("a jku URL from a token header was fetched %d times", n)
		}
	})
}

func TestAccessTokenExpiresAfterTTL(t *testing.T) {
	t.Parallel()
	// The token is signed 3 s in the past: contrib/jwt checks exp against
	// the system clock, so the server's clock goes back, not forward.
	var clk clock.Shifted
	clk.Shift(-3 * time.Second)
	env := start(t, apptest.Options{DatabaseURL: sqliteOnly.URL(t), Env: map[string]string{"MINIAUTH_ACCESS_TTL": "1s"}, Clock: clk.Now})
	g := env.Login(t, "o_short_ttl")
	if g.ExpiresIn != 1 {
		t.Errorf("expires_in = %d, want 1", g.ExpiresIn)
	}
	// Half a second ahead: the next token's second-truncated iat still
	// leaves it half a second of life in system time.
	clk.Shift(3500 * time.Millisecond)
	expectUnauthorized(t, me(t, env, g.AccessToken))
	// The session outlives its access token: refresh gets a new one.
	g2 := grantOf(t, refresh(t, env, g.RefreshToken))
	if r := me(t, env, g2.AccessToken); r.Status != 200 {
		t.Fatalf("me after refresh: %d %s", r.Status, r.Body)
	}
}

func TestRefreshRotationAndReuse(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		env := startOn(t, b, nil)
		first := env.Login(t, "o_refresh")
		other := env.Login(t, "o_refresh") // a second device, its own session

		r := refresh(t, env, first.RefreshToken)
		fragments(t, r.Body, []string{`"token_type":"Bearer"`, `"is_new_user":false`, `"expires_in":7200`}, []string{`"openid"`, `"session_key"`, first.RefreshToken})
		if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("Cache-Control = %q", cc)
		}
		second := grantOf(t, r)
		if second.RefreshToken == first.RefreshToken || second.AccessToken == first.AccessToken {
			t.Fatal("refresh must issue new tokens")
		}
		if second.UserID() != first.UserID() {
			t.Fatalf("refresh changed the user: %d → %d", first.UserID(), second.UserID())
		}
		for _, tok := range []string{first.AccessToken, second.AccessToken} {
			if r := me(t, env, tok); r.Status != 200 {
				t.Fatalf("access token of a live session refused: %d %s", r.Status, r.Body)
			}
		}
		third := grantOf(t, refresh(t, env, second.RefreshToken))

		// The rotated token comes back: theft. The whole session dies.
		expectUnauthorized(t, refresh(t, env, first.RefreshToken))
		expectUnauthorized(t, refresh(t, env, third.RefreshToken))
		for _, tok := range []string{first.AccessToken, second.AccessToken, third.AccessToken} {
			expectUnauthorized(t, me(t, env, tok))
		}
		// The other device's session is untouched.
		if r := me(t, env, other.AccessToken); r.Status != 200 {
			t.Fatalf("other session: %d %s", r.Status, r.Body)
		}
		grantOf(t, refresh(t, env, other.RefreshToken))

		s, err := env.Server.DB.Read.Session.Query().Where(session.RevokedAtNotNil()).Only(context.Background())
		if err != nil {
			t.Fatalf("want exactly one revoked session: %v", err)
		}
		if s.RevokeReason != "refresh_token_reuse" {
			t.Errorf("revoke reason = %q", s.RevokeReason)
		}
	})
}

func TestRefreshBadRequests(t *testing.T) {
	t.Parallel()
	env := startOn(t, sqliteOnly, nil)
	g := env.Login(t, "o_refresh_bad")
	for _, c := range []struct {
		name   string
		body   any
		status int
		code   string
	}{
		{"unknown token", map[string]any{"refresh_token": "x" + g.RefreshToken[1:]}, 401, "unauthorized"},
		{"garbage", map[string]any{"refresh_token": "garbage"}, 401, "unauthorized"},
		{"overlong", map[string]any{"refresh_token": strings.Repeat("a", 4096)}, 401, "unauthorized"},
		{"access token as refresh token", map[string]any{"refresh_token": g.AccessToken}, 401, "unauthorized"},
		{"missing", map[string]any{}, 400, "invalid_request"},
		{"null", map[string]any{"refresh_token": nil}, 400, "validation_failed"},
		{"empty", map[string]any{"refresh_token": ""}, 400, "validation_failed"},
		{"number", map[string]any{"refresh_token": 1}, 400, "validation_failed"},
		{"unknown field", map[string]any{"refresh_token": g.RefreshToken, "x": 1}, 400, "invalid_request"},
		{"malformed", []byte(`{"refresh_token":`), 400, "invalid_request"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := env.Do(t, apptest.Request{Method: "POST", Path: "/api/auth/refresh", Body: c.body})
			apptest.Expect(t, r, c.status, c.code)
		})
	}
	// None of that touched the real token.
	grantOf(t, refresh(t, env, g.RefreshToken))
}

func TestLogout(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		env := startOn(t, b, nil)
		g := env.Login(t, "o_logout")
		other := env.Login(t, "o_logout")
		expectUnauthorized(t, env.Do(t, apptest.Request{Method: "POST", Path: "/api/auth/logout"}))

		r := env.Do(t, apptest.Request{Method: "POST", Path: "/api/auth/logout", Token: g.AccessToken})
		if r.Status != http.StatusNoContent || len(r.Body) != 0 {
			t.Fatalf("logout: %d %s", r.Status, r.Body)
		}
		// At once, not at expiry.
		expectUnauthorized(t, me(t, env, g.AccessToken))
		expectUnauthorized(t, refresh(t, env, g.RefreshToken))
		expectUnauthorized(t, env.Do(t, apptest.Request{Method: "POST", Path: "/api/auth/logout", Token: g.AccessToken}))
		expectUnauthorized(t, env.Do(t, apptest.Request{Method: "PUT", Path: "/api/me", Token: g.AccessToken, Body: map[string]any{"nickname": "x"}}))
		// Only that session.
		if r := me(t, env, other.AccessToken); r.Status != 200 {
			t.Fatalf("other session after logout: %d %s", r.Status, r.Body)
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
		if err := env.Server.Accounts.SetDisabled(ctx, g1.UserID(), true); err != nil {
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
		if err := env.Server.Accounts.SetDisabled(ctx, g1.UserID(), false); err != nil {
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

func TestDeleteMe(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		env := startOn(t, b, nil)
		ctx := context.Background()
		id := wechatsim.Identity{OpenID: "o_delete_me", UnionID: "u_delete_me"}
		g := env.LoginWith(t, map[string]any{"code": env.WeChat.NewCode(id), "nickname": "Leaving"})
		other := env.LoginWith(t, map[string]any{"code": env.WeChat.NewCode(id)})
		bystander := env.Login(t, "o_stays")

		// An uploaded avatar goes with the account (uploads_test.go has more).
		avatar := uploadAvatar(t, env, g.AccessToken, avatartest.PNG(t, 1))

		expectUnauthorized(t, env.Do(t, apptest.Request{Method: "DELETE", Path: "/api/me"}))
		r := env.Do(t, apptest.Request{Method: "DELETE", Path: "/api/me", Token: g.AccessToken})
		if r.Status != http.StatusNoContent || len(r.Body) != 0 {
			t.Fatalf("delete: %d %s", r.Status, r.Body)
		}
		for _, gr := range []*apptest.Grant{g, other} {
			expectUnauthorized(t, me(t, env, gr.AccessToken))
			expectUnauthorized(t, refresh(t, env, gr.RefreshToken))
		}
		expectUnauthorized(t, env.Do(t, apptest.Request{Method: "DELETE", Path: "/api/me", Token: g.AccessToken}))
		apptest.Expect(t, env.Do(t, apptest.Request{Method: "GET", Path: avatar}), 404, "not_found")
		if n, _ := env.Server.DB.Read.User.Query().Where(user.Openid(id.OpenID)).Count(ctx); n != 0 {
			t.Errorf("%d user rows left for the deleted WeChat account", n)
		}
		if n, _ := env.Server.DB.Read.Session.Query().Where(session.UserID(g.UserID())).Count(ctx); n != 0 {
			t.Errorf("%d sessions left for the deleted user", n)
		}
		if r := me(t, env, bystander.AccessToken); r.Status != 200 {
			t.Fatalf("another user was affected: %d", r.Status)
		}

		// The same WeChat account later is a new user with an empty profile.
		again := env.LoginWith(t, map[string]any{"code": env.WeChat.NewCode(id)})
		if again.UserID() == g.UserID() || !again.IsNewUser {
			t.Errorf("login after deletion: id %d (was %d), is_new_user %v", again.UserID(), g.UserID(), again.IsNewUser)
		}
		if again.User["nickname"] != "" || again.User["avatar_url"] != "" {
			t.Errorf("the old profile came back: %v", again.User)
		}
		expectUnauthorized(t, me(t, env, g.AccessToken))
	})
}

func TestUpdateMe(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		env := startOn(t, b, nil)
		g := env.LoginWith(t, map[string]any{
			"code":     env.WeChat.NewCode(wechatsim.Identity{OpenID: "o_update"}),
			"nickname": "Start", "avatar_url": "https://example.com/start.png", "gender": 1,
		})
		get := func() map[string]any {
			r := me(t, env, g.AccessToken)
			if r.Status != 200 {
				t.Fatalf("me: %d %s", r.Status, r.Body)
			}
			return r.JSON(t)
		}
		steps := []struct {
			method string
			body   map[string]any
			want   map[string]any
		}{
			{"PUT", map[string]any{"nickname": " 小明 😀 "}, map[string]any{"nickname": "小明 😀", "avatar_url": "https://example.com/start.png", "gender": float64(1)}},
			{"PATCH", map[string]any{"gender": 2}, map[string]any{"nickname": "小明 😀", "avatar_url": "https://example.com/start.png", "gender": float64(2)}},
			{"PUT", map[string]any{"avatar_url": "https://cdn.example.com/x.webp"}, map[string]any{"nickname": "小明 😀", "avatar_url": "https://cdn.example.com/x.webp", "gender": float64(2)}},
			{"PATCH", map[string]any{"gender": 0, "nickname": strings.Repeat("😀", 64)}, map[string]any{"nickname": strings.Repeat("😀", 64), "avatar_url": "https://cdn.example.com/x.webp", "gender": float64(0)}},
			{"PUT", map[string]any{}, map[string]any{"nickname": strings.Repeat("😀", 64), "avatar_url": "https://cdn.example.com/x.webp", "gender": float64(0)}},
		}
		for i, s := range steps {
			r := env.Do(t, apptest.Request{Method: s.method, Path: "/api/me", Token: g.AccessToken, Body: s.body})
			if r.Status != 200 {
				t.Fatalf("step %d %s: %d %s", i, s.method, r.Status, r.Body)
			}
			fragments(t, r.Body, nil, []string{`"openid"`, `"session_key"`, `"unionid"`})
			answered, stored := r.JSON(t), get()
			for k, v := range s.want {
				if answered[k] != v || stored[k] != v {
					t.Errorf("step %d %s: %s answered %v, stored %v, want %v", i, s.method, k, answered[k], stored[k], v)
				}
			}
			if answered["id"] != float64(g.UserID()) {
				t.Errorf("step %d: id %v", i, answered["id"])
			}
		}

		before := get()
		bad := []struct {
			name   string
			body   any
			ctype  string
			status int
			code   string
		}{
			{"null nickname", map[string]any{"nickname": nil}, "", 400, "validation_failed"},
			{"null gender", map[string]any{"gender": nil}, "", 400, "validation_failed"},
			{"65 emoji", map[string]any{"nickname": strings.Repeat("😀", 65)}, "", 400, "validation_failed"},
			{"control character", map[string]any{"nickname": "a\tb"}, "", 400, "validation_failed"},
			{"gender 3", map[string]any{"gender": 3}, "", 400, "validation_failed"},
			{"gender string", map[string]any{"gender": "2"}, "", 400, "validation_failed"},
			{"http avatar", map[string]any{"avatar_url": "http://example.com/a.png"}, "", 400, "validation_failed"},
			{"long avatar", map[string]any{"avatar_url": "https://example.com/" + strings.Repeat("b", 1010)}, "", 400, "validation_failed"},
			// One bad field spoils the whole update: the good one is not applied.
			{"good and bad field", map[string]any{"nickname": "half", "gender": 7}, "", 400, "validation_failed"},
			{"unknown field", map[string]any{"nickname": "x", "phone": "123"}, "", 400, "invalid_request"},
			{"id field", map[string]any{"id": 1}, "", 400, "invalid_request"},
			{"malformed", []byte(`{"nickname":"x"`), "", 400, "invalid_request"},
			{"array", []byte(`[]`), "", 400, "invalid_request"},
			{"wrong content type", []byte(`{"nickname":"x"}`), "text/plain", 400, "invalid_request"},
			{"over 1 MiB", []byte(`{"nickname":"` + strings.Repeat("x", 1<<20) + `"}`), "", 413, "request_too_large"},
		}
		for _, c := range bad {
			for _, method := range []string{"PUT", "PATCH"} {
				req := apptest.Request{Method: method, Path: "/api/me", Token: g.AccessToken, Body: c.body}
				if c.ctype != "" {
					req.Header = map[string]string{"Content-Type": c.ctype}
				}
				r := env.Do(t, req)
				if r.Status != c.status || r.ErrorCode() != c.code {
					t.Errorf("%s %s: got %d %s, want %d %s", method, c.name, r.Status, r.Body, c.status, c.code)
				}
			}
		}
		after := get()
		for k, v := range before {
			if after[k] != v {
				t.Errorf("refused updates changed %s: %v → %v", k, v, after[k])
			}
		}
		expectUnauthorized(t, env.Do(t, apptest.Request{Method: "PUT", Path: "/api/me", Body: map[string]any{"nickname": "anon"}}))
		expectUnauthorized(t, env.Do(t, apptest.Request{Method: "PATCH", Path: "/api/me", Token: g.RefreshToken, Body: map[string]any{"nickname": "anon"}}))
	})
}

// TestRestartKeepsTokens stops the server and starts a new one on the same
// data dir (and database): the generated secret and the sessions persist.
func TestRestartKeepsTokens(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		dir, dbURL := t.TempDir(), b.URL(t)
		env := start(t, apptest.Options{DataDir: dir, DatabaseURL: dbURL})
		g := env.Login(t, "o_restart")
		r := env.Do(t, apptest.Request{Method: "PUT", Path: "/api/me", Token: g.AccessToken, Body: map[string]any{"nickname": "persisted"}})
		if r.Status != 200 {
			t.Fatalf("put: %d %s", r.Status, r.Body)
		}
		st, err := os.Stat(filepath.Join(dir, keys.SecretFile))
		if err != nil {
			t.Fatalf("generated secret: %v", err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("secret file mode %v, want 0600", st.Mode().Perm())
		}
		env.Stop()

		env2 := start(t, apptest.Options{DataDir: dir, DatabaseURL: dbURL})
		r = me(t, env2, g.AccessToken)
		if r.Status != 200 {
			t.Fatalf("access token after restart: %d %s", r.Status, r.Body)
		}
		if u := r.JSON(t); u["nickname"] != "persisted" {
			t.Errorf("nickname after restart = %v", u["nickname"])
		}
		g2 := grantOf(t, refresh(t, env2, g.RefreshToken))
		if g2.UserID() != g.UserID() {
			t.Errorf("refresh after restart: user %d, want %d", g2.UserID(), g.UserID())
		}
	})
}

// TestLogsHoldNoSecrets runs the whole loop, failures included, and then
// searches the log for every secret that passed through the server.
func TestLogsHoldNoSecrets(t *testing.T) {
	t.Parallel()
	env := startOn(t, sqliteOnly, map[string]string{"MINIAUTH_JWT_SECRET": testJWTSecret})
	id := wechatsim.Identity{OpenID: "o_logs", UnionID: "u_logs"}
	var secrets []string
	code := env.WeChat.NewCode(id)
	secrets = append(secrets, code)
	g := env.LoginWith(t, map[string]any{"code": code, "nickname": "Logger"})
	g2 := grantOf(t, refresh(t, env, g.RefreshToken))
	secrets = append(secrets, g.AccessToken, g.RefreshToken, g2.AccessToken, g2.RefreshToken, env.WeChat.SessionKey(id.OpenID))
	// The token in a query string or a header must not reach the log.
	env.Do(t, apptest.Request{Method: "GET", Path: "/api/me?access_token=" + g2.AccessToken})
	env.Do(t, apptest.Request{Method: "GET", Path: "/api/nope?refresh_token=" + g2.RefreshToken, Token: g2.AccessToken})
	me(t, env, g2.AccessToken)
	refresh(t, env, g.RefreshToken) // reuse: logged as a warning
	// Failures carry the code to WeChat and back.
	for _, f := range []wechatsim.Failure{{ErrCode: 40029}, {ErrCode: 40125}, {Status: 500, Body: "oops"}, {ErrCode: -1}} {
		c := env.WeChat.NewCode(id)
		secrets = append(secrets, c)
		env.WeChat.Fail(wechatsim.PathCode2Session, f)
		env.Do(t, apptest.Request{Method: "POST", Path: loginPath, Body: map[string]any{"code": c}})
	}
	c := env.WeChat.NewCode(id)
	secrets = append(secrets, c)
	env.LoginWith(t, map[string]any{"code": c})
	env.Do(t, apptest.Request{Method: "POST", Path: loginPath, Body: map[string]any{"code": c}}) // reused code
	env.Do(t, apptest.Request{Method: "POST", Path: loginPath, Body: []byte(`{"code":"` + c + `"`)})

	logs := env.Logs.String()
	if !strings.Contains(logs, `"path":"/api/auth/login"`) {
		t.Fatalf("no access log lines captured:\n%s", logs)
	}
	secrets = append(secrets, testJWTSecret, apptest.Secret)
	for _, s := range secrets {
		if s != "" && strings.Contains(logs, s) {
			t.Errorf("the log contains a secret %.12q…", s)
		}
	}
}

// accessLogIP is the ip logged for the request with this X-Request-Id,
// after checking that the request has exactly one complete access line.
func accessLogIP(t *testing.T, env *apptest.Env, requestID, method, path string, status int) string {
	t.Helper()
	var found []map[string]any
	for _, line := range strings.Split(env.Logs.String(), "\n") {
		var l map[string]any
		if json.Unmarshal([]byte(line), &l) == nil && l["msg"] == "request" && l["request_id"] == requestID {
			found = append(found, l)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d access log lines for request %q, want 1", len(found), requestID)
	}
	l := found[0]
	if l["method"] != method || l["path"] != path || l["status"] != float64(status) || l["latency_ms"] == nil {
		t.Errorf("access log line %v lacks method %s, path %s, status %d or latency", l, method, path, status)
	}
	ip, _ := l["ip"].(string)
	return ip
}

func TestClientIPBehindTrustedProxiesOnly(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		trusted string
		xff     string
		want    string
	}{
		{"no proxies configured", "", "203.0.113.7", "127.0.0.1"},
		{"peer not a trusted proxy", "10.0.0.0/8", "203.0.113.7", "127.0.0.1"},
		{"peer is a trusted proxy", "127.0.0.1", "203.0.113.7", "203.0.113.7"},
		{"rightmost untrusted hop wins", "127.0.0.0/8, 10.0.0.0/8", "198.51.100.1, 203.0.113.7, 10.1.2.3", "203.0.113.7"},
		{"spoofed hop before the real one", "127.0.0.1", "1.2.3.4, 203.0.113.9", "203.0.113.9"},
		{"garbage header", "127.0.0.1", "not-an-ip", "127.0.0.1"},
		{"no header", "127.0.0.1", "", "127.0.0.1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			env := startOn(t, sqliteOnly, map[string]string{"MINIAUTH_TRUSTED_PROXIES": c.trusted})
			req := apptest.Request{Method: "GET", Path: "/healthz"}
			if c.xff != "" {
				req.Header = map[string]string{"X-Forwarded-For": c.xff}
			}
			r := env.Do(t, req)
			if got := accessLogIP(t, env, r.Header.Get("X-Request-Id"), "GET", "/healthz", 200); got != c.want {
				t.Errorf("logged ip %q, want %q", got, c.want)
			}
		})
	}
}

// FuzzAccessToken sends arbitrary bearer tokens through the real
// middleware: the answer is 200 or 401, never anything else, and a 200
// only for a token that tokentest.Parse also accepts for the same session.
func FuzzAccessToken(f *testing.F) {
	env := start(f, apptest.Options{Env: map[string]string{"MINIAUTH_JWT_SECRET": testJWTSecret}})
	ks, err := keys.Derive([]byte(testJWTSecret))
	if err != nil {
		f.Fatal(err)
	}
	g := env.Login(f, "o_fuzz")
	valid, err := tokentest.Parse(g.AccessToken, tokens.Access, ks.UserToken)
	if err != nil {
		f.Fatal(err)
	}
	parts := strings.Split(g.AccessToken, ".")
	for _, s := range []string{
		g.AccessToken, g.RefreshToken, "", "a.b.c", "..", parts[0] + "." + parts[1] + ".",
		parts[0] + "." + parts[1] + "." + parts[2][:10], "eyJhbGciOiJub25lIn0." + parts[1] + ".",
		g.AccessToken + ".x", strings.Repeat("A", 2000),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		if len(tok) > 2048 {
			t.Skip("headers past the server's 4 KiB read buffer are refused before any token check")
		}
		for i := 0; i < len(tok); i++ {
			if tok[i] <= ' ' || tok[i] >= 0x7f {
				t.Skip("not sendable as a header value")
			}
		}
		r := env.Do(t, apptest.Request{Method: "GET", Path: "/api/me", Header: map[string]string{"Authorization": "Bearer " + tok}})
		switch r.Status {
		case 200:
			c, err := tokentest.Parse(tok, tokens.Access, ks.UserToken)
			if err != nil {
				t.Fatalf("middleware accepted a token tokentest.Parse refuses (%v): %q", err, tok)
			}
			// Every fuzz worker runs its own server, but the same set-up
			// makes the same user and session there.
			if c.Subject != valid.Subject || c.SessionID != valid.SessionID {
				t.Fatalf("accepted token carries other claims: %+v", c)
			}
		case 401:
			if r.ErrorCode() != "unauthorized" {
				t.Fatalf("401 with code %q", r.ErrorCode())
			}
		default:
			t.Fatalf("status %d for token %q: %s", r.Status, tok, r.Body)
		}
	})
}

// TestBodyPastTransportLimit: a body announced past the transport's cap
// is refused from its headers with the contract's 413, before it is read.
func TestBodyPastTransportLimit(t *testing.T) {
	t.Parallel()
	env := startOn(t, sqliteOnly, nil)
	for _, path := range []string{loginPath, "/api/me"} {
		conn, err := net.Dial("tcp", strings.TrimPrefix(env.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(30 * time.Second))
		fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: miniauth\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n{\"code\":\"", path, 64<<20)
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		apptest.Expect(t, &apptest.Response{Status: resp.StatusCode, Header: resp.Header, Body: body}, http.StatusRequestEntityTooLarge, "request_too_large")
	}
}

// TestLoginRateLimitByTrustedClientIP: our own limit answers 429 with
// Retry-After, and a client cannot escape it by sending X-Forwarded-For;
// behind a trusted proxy, each forwarded client has its own budget.
func TestLoginRateLimitByTrustedClientIP(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		spoofed := startOn(t, b, map[string]string{"MINIAUTH_LOGIN_RATE_LIMIT": "5"})
		for i := range 5 {
			r := spoofed.Do(t, apptest.Request{Method: "POST", Path: loginPath, Body: []byte(`{`),
				Header: map[string]string{"X-Forwarded-For": fmt.Sprintf("203.0.113.%d", i+1)}})
			apptest.Expect(t, r, 400, "invalid_request")
		}
		r := spoofed.Do(t, apptest.Request{Method: "POST", Path: loginPath, Body: []byte(`{`),
			Header: map[string]string{"X-Forwarded-For": "198.51.100.77"}})
		apptest.Expect(t, r, http.StatusTooManyRequests, "rate_limited")
		if ra := r.Header.Get("Retry-After"); ra == "" || ra == "0" {
			t.Errorf("Retry-After = %q", ra)
		}
		apptest.Expect(t, refresh(t, spoofed, "whatever"), http.StatusTooManyRequests, "rate_limited")

		proxied := startOn(t, b, map[string]string{"MINIAUTH_LOGIN_RATE_LIMIT": "5", "MINIAUTH_TRUSTED_PROXIES": "127.0.0.1"})
		for i := range 8 {
			r := proxied.Do(t, apptest.Request{Method: "POST", Path: loginPath, Body: []byte(`{`),
				Header: map[string]string{"X-Forwarded-For": fmt.Sprintf("203.0.113.%d", i+1)}})
			apptest.Expect(t, r, 400, "invalid_request")
		}
	})
}

// TestSessionExpires: a session unused for the refresh TTL is over; its
// refresh token no longer works.
func TestSessionExpires(t *testing.T) {
	t.Parallel()
	var clk clock.Shifted
	env := start(t, apptest.Options{DatabaseURL: sqliteOnly.URL(t), Clock: clk.Now,
		Env: map[string]string{"MINIAUTH_ACCESS_TTL": "1s", "MINIAUTH_REFRESH_TTL": "1s"}})
	g := env.Login(t, "o_session_expires")
	clk.Shift(2100 * time.Millisecond)
	expectUnauthorized(t, refresh(t, env, g.RefreshToken))
	expectUnauthorized(t, me(t, env, g.AccessToken))
}

// TestDeletedIDsAreNeverReused: after the only user (holding the highest
// ids) is deleted, the next login must not get the same user and session
// ids, or the deleted account's tokens would open the new one.
func TestDeletedIDsAreNeverReused(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		env := startOn(t, b, nil)
		g := env.Login(t, "o_reuse")
		if r := env.Do(t, apptest.Request{Method: "DELETE", Path: "/api/me", Token: g.AccessToken}); r.Status != http.StatusNoContent {
			t.Fatalf("delete: %d %s", r.Status, r.Body)
		}
		again := env.Login(t, "o_reuse")
		if again.UserID() == g.UserID() {
			t.Errorf("the new account got the deleted account's id %d", g.UserID())
		}
		expectUnauthorized(t, me(t, env, g.AccessToken))
		expectUnauthorized(t, refresh(t, env, g.RefreshToken))
	})
}

// TestConcurrentRefreshIsReuse: the same refresh token presented many
// times at once rotates at most once; the rest are reuse, which revokes
// the session, so no fork of the session survives.
func TestConcurrentRefreshIsReuse(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		env := startOn(t, b, nil)
		g := env.Login(t, "o_concurrent_refresh")
		const n = 10
		statuses := make([]int, n)
		bodies := make([][]byte, n)
		var wg sync.WaitGroup
		startGun := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-startGun
				var err error
				statuses[i], bodies[i], err = post(env, "/api/auth/refresh", map[string]any{"refresh_token": g.RefreshToken})
				if err != nil {
					statuses[i] = -1
				}
			}()
		}
		close(startGun)
		wg.Wait()
		var granted []apptest.Grant
		for i, s := range statuses {
			switch s {
			case 200:
				var gr apptest.Grant
				json.Unmarshal(bodies[i], &gr)
				granted = append(granted, gr)
			case 401:
			default:
				t.Errorf("refresh %d: %d %s", i, s, bodies[i])
			}
		}
		if len(granted) > 1 {
			t.Errorf("one refresh token was rotated %d times", len(granted))
		}
		for _, gr := range granted {
			expectUnauthorized(t, refresh(t, env, gr.RefreshToken))
			expectUnauthorized(t, me(t, env, gr.AccessToken))
		}
		expectUnauthorized(t, me(t, env, g.AccessToken))
	})
}

// A PUT that sends no field changes nothing, updated_at included.
func TestEmptyUpdateChangesNothing(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		var clk clock.Shifted
		env := start(t, apptest.Options{DatabaseURL: b.URL(t), Clock: clk.Now})
		g := env.Login(t, "empty-update")
		clk.Shift(1100 * time.Millisecond) // updated_at has second precision in JSON
		r := env.Do(t, apptest.Request{Method: "PUT", Path: "/api/me", Token: g.AccessToken, Body: map[string]any{}})
		if r.Status != http.StatusOK {
			t.Fatalf("empty PUT: %d %s", r.Status, r.Body)
		}
		if got := r.JSON(t)["updated_at"]; got != g.User["updated_at"] {
			t.Fatalf("updated_at moved from %v to %v on an empty update", g.User["updated_at"], got)
		}
	})
}
