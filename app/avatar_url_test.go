package app_test

import (
	"net/http"
	"sync"
	"testing"

	"github.com/miniauth/miniauth/app/apptest"
)

// TestAvatarURLCanonicalFormOnly: percent-encoding, dot segments, a query
// or a fragment in a local avatar_url are refused, 100 requests at once,
// and none of them is stored.
func TestAvatarURLCanonicalFormOnly(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		env := startOn(t, b, nil)
		g := env.Login(t, "o_avatar_canonical")
		bad := []string{
			"/uploads/%2e%2e/admin/users.csv",
			"/uploads/avatars/%2E%2E/%2E%2E/admin/users.csv",
			"/uploads/avatars/..%2f..%2fadmin%2fusers.csv",
			"/uploads/avatars/./x.png",
			"/uploads/avatars/x.png?download",
			"/uploads/avatars/x.png#frag",
			"/uploads/x.png",
		}
		var wg sync.WaitGroup
		for i := range 100 {
			wg.Go(func() {
				r := env.Do(t, apptest.Request{Method: "PUT", Path: "/api/me", Token: g.AccessToken, Body: map[string]any{"avatar_url": bad[i%len(bad)]}})
				if r.Status != http.StatusBadRequest || r.ErrorCode() != "validation_failed" || errorFields(t, r)["avatar_url"] == "" {
					t.Errorf("PUT avatar_url %q: %d %s", bad[i%len(bad)], r.Status, r.Body)
				}
			})
		}
		wg.Wait()
		if u := me(t, env, g.AccessToken).JSON(t); u["avatar_url"] != "" {
			t.Fatalf("a refused avatar_url was stored: %v", u["avatar_url"])
		}
	})
}
