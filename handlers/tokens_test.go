package handlers_test

// The bearer check in front of the API: forged, tampered and expired
// access tokens, the key kept across restarts.

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/miniauth/miniauth/app/apptest"
	"github.com/miniauth/miniauth/app/clock"
	"github.com/miniauth/miniauth/app/keys"
	"github.com/miniauth/miniauth/app/tokens"
	"github.com/miniauth/miniauth/app/tokens/tokentest"
)

// TestAccessTokenChecks presents every kind of bad bearer token. The
// first case proves the forging itself is right: the same claims signed
// properly are accepted.
func TestAccessTokenChecks(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		env := startOn(t, b, map[string]string{"MINIAUTH_JWT_SECRET": testJWTSecret})
		ks, err := keys.Derive([]byte(testJWTSecret))
		if err != nil {
			t.Fatal(err)
		}
		alice := env.Login(t, "o_token_alice")
		bob := env.Login(t, "o_token_bob")
		claims, err := tokentest.Parse(alice.AccessToken, tokens.Access, ks.UserToken)
		if err != nil {
			t.Fatalf("our own token does not parse with the derived key: %v", err)
		}
		ours := tokentest.Forge{Key: ks.UserToken, Sub: claims.Subject, SID: claims.SessionID, SNO: claims.SessionNonce}
		bobClaims, _ := tokentest.Parse(bob.AccessToken, tokens.Access, ks.UserToken)
		attacker := []byte("attacker-key-0123456789abcdef-0123456789")

		var jwksHits atomic.Int32
		jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			jwksHits.Add(1)
			fmt.Fprintf(w, `{"keys":[{"kty":"oct","kid":"k1","alg":"HS256","k":%q}]}`, base64.RawURLEncoding.EncodeToString(attacker))
		}))
		defer jwks.Close()

		with := func(edit func(jwt.MapClaims)) jwt.MapClaims {
			c := ours.Claims()
			edit(c)
			return c
		}
		hs := func(c jwt.MapClaims) string { return tokentest.Sign(t, jwt.SigningMethodHS256, ours.Key, c, nil) }
		parts := strings.Split(alice.AccessToken, ".")
		bobParts := strings.Split(bob.AccessToken, ".")
		flip := func(s string, i int) string {
			c := byte('A')
			if s[i] == 'A' {
				c = 'B'
			}
			return s[:i] + string(c) + s[i+1:]
		}
		expired, _, err := (&tokens.Signer{Kind: tokens.Access, Key: ks.UserToken, TTL: time.Minute,
			Now: func() time.Time { return time.Now().Add(-time.Hour) }}).Sign(claims.UserID(), claims.SessionID, claims.SessionNonce)
		if err != nil {
			t.Fatal(err)
		}
		adminKind, _, _ := (&tokens.Signer{Kind: tokens.Admin, Key: ks.AdminToken, TTL: time.Hour}).Sign(claims.UserID(), claims.SessionID, claims.SessionNonce)
		adminKindUserKey, _, _ := (&tokens.Signer{Kind: tokens.Admin, Key: ks.UserToken, TTL: time.Hour}).Sign(claims.UserID(), claims.SessionID, claims.SessionNonce)
		userKindAdminKey, _, _ := (&tokens.Signer{Kind: tokens.Access, Key: ks.AdminToken, TTL: time.Hour}).Sign(claims.UserID(), claims.SessionID, claims.SessionNonce)

		cases := []struct {
			name   string
			auth   string // the whole Authorization header; "" sends none
			path   string // default /api/me
			status int
		}{
			{name: "issued token", auth: "Bearer " + alice.AccessToken, status: 200},
			{name: "forged with our key, all claims", auth: "Bearer " + hs(ours.Claims()), status: 200},
			{name: "kid header ignored", auth: "Bearer " + tokentest.Sign(t, jwt.SigningMethodHS256, ours.Key, ours.Claims(), map[string]any{"kid": "../../../../dev/null"}), status: 200},
			{name: "jku header with our key, never fetched", auth: "Bearer " + tokentest.Sign(t, jwt.SigningMethodHS256, ours.Key, ours.Claims(), map[string]any{"jku": jwks.URL, "kid": "k1"}), status: 200},

			{name: "no Authorization", status: 401},
			{name: "empty bearer", auth: "Bearer ", status: 401},
			{name: "Basic scheme", auth: "Basic " + alice.AccessToken, status: 401},
			{name: "token without scheme", auth: alice.AccessToken, status: 401},
			{name: "token in query only", path: "/api/me?access_token=" + alice.AccessToken, status: 401},
			{name: "garbage", auth: "Bearer garbage", status: 401},
			{name: "three garbage segments", auth: "Bearer a.b.c", status: 401},
			{name: "refresh token as access token", auth: "Bearer " + alice.RefreshToken, status: 401},
			{name: "tampered signature", auth: "Bearer " + parts[0] + "." + parts[1] + "." + flip(parts[2], 10), status: 401},
			{name: "tampered payload", auth: "Bearer " + parts[0] + "." + flip(parts[1], 20) + "." + parts[2], status: 401},
			{name: "bob's payload with alice's signature", auth: "Bearer " + parts[0] + "." + bobParts[1] + "." + parts[2], status: 401},
			{name: "signature stripped", auth: "Bearer " + parts[0] + "." + parts[1] + ".", status: 401},
			{name: "signed with another key", auth: "Bearer " + tokentest.Sign(t, jwt.SigningMethodHS256, attacker, ours.Claims(), nil), status: 401},
			{name: "alg none", auth: "Bearer " + tokentest.Sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, ours.Claims(), nil), status: 401},
			{name: "alg none, our signature kept", auth: "Bearer " + strings.Split(tokentest.Sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, ours.Claims(), nil), ".")[0] + "." + parts[1] + "." + parts[2], status: 401},
			{name: "HS512 with our key", auth: "Bearer " + tokentest.Sign(t, jwt.SigningMethodHS512, ours.Key, ours.Claims(), nil), status: 401},
			{name: "HS384 with our key", auth: "Bearer " + tokentest.Sign(t, jwt.SigningMethodHS384, ours.Key, ours.Claims(), nil), status: 401},
			{name: "jku header with attacker key, never fetched", auth: "Bearer " + tokentest.Sign(t, jwt.SigningMethodHS256, attacker, ours.Claims(), map[string]any{"jku": jwks.URL, "kid": "k1"}), status: 401},
			{name: "embedded jwk with attacker key", auth: "Bearer " + tokentest.Sign(t, jwt.SigningMethodHS256, attacker, ours.Claims(), map[string]any{"jwk": map[string]any{"kty": "oct", "k": base64.RawURLEncoding.EncodeToString(attacker)}}), status: 401},
			{name: "no exp", auth: "Bearer " + hs(with(func(c jwt.MapClaims) { delete(c, "exp") })), status: 401},
			{name: "expired, forged", auth: "Bearer " + hs(with(func(c jwt.MapClaims) {
				c["iat"] = time.Now().Add(-3 * time.Hour).Unix()
				c["exp"] = time.Now().Add(-time.Hour).Unix()
			})), status: 401},
			{name: "expired, signed by our signer", auth: "Bearer " + expired, status: 401},
			{name: "no iat", auth: "Bearer " + hs(with(func(c jwt.MapClaims) { delete(c, "iat") })), status: 401},
			{name: "iat in the future", auth: "Bearer " + hs(with(func(c jwt.MapClaims) { c["iat"] = time.Now().Add(30 * time.Minute).Unix() })), status: 401},
			{name: "nbf in the future", auth: "Bearer " + hs(with(func(c jwt.MapClaims) { c["nbf"] = time.Now().Add(30 * time.Minute).Unix() })), status: 401},
			{name: "no jti", auth: "Bearer " + hs(with(func(c jwt.MapClaims) { delete(c, "jti") })), status: 401},
			{name: "empty jti", auth: "Bearer " + hs(with(func(c jwt.MapClaims) { c["jti"] = "" })), status: 401},
			{name: "no iss", auth: "Bearer " + hs(with(func(c jwt.MapClaims) { delete(c, "iss") })), status: 401},
			{name: "wrong iss", auth: "Bearer " + hs(with(func(c jwt.MapClaims) { c["iss"] = "someone-else" })), status: 401},
			{name: "no aud", auth: "Bearer " + hs(with(func(c jwt.MapClaims) { delete(c, "aud") })), status: 401},
			{name: "wrong aud", auth: "Bearer " + hs(with(func(c jwt.MapClaims) { c["aud"] = "miniauth-admin" })), status: 401},
			{name: "extra aud", auth: "Bearer " + hs(with(func(c jwt.MapClaims) { c["aud"] = []string{tokens.Access.Audience, "other"} })), status: 401},
			{name: "no typ", auth: "Bearer " + hs(with(func(c jwt.MapClaims) { delete(c, "typ") })), status: 401},
			{name: "typ refresh", auth: "Bearer " + hs(with(func(c jwt.MapClaims) { c["typ"] = "refresh" })), status: 401},
			{name: "typ admin", auth: "Bearer " + hs(with(func(c jwt.MapClaims) { c["typ"] = tokens.Admin.Type })), status: 401},
			{name: "no sid", auth: "Bearer " + hs(with(func(c jwt.MapClaims) { delete(c, "sid") })), status: 401},
			{name: "sid of no session", auth: "Bearer " + hs(with(func(c jwt.MapClaims) { c["sid"] = ours.SID + 100000 })), status: 401},
			{name: "no session nonce", auth: "Bearer " + hs(with(func(c jwt.MapClaims) { delete(c, "sno") })), status: 401},
			{name: "another session nonce", auth: "Bearer " + hs(with(func(c jwt.MapClaims) { c["sno"] = tokens.NewSessionNonce() })), status: 401},
			{name: "alice's sid, bob's sub", auth: "Bearer " + hs(with(func(c jwt.MapClaims) { c["sub"] = bobClaims.Subject })), status: 401},
			{name: "sub not a number", auth: "Bearer " + hs(with(func(c jwt.MapClaims) { c["sub"] = "alice" })), status: 401},
			{name: "sub with leading zero", auth: "Bearer " + hs(with(func(c jwt.MapClaims) { c["sub"] = "0" + ours.Sub })), status: 401},
			{name: "admin token", auth: "Bearer " + adminKind, status: 401},
			{name: "admin claims with user key", auth: "Bearer " + adminKindUserKey, status: 401},
			{name: "access claims with admin key", auth: "Bearer " + userKindAdminKey, status: 401},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				path := c.path
				if path == "" {
					path = "/api/me"
				}
				req := apptest.Request{Method: "GET", Path: path}
				if c.auth != "" {
					req.Header = map[string]string{"Authorization": c.auth}
				}
				r := env.Do(t, req)
				if c.status == 200 {
					if r.Status != 200 {
						t.Fatalf("got %d %s, want 200", r.Status, r.Body)
					}
					fragments(t, r.Body, []string{`"id":` + ours.Sub}, nil)
					return
				}
				expectUnauthorized(t, r)
			})
		}
		if n := jwksHits.Load(); n != 0 {
			t.Errorf("a jku URL from a token header was fetched %d times", n)
		}
	})
}

func TestAccessTokenExpiresAfterTTL(t *testing.T) {
	t.Parallel()
	// The token is signed 3 s in the past: contrib/jwt checks exp against
	// the system clock, so the server's clock goes back, not forward.
	var clk clock.Shifted
	clk.Shift(-3 * time.Second)
	env := start(t, apptest.Options{DatabaseURL: sqliteOnly.URL(t), Env: map[string]string{"MINIAUTH_ACCESS_TTL": "1s"}, Clock: clk.Now})
	g := env.Login(t, "o_short_ttl")
	if g.ExpiresIn != 1 {
		t.Errorf("expires_in = %d, want 1", g.ExpiresIn)
	}
	// Half a second ahead: the next token's second-truncated iat still
	// leaves it half a second of life in system time.
	clk.Shift(3500 * time.Millisecond)
	expectUnauthorized(t, me(t, env, g.AccessToken))
	// The session outlives its access token: refresh gets a new one.
	g2 := grantOf(t, refresh(t, env, g.RefreshToken))
	if r := me(t, env, g2.AccessToken); r.Status != 200 {
		t.Fatalf("me after refresh: %d %s", r.Status, r.Body)
	}
}

// TestRestartKeepsTokens stops the server and starts a new one on the same
// data dir (and database): the generated secret and the sessions persist.
func TestRestartKeepsTokens(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		dir, dbURL := t.TempDir(), b.URL(t)
		env := start(t, apptest.Options{DataDir: dir, DatabaseURL: dbURL})
		g := env.Login(t, "o_restart")
		r := env.Do(t, apptest.Request{Method: "PUT", Path: "/api/me", Token: g.AccessToken, Body: map[string]any{"nickname": "persisted"}})
		if r.Status != 200 {
			t.Fatalf("put: %d %s", r.Status, r.Body)
		}
		st, err := os.Stat(filepath.Join(dir, keys.SecretFile))
		if err != nil {
			t.Fatalf("generated secret: %v", err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("secret file mode %v, want 0600", st.Mode().Perm())
		}
		env.Stop()

		env2 := start(t, apptest.Options{DataDir: dir, DatabaseURL: dbURL})
		r = me(t, env2, g.AccessToken)
		if r.Status != 200 {
			t.Fatalf("access token after restart: %d %s", r.Status, r.Body)
		}
		if u := r.JSON(t); u["nickname"] != "persisted" {
			t.Errorf("nickname after restart = %v", u["nickname"])
		}
		g2 := grantOf(t, refresh(t, env2, g.RefreshToken))
		if g2.UserID() != g.UserID() {
			t.Errorf("refresh after restart: user %d, want %d", g2.UserID(), g.UserID())
		}
	})
}

// FuzzAccessToken sends arbitrary bearer tokens through the real
// middleware: the answer is 200 or 401, never anything else, and a 200
// only for a token that tokentest.Parse also accepts for the same session.
func FuzzAccessToken(f *testing.F) {
	env := start(f, apptest.Options{Env: map[string]string{"MINIAUTH_JWT_SECRET": testJWTSecret}})
	ks, err := keys.Derive([]byte(testJWTSecret))
	if err != nil {
		f.Fatal(err)
	}
	g := env.Login(f, "o_fuzz")
	valid, err := tokentest.Parse(g.AccessToken, tokens.Access, ks.UserToken)
	if err != nil {
		f.Fatal(err)
	}
	parts := strings.Split(g.AccessToken, ".")
	for _, s := range []string{
		g.AccessToken, g.RefreshToken, "", "a.b.c", "..", parts[0] + "." + parts[1] + ".",
		parts[0] + "." + parts[1] + "." + parts[2][:10], "eyJhbGciOiJub25lIn0." + parts[1] + ".",
		g.AccessToken + ".x", strings.Repeat("A", 2000),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		if len(tok) > 2048 {
			t.Skip("headers past the server's 4 KiB read buffer are refused before any token check")
		}
		for i := 0; i < len(tok); i++ {
			if tok[i] <= ' ' || tok[i] >= 0x7f {
				t.Skip("not sendable as a header value")
			}
		}
		r := env.Do(t, apptest.Request{Method: "GET", Path: "/api/me", Header: map[string]string{"Authorization": "Bearer " + tok}})
		switch r.Status {
		case 200:
			c, err := tokentest.Parse(tok, tokens.Access, ks.UserToken)
			if err != nil {
				t.Fatalf("middleware accepted a token tokentest.Parse refuses (%v): %q", err, tok)
			}
			// Every fuzz worker runs its own server, but the same set-up
			// makes the same user and session there.
			if c.Subject != valid.Subject || c.SessionID != valid.SessionID {
				t.Fatalf("accepted token carries other claims: %+v", c)
			}
		case 401:
			if r.ErrorCode() != "unauthorized" {
				t.Fatalf("401 with code %q", r.ErrorCode())
			}
		default:
			t.Fatalf("status %d for token %q: %s", r.Status, tok, r.Body)
		}
	})
}
