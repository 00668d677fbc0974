package app_test

import (
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/miniauth/miniauth/app/apptest"
	"github.com/miniauth/miniauth/app/wechatsim"
)

// Requests racing a logout: once the logout's 204 is back, no request sent
// afterwards succeeds, however many were in flight filling the cache.
func TestSessionCacheLogoutRacingRequests(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		env := apptest.Start(t, apptest.Options{DatabaseURL: b.URL(t)})
		for round := 0; round < 3; round++ {
			g := env.Login(t, fmt.Sprintf("racer-%d", round))
			var loggedOut atomic.Bool
			var late, lateOK atomic.Int64
			stop := make(chan struct{})
			var wg sync.WaitGroup
			for w := 0; w < 100; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						select {
						case <-stop:
							return
						default:
						}
						after := loggedOut.Load()
						r := env.Do(t, apptest.Request{Method: "GET", Path: "/api/me", Token: g.AccessToken})
						if after {
							late.Add(1)
							if r.Status != http.StatusUnauthorized {
								lateOK.Add(1)
							}
						}
					}
				}()
			}
			// Let the workers warm the cache, then log out mid-stream.
			for i := 0; i < 20; i++ {
				if r := env.Do(t, apptest.Request{Method: "GET", Path: "/api/me", Token: g.AccessToken}); r.Status != http.StatusOK {
					t.Fatalf("before logout: %d %s", r.Status, r.Body)
				}
			}
			if r := env.Do(t, apptest.Request{Method: "POST", Path: "/api/auth/logout", Token: g.AccessToken}); r.Status != http.StatusNoContent {
				t.Fatalf("logout: %d %s", r.Status, r.Body)
			}
			loggedOut.Store(true)
			for late.Load() < 200 {
				apptest.Expect(t, env.Do(t, apptest.Request{Method: "GET", Path: "/api/me", Token: g.AccessToken}), 401, "unauthorized")
			}
			close(stop)
			wg.Wait()
			if n := lateOK.Load(); n > 0 {
				t.Fatalf("round %d: %d of %d requests sent after the logout's 204 were not refused", round, n, late.Load())
			}
		}
	})
}

// With a cache far smaller than the live sessions, answers stay exact:
// evicted sessions are read again, revoked ones are refused.
func TestSessionCacheEvictionKeepsAnswersCorrect(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		env := apptest.Start(t, apptest.Options{DatabaseURL: b.URL(t), Env: map[string]string{"MINIAUTH_SESSION_CACHE": "8"}})
		const n = 100
		grants := make([]*apptest.Grant, n)
		for i := range grants {
			grants[i] = env.Login(t, fmt.Sprintf("evict-%d", i))
		}
		if c := env.Server.Sessions.Cache.Len(); c > 64 { // 8 rounds up to one per shard
			t.Fatalf("%d sessions cached, bound 64", c)
		}
		me := func(i int) *apptest.Response {
			return env.Do(t, apptest.Request{Method: "GET", Path: "/api/me", Token: grants[i].AccessToken})
		}
		for pass := 0; pass < 2; pass++ {
			for i := range grants {
				r := me(i)
				if r.Status != http.StatusOK || int(r.JSON(t)["id"].(float64)) != grants[i].UserID() {
					t.Fatalf("pass %d, user %d: %d %s", pass, i, r.Status, r.Body)
				}
			}
		}
		if c := env.Server.Sessions.Cache.Len(); c > 64 {
			t.Fatalf("%d sessions cached, bound 64", c)
		}
		for i := 0; i < n; i += 2 {
			if r := env.Do(t, apptest.Request{Method: "POST", Path: "/api/auth/logout", Token: grants[i].AccessToken}); r.Status != http.StatusNoContent {
				t.Fatalf("logout %d: %d", i, r.Status)
			}
		}
		for pass := 0; pass < 2; pass++ {
			for i := range grants {
				if i%2 == 0 {
					apptest.Expect(t, me(i), 401, "unauthorized")
				} else if r := me(i); r.Status != http.StatusOK {
					t.Fatalf("live session %d refused: %d %s", i, r.Status, r.Body)
				}
			}
		}
	})
}

// GET /api/me is served from the cache and PUT /api/me updates it: every
// session of the user sees the new profile at once.
func TestSessionCacheProfileUpdateIsSeenByEverySession(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		env := apptest.Start(t, apptest.Options{DatabaseURL: b.URL(t)})
		g1 := env.Login(t, "profile-cache")
		g2 := env.Login(t, "profile-cache")
		for _, g := range []*apptest.Grant{g1, g2} {
			env.Do(t, apptest.Request{Method: "GET", Path: "/api/me", Token: g.AccessToken})
		}
		for i := 0; i < 5; i++ {
			nick := fmt.Sprintf("nick %d", i)
			r := env.Do(t, apptest.Request{Method: "PUT", Path: "/api/me", Token: g1.AccessToken, Body: map[string]any{"nickname": nick, "gender": i % 3}})
			if r.Status != http.StatusOK {
				t.Fatalf("PUT: %d %s", r.Status, r.Body)
			}
			for _, g := range []*apptest.Grant{g1, g2} {
				m := env.Do(t, apptest.Request{Method: "GET", Path: "/api/me", Token: g.AccessToken}).JSON(t)
				if m["nickname"] != nick || int(m["gender"].(float64)) != i%3 {
					t.Fatalf("after PUT %q: GET /api/me = %v", nick, m)
				}
			}
		}
		// A returning login fills empty profile fields: a cached session
		// of that user sees them.
		g4 := env.Login(t, "profile-cache-empty")
		env.Do(t, apptest.Request{Method: "GET", Path: "/api/me", Token: g4.AccessToken})
		env.LoginWith(t, map[string]any{"code": env.WeChat.NewCode(wechatsim.Identity{OpenID: "profile-cache-empty"}), "nickname": "from login"})
		if m := env.Do(t, apptest.Request{Method: "GET", Path: "/api/me", Token: g4.AccessToken}).JSON(t); m["nickname"] != "from login" {
			t.Fatalf("after a login that filled the nickname: %v", m)
		}
		g3 := env.Login(t, "profile-cache")
		// Disabling (in process, as the admin panel does) refuses every session.
		if err := env.Server.Profiles.SetDisabled(t.Context(), g1.UserID(), true); err != nil {
			t.Fatal(err)
		}
		for _, g := range []*apptest.Grant{g1, g2, g3} {
			apptest.Expect(t, env.Do(t, apptest.Request{Method: "GET", Path: "/api/me", Token: g.AccessToken}), 401, "unauthorized")
		}
	})
}
