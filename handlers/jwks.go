package handlers

import (
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/miniauth/miniauth/app/keys"
)

// JWKSPath is where the public keys of access tokens are published (the
// conventional path, which resource servers are configured with).
const JWKSPath = "/.well-known/jwks.json"

// JWKS is GET /.well-known/jwks.json: {"keys":[…]}, public members only.
// Verifiers may cache it for keys.JWKSMaxAge; a new key is announced by
// its kid, which makes them fetch the set again.
func JWKS(set func() []byte) fiber.Handler {
	cacheControl := "public, max-age=" + strconv.Itoa(int(keys.JWKSMaxAge.Seconds()))
	return func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
		c.Set(fiber.HeaderCacheControl, cacheControl)
		return c.Send(set())
	}
}
