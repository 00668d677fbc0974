package handlers_test

// GET, PUT, PATCH and DELETE /api/me.

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/miniauth/miniauth/app/apptest"
	"github.com/miniauth/miniauth/app/avatars/avatartest"
	"github.com/miniauth/miniauth/app/clock"
	"github.com/miniauth/miniauth/app/wechatsim"
	"github.com/miniauth/miniauth/ent/session"
	"github.com/miniauth/miniauth/ent/user"
)

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
			if fmt.Sprint(after[k]) != fmt.Sprint(v) {
				t.Errorf("refused updates changed %s: %v → %v", k, v, after[k])
			}
		}
		expectUnauthorized(t, env.Do(t, apptest.Request{Method: "PUT", Path: "/api/me", Body: map[string]any{"nickname": "anon"}}))
		expectUnauthorized(t, env.Do(t, apptest.Request{Method: "PATCH", Path: "/api/me", Token: g.RefreshToken, Body: map[string]any{"nickname": "anon"}}))
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

func TestDeleteMe(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		env := startOn(t, b, nil)
		ctx := context.Background()
		id := wechatsim.Identity{OpenID: "o_delete_me", UnionID: "u_delete_me"}
		g := env.LoginWith(t, map[string]any{"code": env.WeChat.NewCode(id), "nickname": "Leaving"})
		other := env.LoginWith(t, map[string]any{"code": env.WeChat.NewCode(id)})
		bystander := env.Login(t, "o_stays")

		// An uploaded avatar goes with the account (app/uploads_test.go has more).
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
