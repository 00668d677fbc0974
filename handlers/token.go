package handlers

import (
	jwtware "github.com/gofiber/contrib/jwt"
	"github.com/gofiber/fiber/v2"
	"github.com/golang-jwt/jwt/v5"
)

// localToken is where contrib/jwt leaves the verified token.
const localToken = "jwt"

// CheckToken is contrib/jwt set up the one way miniauth uses it, for the
// API's bearer token and the admin panel's cookie alike: HS256 with key
// only, every claim required (the claims type's Validate, see
// app/tokens), and the verified claims handed to verified, which decides
// the rest (is the session live?) and calls c.Next. A token that is
// missing or does not verify is answered by refused. lookup is
// contrib/jwt's TokenLookup: "" for the Authorization: Bearer header,
// "cookie:<name>" for a cookie.
func CheckToken[C any, PC interface {
	*C
	jwt.Claims
}](key []byte, lookup string, refused fiber.Handler, verified func(c *fiber.Ctx, claims PC) error) fiber.Handler {
	return checkToken[C, PC](jwtware.Config{SigningKey: jwtware.SigningKey{JWTAlg: jwtware.HS256, Key: key}}, lookup, refused, verified)
}

// CheckTokenKeys is CheckToken for tokens signed with an asymmetric key
// (MINIAUTH_JWT_ALG ES256 or EdDSA): keyfunc (app/keys.Ring.Keyfunc)
// accepts only the configured algorithm and a published kid, and returns
// that key, so contrib/jwt verifies with the key set /.well-known/jwks.json
// publishes.
func CheckTokenKeys[C any, PC interface {
	*C
	jwt.Claims
}](keyfunc jwt.Keyfunc, lookup string, refused fiber.Handler, verified func(c *fiber.Ctx, claims PC) error) fiber.Handler {
	return checkToken[C, PC](jwtware.Config{KeyFunc: keyfunc}, lookup, refused, verified)
}

// checkToken completes key, the key part of contrib/jwt's configuration.
func checkToken[C any, PC interface {
	*C
	jwt.Claims
}](key jwtware.Config, lookup string, refused fiber.Handler, verified func(c *fiber.Ctx, claims PC) error) fiber.Handler {
	return jwtware.New(jwtware.Config{
		SigningKey:  key.SigningKey,
		KeyFunc:     key.KeyFunc,
		Claims:      PC(new(C)),
		TokenLookup: lookup,
		// Set again: contrib/jwt forgets it once TokenLookup is set.
		AuthScheme:   "Bearer",
		ContextKey:   localToken,
		ErrorHandler: func(c *fiber.Ctx, _ error) error { return refused(c) },
		SuccessHandler: func(c *fiber.Ctx) error {
			tok, _ := c.Locals(localToken).(*jwt.Token)
			if tok == nil {
				return refused(c)
			}
			claims, ok := tok.Claims.(PC)
			if !ok {
				return refused(c)
			}
			return verified(c, claims)
		},
	})
}
