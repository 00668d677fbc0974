package handlers_test

// The access log: no secrets in it, the client IP it records.

import (
	"strings"
	"testing"

	"github.com/miniauth/miniauth/app/apptest"
	"github.com/miniauth/miniauth/app/wechatsim"
)

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
