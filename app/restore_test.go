package app_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/miniauth/miniauth/app/apptest"
	"github.com/miniauth/miniauth/app/database"
	"github.com/miniauth/miniauth/app/keys"
	"github.com/miniauth/miniauth/app/tokens"
	"github.com/miniauth/miniauth/app/tokens/tokentest"
)

// sessionIDs reads the user and session id a token names.
func sessionIDs(t *testing.T, token string) (userID, sessionID int) {
	t.Helper()
	ks, err := keys.Derive([]byte(testJWTSecret))
	if err != nil {
		t.Fatal(err)
	}
	c, err := tokentest.Parse(token, tokens.Access, ks.UserToken)
	if err != nil {
		t.Fatalf("parse token: %v", err)
	}
	return c.UserID(), c.SessionID
}

// A backup restored over the database brings SQLite's id counters back
// with it: users who log in afterwards get the ids of users and sessions
// created after the backup. A token issued after the backup must not open
// their accounts.
func TestRestoreRefusesTokensIssuedAfterTheBackup(t *testing.T) {
	t.Parallel()
	secret := map[string]string{"MINIAUTH_JWT_SECRET": testJWTSecret}
	env := start(t, apptest.Options{Env: secret})
	before := env.Login(t, "o_restore_before")
	backup := filepath.Join(t.TempDir(), "backup.db")
	if _, err := env.Server.DB.Backup(context.Background(), backup); err != nil {
		t.Fatalf("backup: %v", err)
	}
	after := env.Login(t, "o_restore_after") // token T
	afterUser, afterSession := sessionIDs(t, after.AccessToken)
	env.Stop()

	// The README's restore: replace the file, drop -wal and -shm, start.
	db := filepath.Join(env.DataDir, "miniauth.db")
	copyFile(t, backup, db)
	os.Remove(db + "-wal")
	os.Remove(db + "-shm")
	env = start(t, apptest.Options{DataDir: env.DataDir, WeChat: env.WeChat, Env: secret})

	// New users log in until one has T's user and session ids.
	reused := false
	for i := 0; i < 5 && !reused; i++ {
		g := env.Login(t, fmt.Sprintf("o_restore_new_%d", i))
		u, s := sessionIDs(t, g.AccessToken)
		reused = u == afterUser && s == afterSession
	}
	if !reused {
		t.Fatalf("no new login reused user %d / session %d: the scenario did not happen", afterUser, afterSession)
	}
	apptest.Expect(t, env.Do(t, apptest.Request{Method: "GET", Path: "/api/me", Token: after.AccessToken}), http.StatusUnauthorized, "unauthorized")
	apptest.Expect(t, env.Do(t, apptest.Request{Method: "PUT", Path: "/api/me", Token: after.AccessToken,
		Body: map[string]any{"nickname": "hijacked"}}), http.StatusUnauthorized, "unauthorized")
	apptest.Expect(t, env.Do(t, apptest.Request{Method: "POST", Path: "/api/auth/refresh",
		Body: map[string]any{"refresh_token": after.RefreshToken}}), http.StatusUnauthorized, "unauthorized")
	// A token from before the backup names a session the backup holds.
	if r := env.Do(t, apptest.Request{Method: "GET", Path: "/api/me", Token: before.AccessToken}); r.Status != http.StatusOK {
		t.Fatalf("token from before the backup: %d %s", r.Status, r.Body)
	}
}

// copy keeps each id sequence at least where the source's was: ids of
// rows deleted before the copy do not come back, and a token of a deleted
// session does not open the session that gets its id.
func TestCopyKeepsIDsOfDeletedRowsRetired(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		secret := map[string]string{"MINIAUTH_JWT_SECRET": testJWTSecret}
		src := start(t, apptest.Options{Env: secret})
		kept := src.Login(t, "o_copy_kept")
		gone := src.Login(t, "o_copy_gone") // the highest ids, then deleted
		goneUser, goneSession := sessionIDs(t, gone.AccessToken)
		if r := src.Do(t, apptest.Request{Method: "DELETE", Path: "/api/me", Token: gone.AccessToken}); r.Status != http.StatusNoContent {
			t.Fatalf("delete account: %d %s", r.Status, r.Body)
		}
		srcFile := filepath.Join(src.DataDir, "miniauth.db")
		src.Stop()

		targetURL := b.URL(t)
		if targetURL == "" {
			targetURL = filepath.Join(t.TempDir(), "miniauth.db")
		}
		ctx := context.Background()
		from, err := database.Open(ctx, database.Options{URL: srcFile})
		if err != nil {
			t.Fatal(err)
		}
		to, err := database.Open(ctx, database.Options{URL: targetURL, MaxOpenConns: 2, MaxIdleConns: 1})
		if err != nil {
			t.Fatal(err)
		}
		_, err = database.Copy(ctx, from, to, nil)
		from.Close()
		to.Close()
		if err != nil {
			t.Fatalf("copy: %v", err)
		}
		dst := start(t, apptest.Options{DataDir: src.DataDir, DatabaseURL: targetURL, WeChat: src.WeChat, Env: secret})
		g := dst.Login(t, "o_copy_new")
		u, s := sessionIDs(t, g.AccessToken)
		if u <= goneUser || s <= goneSession {
			t.Fatalf("new login after copy got user %d session %d: ids of deleted rows (user %d, session %d) came back",
				u, s, goneUser, goneSession)
		}
		apptest.Expect(t, dst.Do(t, apptest.Request{Method: "GET", Path: "/api/me", Token: gone.AccessToken}), http.StatusUnauthorized, "unauthorized")
		if r := dst.Do(t, apptest.Request{Method: "GET", Path: "/api/me", Token: kept.AccessToken}); r.Status != http.StatusOK {
			t.Fatalf("copied session refused: %d %s", r.Status, r.Body)
		}
	})
}
