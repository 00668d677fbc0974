package app_test

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"database/sql"
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miniauth/miniauth/app/apptest"
	"github.com/miniauth/miniauth/app/keys"
	"github.com/miniauth/miniauth/app/tokens"
	"github.com/miniauth/miniauth/app/wechatsim"
	"github.com/miniauth/miniauth/ent/identity"
	"github.com/miniauth/miniauth/ent/session"
)

// releaseUser is a user as the single-app release stored them, with the
// tokens it had handed out.
type releaseUser struct {
	id, sessionID       int
	openid, unionid     string
	sessionKey          string // base64, as WeChat sends it
	access, refresh     string
	rotated             string // a refresh token rotated away
	disabled, loggedOut bool
}

// TestMigrationFromSingleAppRelease builds a database with the schema the
// single-app release created (testdata/release-schema.*.sql, printed by
// that release's `miniauth migrate --dry-run`), fills it the way that
// release wrote users, sessions and refresh tokens, and starts the
// current server on it: every user gets their identity with session key,
// and every token keeps working exactly as before.
func TestMigrationFromSingleAppRelease(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		dataDir := t.TempDir()
		url := b.URL(t)
		driver, dsn, schemaFile := "pgx", url, "release-schema.postgres.sql"
		if url == "" {
			driver, dsn, schemaFile = "sqlite3", "file:"+filepath.Join(dataDir, "miniauth.db")+"?_foreign_keys=1", "release-schema.sqlite.sql"
		}
		raw, err := sql.Open(driver, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer raw.Close()
		ddl, err := os.ReadFile(filepath.Join("testdata", schemaFile))
		if err != nil {
			t.Fatal(err)
		}
		for _, stmt := range strings.Split(string(ddl), ";\n") {
			if strings.TrimSpace(stmt) != "" {
				if _, err := raw.Exec(stmt); err != nil {
					t.Fatalf("release schema: %v\n%s", err, stmt)
				}
			}
		}
		ks, err := keys.Derive([]byte(testJWTSecret))
		if err != nil {
			t.Fatal(err)
		}
		signer := &tokens.Signer{Kind: tokens.Access, Key: ks.UserToken, TTL: time.Hour}
		now := time.Now().UTC().Truncate(time.Second)
		var users []*releaseUser
		for i := 1; i <= 12; i++ {
			u := &releaseUser{id: i, sessionID: i, openid: fmt.Sprintf("o_release_%d", i),
				sessionKey: base64.StdEncoding.EncodeToString([]byte(fmt.Sprintf("session-key-%04d", i))),
				disabled:   i == 5, loggedOut: i == 7}
			if i%2 == 0 {
				u.unionid = fmt.Sprintf("u_release_%d", i)
			}
			var unionid any
			if u.unionid != "" {
				unionid = u.unionid
			}
			if _, err := raw.Exec(`INSERT INTO users (id, openid, unionid, nickname, avatar_url, gender, phone, phone_country_code,
  disabled, session_key, login_count, last_login_at, created_at, updated_at)
VALUES ($1, $2, $3, $4, '', 1, '', '', $5, $6, 3, $7, $8, $8)`,
				i, u.openid, unionid, fmt.Sprintf("user %d", i), u.disabled, ks.Seal([]byte(u.sessionKey)), now, now.Add(-time.Hour)); err != nil {
				t.Fatalf("insert user: %v", err)
			}
			var refreshHash []byte
			u.refresh, _ = tokens.NewRefreshSecret() // a legacy token: no session id
			refreshHash = tokens.LegacyRefreshHash(u.refresh)
			var revoked any
			if u.loggedOut {
				revoked = now
			}
			if _, err := raw.Exec(`INSERT INTO sessions (id, refresh_hash, created_at, last_used_at, expires_at, revoked_at, revoke_reason, ip, user_agent, user_id)
VALUES ($1, $2, $3, $3, $4, $5, '', '203.0.113.9', 'Mozilla/5.0 (iPhone) MicroMessenger/8.0.50', $6)`,
				i, refreshHash, now, now.Add(24*time.Hour), revoked, i); err != nil {
				t.Fatalf("insert session: %v", err)
			}
			var rotatedHash []byte
			u.rotated, _ = tokens.NewRefreshSecret()
			rotatedHash = tokens.LegacyRefreshHash(u.rotated)
			if _, err := raw.Exec(`INSERT INTO refresh_tokens (hash, created_at, rotated_at, session_id) VALUES ($1, $2, $2, $3)`,
				rotatedHash, now, i); err != nil {
				t.Fatalf("insert refresh token: %v", err)
			}
			if u.access, _, err = signer.Sign(i, i, ""); err != nil {
				t.Fatal(err)
			}
			users = append(users, u)
		}
		if driver == "pgx" {
			// The release's ids come from identity sequences; move them on
			// past the explicit ids, as the release's own inserts would have.
			for _, tbl := range []string{"users", "sessions", "refresh_tokens"} {
				if _, err := raw.Exec(fmt.Sprintf(`SELECT setval(pg_get_serial_sequence('%s', 'id'), (SELECT MAX(id) FROM %s))`, tbl, tbl)); err != nil {
					t.Fatal(err)
				}
			}
		}
		raw.Close()

		env := start(t, apptest.Options{DataDir: dataDir, DatabaseURL: url, Env: map[string]string{"MINIAUTH_JWT_SECRET": testJWTSecret}})
		ctx := context.Background()
		if n := userCount(t, env); n != len(users) {
			t.Fatalf("%d users after the migration, want %d", n, len(users))
		}
		for _, u := range users {
			id, err := env.Server.DB.Read.Identity.Query().Where(identity.UserID(u.id)).Only(ctx)
			if err != nil {
				t.Fatalf("identity of user %d: %v", u.id, err)
			}
			if id.Appid != apptest.AppID || id.Openid != u.openid || (u.unionid == "") != (id.Unionid == nil) ||
				(id.Unionid != nil && *id.Unionid != u.unionid) {
				t.Errorf("identity of user %d: %+v", u.id, id)
			}
			if key, err := ks.Open(*id.SessionKey); err != nil || string(key) != u.sessionKey {
				t.Errorf("session key of user %d not carried: %v", u.id, err)
			}
			sess, err := env.Server.DB.Read.Session.Query().Where(session.ID(u.sessionID)).Only(ctx)
			if err != nil || sess.Appid != apptest.AppID {
				t.Errorf("session of user %d: %v %+v", u.id, err, sess)
			}
		}
		for _, u := range users {
			r := me(t, env, u.access)
			if u.disabled || u.loggedOut {
				expectUnauthorized(t, r)
				continue
			}
			if r.Status != http.StatusOK || r.JSON(t)["id"] != float64(u.id) {
				t.Fatalf("release access token of user %d: %d %s", u.id, r.Status, r.Body)
			}
			// The session key decrypts, through the migrated identity.
			data, iv := encryptForTest(t, u.sessionKey, fmt.Sprintf(`{"stepInfoList":[],"watermark":{"appid":%q,"timestamp":1}}`, apptest.AppID))
			r = env.Do(t, apptest.Request{Method: "POST", Path: "/api/wechat/decrypt", Token: u.access,
				Body: map[string]any{"encrypted_data": data, "iv": iv}})
			if r.Status != http.StatusOK {
				t.Errorf("decrypt with user %d's migrated session key: %d %s", u.id, r.Status, r.Body)
			}
		}
		// Refresh tokens: the current one rotates, a rotated one is reuse.
		for _, u := range users[:4] {
			r := env.Do(t, apptest.Request{Method: "POST", Path: "/api/auth/refresh", Body: map[string]any{"refresh_token": u.refresh}})
			if r.Status != http.StatusOK {
				t.Fatalf("release refresh token of user %d: %d %s", u.id, r.Status, r.Body)
			}
			r = env.Do(t, apptest.Request{Method: "POST", Path: "/api/auth/refresh", Body: map[string]any{"refresh_token": u.rotated}})
			expectUnauthorized(t, r)
		}
		// A legacy token's refresh moves its session to tokens that name
		// it; the legacy token coming back after that is still reuse.
		moved := users[7]
		r := env.Do(t, apptest.Request{Method: "POST", Path: "/api/auth/refresh", Body: map[string]any{"refresh_token": moved.refresh}})
		next, _ := r.JSON(t)["refresh_token"].(string)
		if r.Status != http.StatusOK || !strings.HasPrefix(next, fmt.Sprintf("%d.", moved.sessionID)) {
			t.Fatalf("refresh of a legacy token: %d, next token %q", r.Status, next)
		}
		r = env.Do(t, apptest.Request{Method: "POST", Path: "/api/auth/refresh", Body: map[string]any{"refresh_token": next}})
		next, _ = r.JSON(t)["refresh_token"].(string)
		if r.Status != http.StatusOK {
			t.Fatalf("refresh of the token a legacy one rotated to: %d %s", r.Status, r.Body)
		}
		expectUnauthorized(t, env.Do(t, apptest.Request{Method: "POST", Path: "/api/auth/refresh", Body: map[string]any{"refresh_token": moved.refresh}}))
		expectUnauthorized(t, env.Do(t, apptest.Request{Method: "POST", Path: "/api/auth/refresh", Body: map[string]any{"refresh_token": next}}))

		// The same WeChat users log in as themselves, and other apps of the
		// same person find them by unionid.
		for _, u := range users {
			if u.disabled {
				continue
			}
			g := env.LoginWith(t, map[string]any{"code": env.WeChat.NewCode(wechatsim.Identity{OpenID: u.openid, UnionID: u.unionid})})
			if g.UserID() != u.id || g.IsNewUser {
				t.Errorf("release user %d logged in as %d (new %v)", u.id, g.UserID(), g.IsNewUser)
			}
		}
		// A restart migrates again and changes nothing.
		env.Stop()
		env = start(t, apptest.Options{DataDir: dataDir, DatabaseURL: url, Env: map[string]string{"MINIAUTH_JWT_SECRET": testJWTSecret}})
		if n, _ := env.Server.DB.Read.Identity.Query().Count(ctx); n != len(users) {
			t.Errorf("%d identities after a second start, want %d", n, len(users))
		}
		// (Users 1-4 presented a rotated refresh token above: their
		// sessions are revoked. User 6's is untouched.)
		if r := me(t, env, users[5].access); r.Status != http.StatusOK {
			t.Errorf("after restart: %d", r.Status)
		}
	})
}

// encryptForTest encrypts plain as WeChat's client APIs do (AES-128-CBC,
// PKCS#7) with a base64 session key; it returns data and iv in base64.
func encryptForTest(t *testing.T, sessionKey, plain string) (string, string) {
	t.Helper()
	key, err := base64.StdEncoding.DecodeString(sessionKey)
	if err != nil {
		t.Fatal(err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	iv := []byte("0123456789abcdef")
	pad := aes.BlockSize - len(plain)%aes.BlockSize
	buf := append([]byte(plain), []byte(strings.Repeat(string(rune(pad)), pad))...)
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(buf, buf)
	return base64.StdEncoding.EncodeToString(buf), base64.StdEncoding.EncodeToString(iv)
}
