package handlers

import (
	"strconv"

	"github.com/gofiber/fiber/v2"
)

// Headers of a verified request, for the backend behind the proxy.
const (
	HeaderUserID    = "X-Miniauth-User-Id"
	HeaderSessionID = "X-Miniauth-Session-Id"
	// HeaderRoles is the user's roles, comma-separated, as of this
	// request (empty when none).
	HeaderRoles = "X-Miniauth-Roles"
)

// VerifyPath is the forward-auth endpoint reverse proxies ask before
// passing a request on to a team's own backend.
const VerifyPath = "/api/auth/verify"

// Verify is /api/auth/verify, any method, behind RequireUser: nginx
// auth_request repeats the original method, Caddy and Traefik send GET.
// The answer is only the ids and roles, in headers, and an empty body: the proxy
// copies the headers to the backend and drops the body, and the user's
// profile (openid, phone) has no business travelling on every request.
func Verify(c *fiber.Ctx) error {
	c.Set(HeaderUserID, strconv.Itoa(CurrentUser(c).ID))
	c.Set(HeaderSessionID, strconv.Itoa(CurrentSession(c)))
	c.Set(HeaderRoles, CurrentUser(c).Roles)
	c.Set(fiber.HeaderCacheControl, "no-store")
	// Status without a body: SendStatus would write "OK".
	c.Status(fiber.StatusOK)
	return nil
}
