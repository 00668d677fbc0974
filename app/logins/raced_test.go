package logins_test

import (
	"context"
	"sync"
	"testing"

	"github.com/miniauth/miniauth/app/apptest"
	"github.com/miniauth/miniauth/app/logins"
	"github.com/miniauth/miniauth/app/problem"
	"github.com/miniauth/miniauth/app/profiles"
	"github.com/miniauth/miniauth/app/wechatsim"
	"github.com/miniauth/miniauth/ent/identity"
	"github.com/miniauth/miniauth/ent/user"
)

// On PostgreSQL another transaction may change a login's identity
// between the login's read of it and its writes (on SQLite the single
// writer runs the login alone). Each case changes it there and checks the
// login still answers what a login after that change answers.
func TestLoginAfterItsIdentityChanged(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		if b.Name != "postgres" {
			t.Skip("nothing comes between a login's read and its writes on SQLite's single writer")
		}
		t.Run("user deleted: a new user", func(t *testing.T) {
			f := newFixture(t, b.URL(t))
			old := f.login(t, "o_gone")
			logins.AfterRead(f.svc, func() {
				if err := f.svc.DB.Write.User.DeleteOneID(old.User.ID).Exec(context.Background()); err != nil {
					t.Error(err)
				}
			})
			g := f.login(t, "o_gone")
			if !g.IsNewUser || g.User.ID == old.User.ID {
				t.Fatalf("login after the user was deleted: user %d new=%v, want a new user (old %d)", g.User.ID, g.IsNewUser, old.User.ID)
			}
			if n := f.svc.DB.Read.Identity.Query().Where(identity.Openid("o_gone")).CountX(context.Background()); n != 1 {
				t.Fatalf("%d identities of o_gone, want 1", n)
			}
			if !f.authenticates(t, g) {
				t.Fatal("the new user's session does not authenticate")
			}
		})
		t.Run("user disabled: refused", func(t *testing.T) {
			f := newFixture(t, b.URL(t))
			old := f.login(t, "o_abuser")
			logins.AfterRead(f.svc, func() {
				if err := f.svc.DB.Write.User.UpdateOneID(old.User.ID).SetDisabled(true).Exec(context.Background()); err != nil {
					t.Error(err)
				}
			})
			_, err := f.svc.Login(context.Background(), "", f.wechat.NewCode(wechatsim.Identity{OpenID: "o_abuser"}), profiles.Profile{}, device)
			wantCode(t, "login after the user was disabled", err, problem.UserDisabled)
			if n := f.svc.DB.Read.User.GetX(context.Background(), old.User.ID).LoginCount; n != 1 {
				t.Fatalf("login_count %d after a refused login, want 1", n)
			}
		})
		t.Run("first login raced: one user", func(t *testing.T) {
			f := newFixture(t, b.URL(t))
			var first *logins.Grant
			logins.AfterRead(f.svc, func() { first = f.login(t, "o_twice") })
			g := f.login(t, "o_twice")
			if first == nil || g.User.ID != first.User.ID || g.IsNewUser {
				t.Fatalf("raced first login: user %d new=%v, other login's user %v", g.User.ID, g.IsNewUser, first)
			}
			if n := f.svc.DB.Read.User.Query().Where(user.Openid("o_twice")).CountX(context.Background()); n != 1 {
				t.Fatalf("%d users for o_twice, want 1", n)
			}
			if g.User.LoginCount != 2 {
				t.Fatalf("login_count %d, want 2", g.User.LoginCount)
			}
		})
	})
}

// Many first logins of one person at once: on PostgreSQL every one but
// the first may read "no identity" and learn otherwise in its write. All succeed, as
// one user counted once per login.
func TestConcurrentFirstLoginsOfOnePerson(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		f := newFixture(t, b.URL(t))
		const n = 50
		codes := make([]string, n)
		for i := range codes {
			codes[i] = f.wechat.NewCode(wechatsim.Identity{OpenID: "o_many"})
		}
		users := make([]int, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				g, err := f.svc.Login(context.Background(), "", codes[i], profiles.Profile{}, device)
				if err != nil {
					t.Errorf("login %d: %v", i, err)
					return
				}
				users[i] = g.User.ID
			}()
		}
		wg.Wait()
		for i, id := range users {
			if id != users[0] {
				t.Fatalf("login %d as user %d, login 0 as user %d", i, id, users[0])
			}
		}
		ctx := context.Background()
		if c := f.svc.DB.Read.Identity.Query().Where(identity.Openid("o_many")).CountX(ctx); c != 1 {
			t.Fatalf("%d identities, want 1", c)
		}
		if c := f.svc.DB.Read.User.GetX(ctx, users[0]).LoginCount; c != n {
			t.Fatalf("login_count %d, want %d", c, n)
		}
	})
}
