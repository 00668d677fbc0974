package tokens_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/miniauth/miniauth/app/tokens"
	"github.com/miniauth/miniauth/app/tokens/tokentest"
)

var (
	userKey  = []byte("user-key-0123456789abcdef-0123456789abcdef")
	adminKey = []byte("admin-key-0123456789abcdef-0123456789abcde")
)

func signer(kind tokens.Kind, key []byte) *tokens.Signer {
	return &tokens.Signer{Kind: kind, Key: key, TTL: time.Hour}
}

func TestSignParseRoundTrip(t *testing.T) {
	now := time.Now()
	tok, exp, err := signer(tokens.Access, userKey).Sign(42, 7, "")
	if err != nil {
		t.Fatal(err)
	}
	if d := exp.Sub(now); d < 59*time.Minute || d > 61*time.Minute {
		t.Errorf("exp is %s from now, want the TTL", d)
	}
	c, err := tokentest.Parse(tok, tokens.Access, userKey)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	if c.UserID() != 42 || c.SessionID != 7 || c.Type != "access" || c.Issuer != tokens.Issuer || c.ID == "" {
		t.Errorf("claims: %+v", c)
	}
	// Two tokens for the same session differ (jti).
	tok2, _, _ := signer(tokens.Access, userKey).Sign(42, 7, "")
	if tok2 == tok {
		t.Error("two tokens are identical")
	}
	raw, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
	if !strings.Contains(string(raw), `"alg":"HS256"`) {
		t.Errorf("header %s", raw)
	}
}

// TestKindsDoNotMix: a user token never passes as an admin token, even
// with a shared key, and each kind refuses the other's key.
func TestKindsDoNotMix(t *testing.T) {
	user, _, _ := signer(tokens.Access, userKey).Sign(1, 1, "")
	admin, _, _ := signer(tokens.Admin, adminKey).Sign(1, 1, "")
	adminSameKey, _, _ := signer(tokens.Admin, userKey).Sign(1, 1, "")
	for _, c := range []struct {
		name  string
		token string
		kind  tokens.Kind
		key   []byte
		ok    bool
	}{
		{"user as user", user, tokens.Access, userKey, true},
		{"admin as admin", admin, tokens.Admin, adminKey, true},
		{"user as admin", user, tokens.Admin, userKey, false},
		{"user with admin key", user, tokens.Admin, adminKey, false},
		{"admin as user", admin, tokens.Access, userKey, false},
		{"admin claims with user key as user", adminSameKey, tokens.Access, userKey, false},
		{"user with wrong key", user, tokens.Access, adminKey, false},
	} {
		_, err := tokentest.Parse(c.token, c.kind, c.key)
		if (err == nil) != c.ok {
			t.Errorf("%s: err = %v, want ok %v", c.name, err, c.ok)
		}
	}
}

func validClaims() jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{
		"iss": tokens.Issuer, "sub": "5", "aud": []string{tokens.Access.Audience},
		"exp": now.Add(time.Hour).Unix(), "iat": now.Unix(), "jti": "j1", "sid": 3, "typ": "access",
	}
}

func forge(t testing.TB, m jwt.SigningMethod, key any, edit func(jwt.MapClaims), header map[string]any) string {
	t.Helper()
	c := validClaims()
	if edit != nil {
		edit(c)
	}
	tok := jwt.NewWithClaims(m, c)
	for k, v := range header {
		tok.Header[k] = v
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestParseRefuses(t *testing.T) {
	del := func(k string) func(jwt.MapClaims) { return func(c jwt.MapClaims) { delete(c, k) } }
	set := func(k string, v any) func(jwt.MapClaims) { return func(c jwt.MapClaims) { c[k] = v } }
	good, _, _ := signer(tokens.Access, userKey).Sign(5, 3, "")
	p := strings.Split(good, ".")
	cases := []struct {
		name  string
		token string
	}{
		{"alg none", forge(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, nil, nil)},
		{"HS512 with our key", forge(t, jwt.SigningMethodHS512, userKey, nil, nil)},
		{"HS384 with our key", forge(t, jwt.SigningMethodHS384, userKey, nil, nil)},
		{"other key", forge(t, jwt.SigningMethodHS256, []byte("another-key-0123456789abcdef0123456789"), nil, nil)},
		{"no exp", forge(t, jwt.SigningMethodHS256, userKey, del("exp"), nil)},
		{"expired", forge(t, jwt.SigningMethodHS256, userKey, set("exp", time.Now().Add(-time.Second).Unix()), nil)},
		{"no iat", forge(t, jwt.SigningMethodHS256, userKey, del("iat"), nil)},
		{"iat in the future", forge(t, jwt.SigningMethodHS256, userKey, set("iat", time.Now().Add(10*time.Minute).Unix()), nil)},
		{"nbf in the future", forge(t, jwt.SigningMethodHS256, userKey, set("nbf", time.Now().Add(10*time.Minute).Unix()), nil)},
		{"no jti", forge(t, jwt.SigningMethodHS256, userKey, del("jti"), nil)},
		{"no iss", forge(t, jwt.SigningMethodHS256, userKey, del("iss"), nil)},
		{"wrong iss", forge(t, jwt.SigningMethodHS256, userKey, set("iss", "other"), nil)},
		{"no aud", forge(t, jwt.SigningMethodHS256, userKey, del("aud"), nil)},
		{"wrong aud", forge(t, jwt.SigningMethodHS256, userKey, set("aud", "miniauth-admin"), nil)},
		{"two auds", forge(t, jwt.SigningMethodHS256, userKey, set("aud", []string{"miniauth-api", "x"}), nil)},
		{"no typ", forge(t, jwt.SigningMethodHS256, userKey, del("typ"), nil)},
		{"typ admin", forge(t, jwt.SigningMethodHS256, userKey, set("typ", "admin"), nil)},
		{"no sid", forge(t, jwt.SigningMethodHS256, userKey, del("sid"), nil)},
		{"negative sid", forge(t, jwt.SigningMethodHS256, userKey, set("sid", -3), nil)},
		{"sid as string", forge(t, jwt.SigningMethodHS256, userKey, set("sid", "3"), nil)},
		{"no sub", forge(t, jwt.SigningMethodHS256, userKey, del("sub"), nil)},
		{"sub zero", forge(t, jwt.SigningMethodHS256, userKey, set("sub", "0"), nil)},
		{"sub with sign", forge(t, jwt.SigningMethodHS256, userKey, set("sub", "+5"), nil)},
		{"sub with padding", forge(t, jwt.SigningMethodHS256, userKey, set("sub", "05"), nil)},
		{"sub as number", forge(t, jwt.SigningMethodHS256, userKey, set("sub", 5), nil)},
		{"jku to elsewhere, other key", forge(t, jwt.SigningMethodHS256, []byte("attacker-key-0123456789abcdef0123"), nil, map[string]any{"jku": "http://127.0.0.1:1/jwks", "kid": "x"})},
		{"tampered payload", p[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"6"}`)) + "." + p[2]},
		{"stripped signature", p[0] + "." + p[1] + "."},
		{"two segments", p[0] + "." + p[1]},
		{"empty", ""},
		{"garbage", "not a token"},
		{"refresh token", func() string { s, _ := tokens.NewRefreshSecret(); return tokens.RefreshToken(6, s) }()},
	}
	for _, c := range cases {
		if _, err := tokentest.Parse(c.token, tokens.Access, userKey); err == nil {
			t.Errorf("%s: accepted", c.name)
		}
	}
	// The forging itself is right: unedited claims pass, and a kid header
	// (which nothing reads) changes nothing.
	for _, h := range []map[string]any{nil, {"kid": "../../etc/passwd"}} {
		if _, err := tokentest.Parse(forge(t, jwt.SigningMethodHS256, userKey, nil, h), tokens.Access, userKey); err != nil {
			t.Errorf("valid forged token (header %v) refused: %v", h, err)
		}
	}
}

func TestParseUsesInjectedClock(t *testing.T) {
	s := signer(tokens.Access, userKey)
	s.Now = func() time.Time { return time.Now().Add(-2 * time.Hour) }
	tok, exp, err := s.Sign(1, 1, "")
	if err != nil {
		t.Fatal(err)
	}
	if !exp.Before(time.Now()) {
		t.Fatalf("exp %s should be in the past", exp)
	}
	if _, err := tokentest.Parse(tok, tokens.Access, userKey); err == nil {
		t.Fatal("a token expired an hour ago was accepted")
	}
}

func TestRefreshTokens(t *testing.T) {
	seen := map[string]bool{}
	for i := range 100 {
		secret, hash := tokens.NewRefreshSecret()
		raw, err := base64.RawURLEncoding.DecodeString(secret)
		if err != nil || len(raw) != 32 {
			t.Fatalf("refresh secret %q is not 256 bits of base64url: %v", secret, err)
		}
		if seen[secret] {
			t.Fatal("refresh secret repeated")
		}
		seen[secret] = true
		tok := tokens.RefreshToken(i+1, secret)
		id, parsed, ok := tokens.ParseRefreshToken(tok)
		if !ok || id != i+1 || string(parsed) != string(hash) || len(hash) != 32 {
			t.Fatalf("%q parsed as %d %x %v, want %d %x", tok, id, parsed, ok, i+1, hash)
		}
		if strings.Contains(string(hash), secret) {
			t.Fatal("hash contains the secret")
		}
		if string(tokens.LegacyRefreshHash(secret)) != string(hash) || len(tokens.LegacyRefreshHash(tok)) != 32 {
			t.Fatal("legacy hash is not the token's SHA-256")
		}
	}
	// Only "<canonical positive id>.<secret>" is a token naming its
	// session; anything else (a legacy token among them) is not.
	secret, _ := tokens.NewRefreshSecret()
	for _, bad := range []string{"", secret, "." + secret, "5.", "0." + secret, "-5." + secret, "+5." + secret,
		"05." + secret, " 5." + secret, "5 ." + secret, "x." + secret, "1e3." + secret,
		"9223372036854775807." + secret, "99999999999999999999." + secret} {
		if id, _, ok := tokens.ParseRefreshToken(bad); ok {
			t.Errorf("%q parsed as session %d", bad, id)
		}
	}
}

// FuzzParse: no input panics, and an accepted token is exactly one that
// our key signed with HS256 over its header and payload, carrying a user
// access token's claims. (Fuzz workers run this setup again, so the seed
// token is not known to them; the signature is the oracle.)
func FuzzParse(f *testing.F) {
	good, _, err := signer(tokens.Access, userKey).Sign(5, 3, "")
	if err != nil {
		f.Fatal(err)
	}
	p := strings.Split(good, ".")
	for _, s := range []string{
		good, "", ".", "..", "a.b.c", p[0] + "." + p[1] + ".", p[0] + "." + p[1],
		forge(f, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, nil, nil),
		forge(f, jwt.SigningMethodHS512, userKey, nil, nil),
		forge(f, jwt.SigningMethodHS256, userKey, func(c jwt.MapClaims) { delete(c, "exp") }, nil),
		"eyJhbGciOiJIUzI1NiJ9.e30.", "eyJhbGciOiJIUzI1NiJ9.bnVsbA.x", "eyJhbGciOiJIUzI1NiJ9.WzFd.x",
		"eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjFlMzAwfQ.x", "eyJhbGciOjF9.e30.x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		if _, err := tokentest.Parse(tok, tokens.Admin, userKey); err == nil {
			t.Fatalf("accepted as an admin token: %q", tok)
		}
		c, err := tokentest.Parse(tok, tokens.Access, userKey)
		if err != nil {
			return
		}
		parts := strings.Split(tok, ".")
		if len(parts) != 3 {
			t.Fatalf("accepted a token of %d segments: %q", len(parts), tok)
		}
		sig, err := base64.RawURLEncoding.DecodeString(parts[2])
		mac := hmac.New(sha256.New, userKey)
		mac.Write([]byte(parts[0] + "." + parts[1]))
		if err != nil || !hmac.Equal(sig, mac.Sum(nil)) {
			t.Fatalf("accepted a token our key did not sign: %q", tok)
		}
		if c.Type != "access" || c.UserID() <= 0 || c.SessionID <= 0 || c.ExpiresAt == nil || c.ID == "" {
			t.Fatalf("accepted incomplete claims %+v", c)
		}
	})
}
