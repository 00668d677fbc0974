package handlers_test

// POST /api/auth/refresh and /api/auth/logout: a session's life, rotation
// and reuse.

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miniauth/miniauth/app/apptest"
	"github.com/miniauth/miniauth/app/clock"
	"github.com/miniauth/miniauth/ent/session"
)

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
