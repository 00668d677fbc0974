package app_test

import (
	"context"
	"net/http"
	"testing"
	"unicode/utf8"

	"github.com/miniauth/miniauth/app/apptest"
	"github.com/miniauth/miniauth/app/wechatsim"
	"github.com/miniauth/miniauth/ent/session"
)

// A User-Agent that is not UTF-8 is stored as valid UTF-8: PostgreSQL
// refuses anything else, and the login (whose WeChat code is spent by
// then) used to answer 500.
func TestInvalidUTF8UserAgentIsStoredValid(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		env := startOn(t, b, nil)
		ua := "Mozilla/5.0 \xff\xfe (iPhone\xc3\x28) MicroMessenger/8.0.50"
		code := env.WeChat.NewCode(wechatsim.Identity{OpenID: "o_bad_ua"})
		r := env.Do(t, apptest.Request{Method: "POST", Path: "/api/auth/login", Body: map[string]any{"code": code},
			Header: map[string]string{"User-Agent": ua}})
		if r.Status != http.StatusOK {
			t.Fatalf("login with a non-UTF-8 User-Agent: %d %s", r.Status, r.Body)
		}
		token, _ := r.JSON(t)["access_token"].(string)
		if r := env.Do(t, apptest.Request{Method: "GET", Path: "/api/me/sessions", Token: token}); r.Status != http.StatusOK {
			t.Fatalf("sessions: %d %s", r.Status, r.Body)
		}
		stored, err := env.Server.DB.Read.Session.Query().Where(session.UserAgentContains("MicroMessenger")).Only(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if !utf8.ValidString(stored.UserAgent) {
			t.Errorf("stored user agent %q is not UTF-8", stored.UserAgent)
		}
	})
}

// The same for a browser asking for a web sign-in code: its ticket keeps
// the User-Agent (shown on the confirm page and given to the web session).
func TestInvalidUTF8UserAgentWebSignIn(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		env := startOn(t, b, nil)
		ua := "Mozilla/5.0 \xff\xfe (X11\t; \u202eLinux) Chrome/131"
		r := env.Do(t, apptest.Request{Method: "POST", Path: "/api/auth/qr", Body: map[string]any{},
			Header: map[string]string{"User-Agent": ua}})
		if r.Status != http.StatusOK {
			t.Fatalf("web sign-in ticket with a non-UTF-8 User-Agent: %d %s", r.Status, r.Body)
		}
		stored, err := env.Server.DB.Read.WebLoginTicket.Query().Only(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if want := "Mozilla/5.0 \uFFFD (X11; Linux) Chrome/131"; stored.UserAgent != want {
			t.Errorf("stored user agent %q, want %q", stored.UserAgent, want)
		}
	})
}
