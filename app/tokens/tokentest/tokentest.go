// Package tokentest checks miniauth's tokens in tests, the way the bearer
// and admin-cookie middleware do, without an HTTP round trip. Production
// code checks tokens only through contrib/jwt.
package tokentest

import (
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/miniauth/miniauth/app/tokens"
)

// Parse checks a token the way the middleware does (HS256 only, every
// claim required) and returns its claims.
func Parse(token string, kind tokens.Kind, key []byte) (*tokens.Claims, error) {
	var claims jwt.Claims
	var base *tokens.Claims
	if kind == tokens.Admin {
		c := &tokens.AdminClaims{}
		claims, base = c, &c.Claims
	} else {
		c := &tokens.AccessClaims{}
		claims, base = c, &c.Claims
	}
	_, err := jwt.ParseWithClaims(token, claims, func(*jwt.Token) (any, error) { return key, nil },
		jwt.WithValidMethods([]string{"HS256"}))
	if err != nil {
		return nil, err
	}
	return base, nil
}

// Forge signs tokens the way an attacker (or a buggy client) might.
type Forge struct {
	Key []byte
	Sub string
	SID int
	SNO string
}

// Claims are a complete, valid set of access-token claims for the forge's
// user and session, living for an hour.
func (f Forge) Claims() jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{
		"iss": tokens.Issuer,
		"sub": f.Sub,
		"aud": []string{tokens.Access.Audience},
		"exp": now.Add(time.Hour).Unix(),
		"iat": now.Unix(),
		"jti": "forged-jti-0001",
		"sid": f.SID,
		"sno": f.SNO,
		"typ": tokens.Access.Type,
	}
}

// Sign signs claims with method m and key, adding header's entries to the
// token's header.
func Sign(t testing.TB, m jwt.SigningMethod, key any, claims jwt.MapClaims, header map[string]any) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, claims)
	for k, v := range header {
		tok.Header[k] = v
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return s
}
