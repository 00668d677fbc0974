// Package tokentest checks miniauth's tokens in tests, the way the bearer
// and admin-cookie middleware do, without an HTTP round trip. Production
// code checks tokens only through contrib/jwt.
package tokentest

import (
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
