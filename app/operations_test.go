package app_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miniauth/miniauth/app/apptest"
	"github.com/miniauth/miniauth/app/database"
	"github.com/miniauth/miniauth/ent/user"
)

// A backup taken while logins are being written holds every login that
// was acknowledged before it started, passes integrity_check, and opens
// as a working miniauth data dir.
func TestBackupUnderWriteLoad(t *testing.T) {
	env := apptest.Start(t, apptest.Options{Env: map[string]string{"MINIAUTH_LOGIN_RATE_LIMIT": "0"}})
	var (
		mu    sync.Mutex
		acked []string
		n     atomic.Int64
		stop  = make(chan struct{})
		wg    sync.WaitGroup
	)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				openid := fmt.Sprintf("load-%d", n.Add(1))
				env.Login(t, openid)
				mu.Lock()
				acked = append(acked, openid)
				mu.Unlock()
			}
		}()
	}
	// Let some writes land, then snapshot what was acknowledged so far.
	apptest.Eventually(t, 30*time.Second, "50 writes acknowledged", func() (bool, string) {
		mu.Lock()
		defer mu.Unlock()
		return len(acked) >= 50, fmt.Sprintf("%d acknowledged", len(acked))
	})
	mu.Lock()
	before := append([]string(nil), acked...)
	mu.Unlock()

	path := filepath.Join(t.TempDir(), "backup.db")
	res, err := env.Server.DB.Backup(context.Background(), path)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatalf("backup: %v", err)
	}
	if res.Integrity != "ok" || res.Users < len(before) {
		t.Fatalf("backup result %+v, want integrity ok and at least %d users", res, len(before))
	}
	if _, err := os.Stat(path + ".partial"); !os.IsNotExist(err) {
		t.Fatalf("temporary file left behind: %v", err)
	}

	// Restore: the backup becomes the database of a fresh data dir.
	restored := t.TempDir()
	copyFile(t, path, filepath.Join(restored, "miniauth.db"))
	env2 := apptest.Start(t, apptest.Options{DataDir: restored, WeChat: env.WeChat})
	ctx := context.Background()
	got, err := env2.Server.DB.Read.User.Query().Where(user.OpenidIn(before...)).Count(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got != len(before) {
		t.Fatalf("restored backup has %d of the %d acknowledged users", got, len(before))
	}
	// A user from before the backup logs in again as the same user.
	g := env2.Login(t, before[0])
	if g.IsNewUser {
		t.Fatalf("restored user %s came back as a new user", before[0])
	}
}

func TestBackupRefusesToOverwrite(t *testing.T) {
	env := apptest.Start(t, apptest.Options{})
	path := filepath.Join(t.TempDir(), "exists.db")
	if err := os.WriteFile(path, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Server.DB.Backup(context.Background(), path); err == nil {
		t.Fatal("backup overwrote an existing file")
	}
	if b, _ := os.ReadFile(path); string(b) != "keep me" {
		t.Fatalf("existing file changed: %q", b)
	}
}

// copy moves every user, session and refresh token from SQLite to another
// database; the tokens issued before keep working against the target.
func TestCopyToOtherDatabase(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		src := apptest.Start(t, apptest.Options{})
		var grants []*apptest.Grant
		for i := 0; i < 25; i++ {
			grants = append(grants, src.Login(t, fmt.Sprintf("copy-%d", i)))
		}
		// One rotation, so that a rotated token travels too.
		r := src.Do(t, apptest.Request{Method: "POST", Path: "/api/auth/refresh", Body: map[string]any{"refresh_token": grants[2].RefreshToken}})
		if r.Status != http.StatusOK {
			t.Fatalf("refresh before copy: %d %s", r.Status, r.Body)
		}
		disabled := grants[3].UserID()
		if err := src.Server.Profiles.SetDisabled(context.Background(), disabled, true); err != nil {
			t.Fatal(err)
		}
		srcFile := filepath.Join(src.DataDir, "miniauth.db")
		src.Stop()

		targetURL := b.URL(t)
		targetDir := t.TempDir()
		if targetURL == "" {
			targetURL = filepath.Join(targetDir, "miniauth.db")
		}
		ctx := context.Background()
		from, err := database.Open(ctx, database.Options{URL: srcFile})
		if err != nil {
			t.Fatal(err)
		}
		to, err := database.Open(ctx, database.Options{URL: targetURL, MaxOpenConns: 4, MaxIdleConns: 2})
		if err != nil {
			t.Fatal(err)
		}
		var lines int
		counts, err := database.Copy(ctx, from, to, func(string, int, int) { lines++ })
		from.Close()
		to.Close()
		if err != nil {
			t.Fatalf("copy: %v", err)
		}
		want := map[string]int{"users": 25, "identities": 25, "sessions": 25, "refresh_tokens": 1}
		for _, c := range counts {
			if c.Source != c.Target {
				t.Errorf("%s: %d rows in source, %d in target", c.Table, c.Source, c.Target)
			}
			if w, ok := want[c.Table]; ok && c.Target != w {
				t.Errorf("%s: %d rows copied, want %d", c.Table, c.Target, w)
			}
		}
		if lines == 0 {
			t.Error("no progress reported")
		}

		// The same secret (same data dir's jwt_secret) serves the target.
		dst := apptest.Start(t, apptest.Options{DataDir: src.DataDir, DatabaseURL: targetURL, WeChat: src.WeChat})
		r = dst.Do(t, apptest.Request{Method: "GET", Path: "/api/me", Token: grants[0].AccessToken})
		if r.Status != http.StatusOK {
			t.Fatalf("copied session refused: %d %s", r.Status, r.Body)
		}
		apptest.Expect(t, dst.Do(t, apptest.Request{Method: "GET", Path: "/api/me", Token: grants[3].AccessToken}), 401, "unauthorized")
		r = dst.Do(t, apptest.Request{Method: "POST", Path: "/api/auth/refresh", Body: map[string]any{"refresh_token": grants[1].RefreshToken}})
		if r.Status != http.StatusOK {
			t.Fatalf("copied refresh token refused: %d %s", r.Status, r.Body)
		}
		// The token rotated before the copy is still recognised as reuse.
		apptest.Expect(t, dst.Do(t, apptest.Request{Method: "POST", Path: "/api/auth/refresh",
			Body: map[string]any{"refresh_token": grants[2].RefreshToken}}), 401, "unauthorized")
		apptest.Expect(t, dst.Do(t, apptest.Request{Method: "GET", Path: "/api/me", Token: grants[2].AccessToken}), 401, "unauthorized")
		// Identities travelled: a copied user logs in as themselves.
		if g := dst.Login(t, "copy-0"); g.IsNewUser || g.UserID() != grants[0].UserID() {
			t.Fatalf("copied identity: user %d (new=%v), want %d", g.UserID(), g.IsNewUser, grants[0].UserID())
		}
		// New rows get fresh ids after the copied ones.
		g := dst.Login(t, "after-copy")
		if !g.IsNewUser || g.UserID() <= grants[len(grants)-1].UserID() {
			t.Fatalf("new user after copy got id %d (new=%v)", g.UserID(), g.IsNewUser)
		}
		// Copying again into the now non-empty target is refused.
		from, _ = database.Open(ctx, database.Options{URL: srcFile})
		to, _ = database.Open(ctx, database.Options{URL: targetURL, MaxOpenConns: 2, MaxIdleConns: 1})
		defer from.Close()
		defer to.Close()
		if _, err := database.Copy(ctx, from, to, nil); err == nil {
			t.Fatal("copy into a non-empty database was allowed")
		}
	})
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// Long-ended sessions are purged with their rotated refresh tokens; live
// sessions, recently ended ones and users stay.
func TestPurgeEndedSessions(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		env := apptest.Start(t, apptest.Options{DatabaseURL: b.URL(t)})
		live := env.Login(t, "purge-live")
		ended := env.Login(t, "purge-ended")
		// A rotation leaves a refresh_tokens row behind for the ended session.
		r := env.Do(t, apptest.Request{Method: "POST", Path: "/api/auth/refresh", Body: map[string]any{"refresh_token": ended.RefreshToken}})
		if r.Status != http.StatusOK {
			t.Fatalf("refresh: %d %s", r.Status, r.Body)
		}
		next := r.JSON(t)
		if r := env.Do(t, apptest.Request{Method: "POST", Path: "/api/auth/logout", Token: next["access_token"].(string)}); r.Status != http.StatusNoContent {
			t.Fatalf("logout: %d", r.Status)
		}
		purge := env.Server.Sessions.PurgeEnded
		ctx := context.Background()
		// Ended just now: kept while the cutoff is in the past.
		if n, err := purge(ctx, time.Now().UTC().Add(-time.Hour)); err != nil || n != 0 {
			t.Fatalf("purge with a past cutoff removed %d sessions (err %v)", n, err)
		}
		// A cutoff after the logout: the ended session goes, the live one stays.
		n, err := purge(ctx, time.Now().UTC().Add(time.Minute))
		if err != nil || n != 1 {
			t.Fatalf("purge removed %d sessions (err %v), want 1", n, err)
		}
		db := env.Server.DB.Read
		if c, _ := db.RefreshToken.Query().Count(ctx); c != 0 {
			t.Fatalf("%d refresh tokens left of the purged session", c)
		}
		if c, _ := db.User.Query().Count(ctx); c != 2 {
			t.Fatalf("%d users after purge, want 2", c)
		}
		if r := env.Do(t, apptest.Request{Method: "GET", Path: "/api/me", Token: live.AccessToken}); r.Status != http.StatusOK {
			t.Fatalf("live session purged: %d", r.Status)
		}
	})
}
