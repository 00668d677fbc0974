package app_test

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"testing"

	"github.com/gofiber/fiber/v2"

	"github.com/miniauth/miniauth/app"
	"github.com/miniauth/miniauth/app/apptest"
	"github.com/miniauth/miniauth/handlers"
)

// whoAmI is a team route answering the signed-in user's id.
func whoAmI(prefix string) app.Routes {
	return app.Routes{Prefix: prefix, Register: func(r fiber.Router, s *app.Server) {
		r.Get("/whoami", func(c *fiber.Ctx) error {
			return c.SendString(strconv.Itoa(handlers.CurrentUser(c).ID) + " " + strconv.Itoa(handlers.CurrentSession(c)))
		})
	}}
}

// TestOwnRoutes: routes added through app.Routes sit behind the bearer
// check, with the signed-in user at hand, next to miniauth's own routes
// (even where Fiber's prefix matching lets /api/me's group run first).
func TestOwnRoutes(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		env := apptest.Start(t, apptest.Options{DatabaseURL: b.URL(t), Routes: []app.Routes{whoAmI("/api/shop"), whoAmI("/api/meals")}})
		g := env.Login(t, "o_own_routes")
		want := strconv.Itoa(g.UserID()) + " " + strconv.Itoa(sessionOf(t, env, g.UserID()))
		for _, p := range []string{"/api/shop/whoami", "/api/meals/whoami"} {
			if r := env.Do(t, apptest.Request{Method: "GET", Path: p, Token: g.AccessToken}); r.Status != 200 || string(r.Body) != want {
				t.Errorf("%s: %d %q, want %q", p, r.Status, r.Body, want)
			}
			expectUnauthorized(t, env.Do(t, apptest.Request{Method: "GET", Path: p}))
		}
		// miniauth's routes are untouched; unknown paths elsewhere are 404.
		if r := me(t, env, g.AccessToken); r.Status != 200 {
			t.Errorf("/api/me: %d", r.Status)
		}
		apptest.Expect(t, env.Do(t, apptest.Request{Method: "GET", Path: "/api/nothing", Token: g.AccessToken}), 404, "not_found")
		if r := env.Do(t, apptest.Request{Method: "POST", Path: "/api/auth/logout", Token: g.AccessToken}); r.Status != http.StatusNoContent {
			t.Fatalf("logout: %d", r.Status)
		}
		expectUnauthorized(t, env.Do(t, apptest.Request{Method: "GET", Path: "/api/shop/whoami", Token: g.AccessToken}))

		// Many at once: each caller is itself.
		var wg sync.WaitGroup
		grants := []*apptest.Grant{env.Login(t, "o_own_a"), env.Login(t, "o_own_b")}
		for i := range 100 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				g := grants[i%2]
				req, _ := http.NewRequest("GET", env.URL+"/api/shop/whoami", nil)
				req.Header.Set("Authorization", "Bearer "+g.AccessToken)
				resp, err := env.HTTP.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				defer resp.Body.Close()
				var id, sid int
				_, err = fmtSscan(resp, &id, &sid)
				if resp.StatusCode != 200 || err != nil || id != g.UserID() {
					t.Errorf("whoami as %d: %d %d (%v)", g.UserID(), resp.StatusCode, id, err)
				}
			}()
		}
		wg.Wait()
	})
}

func fmtSscan(resp *http.Response, a ...any) (int, error) {
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	return fmt.Sscan(string(b), a...)
}
