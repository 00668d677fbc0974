package logins_test

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/miniauth/miniauth/app/apptest"
	"github.com/miniauth/miniauth/app/avatars"
	"github.com/miniauth/miniauth/app/avatars/avatartest"
	"github.com/miniauth/miniauth/app/clock"
	"github.com/miniauth/miniauth/app/keys"
	"github.com/miniauth/miniauth/app/logins"
	"github.com/miniauth/miniauth/app/problem"
	"github.com/miniauth/miniauth/app/profiles"
	"github.com/miniauth/miniauth/app/sessions"
	"github.com/miniauth/miniauth/app/tokens"
	"github.com/miniauth/miniauth/app/wechat"
	"github.com/miniauth/miniauth/app/wechatsim"
	"github.com/miniauth/miniauth/ent/identity"
	"github.com/miniauth/miniauth/ent/session"
	"github.com/miniauth/miniauth/ent/upload"
)

const (
	accessTTL  = 2 * time.Hour
	refreshTTL = 30 * 24 * time.Hour
)

// fixture is the login and profile services over a real database and a
// simulated WeChat, on a clock that moves only when the test says.
type fixture struct {
	svc      *logins.Service
	profiles *profiles.Service
	clock    *clock.Manual
	wechat   *wechatsim.Server
}

func newFixture(t testing.TB, url string) *fixture {
	t.Helper()
	db := apptest.OpenDB(t, url)
	ks, err := keys.Derive([]byte("accounts-test-secret-0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	sim := wechatsim.New(apptest.AppID, apptest.Secret)
	clk := clock.NewManual(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	log := slog.New(slog.DiscardHandler)
	mini := wechat.NewClients(wechat.New(wechat.Options{BaseURL: "http://wechat.invalid", AppID: apptest.AppID,
		Secret: apptest.Secret, Transport: sim.Transport(), Log: log, Now: clk.Now}))
	live := &sessions.Service{DB: db, Log: log, Now: clk.Now}
	prof := &profiles.Service{
		DB:           db,
		MiniPrograms: mini,
		Keys:         ks,
		Log:          log,
		Avatars:      avatars.New(filepath.Join(t.TempDir(), "avatars")),
		Sessions:     live,
		Now:          clk.Now,
	}
	svc := &logins.Service{
		DB:           db,
		MiniPrograms: mini,
		Keys:         ks,
		Access:       &tokens.Signer{Kind: tokens.Access, Key: ks.UserToken, TTL: accessTTL, Now: clk.Now},
		RefreshTTL:   refreshTTL,
		Log:          log,
		Sessions:     live,
		Now:          clk.Now,
		Profiles:     prof,
	}
	return &fixture{svc: svc, profiles: prof, clock: clk, wechat: sim}
}

var device = logins.Client{IP: "192.0.2.7", UserAgent: "accounts-test"}

func (f *fixture) login(t *testing.T, openid string) *logins.Grant {
	t.Helper()
	g, err := f.svc.Login(context.Background(), "", f.wechat.NewCode(wechatsim.Identity{OpenID: openid}), profiles.Profile{}, device)
	if err != nil {
		t.Fatalf("login %s: %v", openid, err)
	}
	return g
}

// sessionOf is the session an access token names. Its signature is
// checked but not its times, which are the test clock's: contrib/jwt's
// check of exp against the system clock is the API tests' business.
func sessionOf(t *testing.T, f *fixture, g *logins.Grant) int {
	t.Helper()
	return claimsOf(t, f, g).SessionID
}

func claimsOf(t *testing.T, f *fixture, g *logins.Grant) *tokens.AccessClaims {
	t.Helper()
	var c tokens.AccessClaims
	_, err := jwt.NewParser(jwt.WithoutClaimsValidation(), jwt.WithValidMethods([]string{"HS256"})).
		ParseWithClaims(g.AccessToken, &c, func(*jwt.Token) (any, error) { return f.svc.Keys.UserToken, nil })
	if err != nil {
		t.Fatalf("access token: %v", err)
	}
	if c.UserID() != g.User.ID {
		t.Fatalf("token of user %d, grant of user %d", c.UserID(), g.User.ID)
	}
	return &c
}

func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	if got := problem.CodeOf(err); got != code {
		t.Fatalf("%s: %v (code %s), want %s", what, err, got, code)
	}
}

func (f *fixture) authenticates(t *testing.T, g *logins.Grant) bool {
	t.Helper()
	c := claimsOf(t, f, g)
	u, err := f.svc.Sessions.Authenticate(context.Background(), g.User.ID, c.SessionID, c.SessionNonce)
	if err != nil {
		wantCode(t, "authenticate", err, problem.Unauthorized)
		return false
	}
	if u.ID != g.User.ID {
		t.Fatalf("authenticated user %d, want %d", u.ID, g.User.ID)
	}
	return true
}

func TestLoginOpensASessionAndKnowsReturningUsers(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		f := newFixture(t, b.URL(t))
		first := f.login(t, "o_alice")
		if !first.IsNewUser || first.ExpiresIn != int(accessTTL/time.Second) || first.RefreshToken == "" {
			t.Fatalf("first login: %+v", first)
		}
		if !first.User.CreatedAt.Equal(f.clock.Now()) {
			t.Errorf("created_at %v, want the clock's %v", first.User.CreatedAt, f.clock.Now())
		}
		f.clock.Advance(time.Hour)
		again := f.login(t, "o_alice")
		if again.IsNewUser || again.User.ID != first.User.ID {
			t.Fatalf("returning login: new=%v user %d, want user %d", again.IsNewUser, again.User.ID, first.User.ID)
		}
		if sessionOf(t, f, again) == sessionOf(t, f, first) {
			t.Error("a second login reused the first session")
		}
		if !f.authenticates(t, first) || !f.authenticates(t, again) {
			t.Fatal("a fresh session does not authenticate")
		}
		// A code is single-use, and the login that reuses it writes nothing.
		code := f.wechat.NewCode(wechatsim.Identity{OpenID: "o_bob"})
		if _, err := f.svc.Login(context.Background(), "", code, profiles.Profile{}, device); err != nil {
			t.Fatal(err)
		}
		_, err := f.svc.Login(context.Background(), "", code, profiles.Profile{}, device)
		wantCode(t, "reused code", err, problem.InvalidCode)
	})
}

func TestRefreshRotatesAndRevokesOnReuse(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		f := newFixture(t, b.URL(t))
		ctx := context.Background()
		g := f.login(t, "o_rotate")
		f.clock.Advance(refreshTTL - time.Minute)
		next, err := f.svc.Refresh(ctx, g.RefreshToken, device)
		if err != nil {
			t.Fatalf("refresh: %v", err)
		}
		if next.RefreshToken == g.RefreshToken || sessionOf(t, f, next) != sessionOf(t, f, g) {
			t.Fatal("refresh did not rotate the token within the same session")
		}
		// Sessions slide: a refresh just before the end buys a whole TTL.
		f.clock.Advance(refreshTTL - time.Minute)
		if !f.authenticates(t, next) {
			t.Fatal("session ended although the refresh extended it")
		}
		// The rotated token coming back is theft: the session ends.
		_, err = f.svc.Refresh(ctx, g.RefreshToken, device)
		wantCode(t, "reused refresh token", err, problem.Unauthorized)
		if f.authenticates(t, next) {
			t.Fatal("the session survived a refresh token reuse")
		}
		_, err = f.svc.Refresh(ctx, next.RefreshToken, device)
		wantCode(t, "refresh of a revoked session", err, problem.Unauthorized)
		reason, err := f.svc.DB.Read.Session.Query().Where(session.ID(sessionOf(t, f, g))).Only(ctx)
		if err != nil || reason.RevokeReason != logins.ReasonRefreshReuse {
			t.Fatalf("session after reuse: %+v, %v", reason, err)
		}
	})
}

// A refresh token names its session ("<id>.<secret>"). Its secret under
// another session's id opens nothing and ends nothing: not the other
// session (ids are guessable), and not its own, even when the secret is
// a rotated one. A session is found by its id, not by a hash index.
func TestRefreshTokenNamesItsSession(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		f := newFixture(t, b.URL(t))
		ctx := context.Background()
		mine, theirs := f.login(t, "o_named_mine"), f.login(t, "o_named_theirs")
		id, secret, ok := strings.Cut(mine.RefreshToken, ".")
		if !ok || id != strconv.Itoa(sessionOf(t, f, mine)) {
			t.Fatalf("refresh token %q does not name session %d", mine.RefreshToken, sessionOf(t, f, mine))
		}
		next, err := f.svc.Refresh(ctx, mine.RefreshToken, device)
		if err != nil {
			t.Fatal(err)
		}
		theirID := strconv.Itoa(sessionOf(t, f, theirs))
		_, nextSecret, _ := strings.Cut(next.RefreshToken, ".")
		for _, forged := range []string{
			theirID + "." + nextSecret, // my current secret, their id
			theirID + "." + secret,     // my rotated secret, their id
			"999999." + nextSecret,     // no such session
			nextSecret,                 // the secret alone, as a legacy token
			id + "." + nextSecret + "x",
		} {
			_, err := f.svc.Refresh(ctx, forged, device)
			wantCode(t, "forged "+forged, err, problem.Unauthorized)
		}
		if !f.authenticates(t, next) || !f.authenticates(t, theirs) {
			t.Fatal("a forged refresh token ended a session")
		}
		for _, g := range []*logins.Grant{next, theirs} {
			if _, err := f.svc.Refresh(ctx, g.RefreshToken, device); err != nil {
				t.Fatalf("a current refresh token after the forgeries: %v", err)
			}
		}
	})
}

func TestRefreshFailsOnceTheSessionHasExpired(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		f := newFixture(t, b.URL(t))
		g := f.login(t, "o_expire")
		f.clock.Advance(refreshTTL)
		_, err := f.svc.Refresh(context.Background(), g.RefreshToken, device)
		wantCode(t, "refresh at the session's end", err, problem.Unauthorized)
		if f.authenticates(t, g) {
			t.Fatal("an expired session still authenticates")
		}
	})
}

// Of many refreshes of one token at once, exactly one rotates it; the
// others are reuse, which ends the session.
func TestConcurrentRefreshesRotateOnce(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		f := newFixture(t, b.URL(t))
		g := f.login(t, "o_race")
		var wg sync.WaitGroup
		var mu sync.Mutex
		won := 0
		for range 100 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := f.svc.Refresh(context.Background(), g.RefreshToken, device)
				if err != nil && problem.CodeOf(err) != problem.Unauthorized {
					t.Errorf("refresh: %v", err)
				}
				mu.Lock()
				if err == nil {
					won++
				}
				mu.Unlock()
			}()
		}
		wg.Wait()
		if won != 1 {
			t.Fatalf("%d refreshes of one token succeeded, want 1", won)
		}
		if f.authenticates(t, g) {
			t.Fatal("the session survived concurrent reuse")
		}
	})
}

func TestLogoutEndsOneSession(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		f := newFixture(t, b.URL(t))
		ctx := context.Background()
		phone, laptop := f.login(t, "o_logout"), f.login(t, "o_logout")
		if err := f.svc.Sessions.Logout(ctx, sessionOf(t, f, phone)); err != nil {
			t.Fatal(err)
		}
		if f.authenticates(t, phone) || !f.authenticates(t, laptop) {
			t.Fatal("logout must end its own session and no other")
		}
		_, err := f.svc.Refresh(ctx, phone.RefreshToken, device)
		wantCode(t, "refresh after logout", err, problem.Unauthorized)
		// Logging out twice is harmless and keeps the first time.
		f.clock.Advance(time.Minute)
		if err := f.svc.Sessions.Logout(ctx, sessionOf(t, f, phone)); err != nil {
			t.Fatal(err)
		}
		s, err := f.svc.DB.Read.Session.Get(ctx, sessionOf(t, f, phone))
		if err != nil || s.RevokeReason != sessions.ReasonLogout || !s.RevokedAt.Equal(f.clock.Now().Add(-time.Minute)) {
			t.Fatalf("session after two logouts: %+v, %v", s, err)
		}
	})
}

func TestDisablingEndsEverySessionAndRefusesLogins(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		f := newFixture(t, b.URL(t))
		ctx := context.Background()
		a, c := f.login(t, "o_disabled"), f.login(t, "o_disabled")
		other := f.login(t, "o_bystander")
		changed := 0
		f.profiles.StatusChanged = func() { changed++ }
		if err := f.profiles.SetDisabled(ctx, a.User.ID, true); err != nil {
			t.Fatal(err)
		}
		if changed != 1 {
			t.Fatalf("StatusChanged called %d times after disabling, want 1", changed)
		}
		if f.authenticates(t, a) || f.authenticates(t, c) || !f.authenticates(t, other) {
			t.Fatal("disabling must end the user's sessions and no one else's")
		}
		_, err := f.svc.Refresh(ctx, c.RefreshToken, device)
		wantCode(t, "refresh of a disabled user", err, problem.Unauthorized)
		_, err = f.svc.Login(ctx, "", f.wechat.NewCode(wechatsim.Identity{OpenID: "o_disabled"}), profiles.Profile{}, device)
		wantCode(t, "login of a disabled user", err, problem.UserDisabled)

		if err := f.profiles.SetDisabled(ctx, a.User.ID, false); err != nil {
			t.Fatal(err)
		}
		if f.authenticates(t, a) {
			t.Fatal("re-enabling must not revive ended sessions")
		}
		if g := f.login(t, "o_disabled"); g.User.ID != a.User.ID {
			t.Fatalf("re-enabled user logs in as %d, want %d", g.User.ID, a.User.ID)
		}
		wantCode(t, "disable a missing user", f.profiles.SetDisabled(ctx, 1<<30, true), problem.NotFound)
		if changed != 2 {
			t.Fatalf("StatusChanged called %d times after disable, enable and a miss, want 2", changed)
		}
	})
}

// Deleting an account erases every row about the user: sessions, their
// rotated refresh tokens, identities and uploads go with the user row.
func TestDeleteErasesTheUserAndEverythingAboutThem(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		f := newFixture(t, b.URL(t))
		ctx := context.Background()
		g := f.login(t, "o_delete")
		if _, err := f.svc.Refresh(ctx, g.RefreshToken, device); err != nil {
			t.Fatal(err)
		}
		if _, err := f.profiles.UploadAvatar(ctx, g.User.ID, 0, bytes.NewReader(avatartest.PNG(t, 1))); err != nil {
			t.Fatal(err)
		}
		keep := f.login(t, "o_keep")
		if err := f.profiles.Delete(ctx, g.User.ID); err != nil {
			t.Fatal(err)
		}
		db := f.svc.DB.Read
		counts := map[string]func(context.Context) (int, error){
			"sessions":   db.Session.Query().Where(session.UserID(g.User.ID)).Count,
			"identities": db.Identity.Query().Where(identity.UserID(g.User.ID)).Count,
			"uploads":    db.Upload.Query().Where(upload.UserID(g.User.ID)).Count,
			// Only the deleted user ever refreshed.
			"refresh tokens": db.RefreshToken.Query().Count,
		}
		for what, count := range counts {
			if n, err := count(ctx); err != nil || n != 0 {
				t.Errorf("%s left after delete: %d, %v", what, n, err)
			}
		}
		if files := avatartest.Files(t, f.profiles.Avatars.Dir); len(files) != 0 {
			t.Errorf("avatar files left: %v", files)
		}
		if f.authenticates(t, g) || !f.authenticates(t, keep) {
			t.Fatal("delete must end the user's sessions and no one else's")
		}
		wantCode(t, "delete twice", f.profiles.Delete(ctx, g.User.ID), problem.Unauthorized)
		if again := f.login(t, "o_delete"); !again.IsNewUser || again.User.ID == g.User.ID {
			t.Fatalf("the same WeChat user after delete: new=%v id %d", again.IsNewUser, again.User.ID)
		}
	})
}
