package handlers

import (
	"bytes"
	"strconv"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
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

// knownMethods are the methods Fiber routes; it answers any other with a
// bare 400 before a route or middleware runs.
var knownMethods = func() map[string]bool {
	m := map[string]bool{}
	for _, name := range fiber.DefaultMethods {
		m[name] = true
	}
	return m
}()

// originalMethod is the fasthttp user value that keeps the real name of a
// method VerifyAnyMethod routed as GET, for the access log.
const originalMethod = "miniauth_original_method"

// VerifyAnyMethod wraps the server's handler so that /api/auth/verify
// answers every method name. nginx's auth_request repeats the client's
// method, whatever it is (PROPFIND and the rest of WebDAV, or a made-up
// one), and turns Fiber's 400 for a method it does not know into a 500
// for the client. Verify answers every method alike, so an unknown one is
// routed there as GET; the access log still shows the real name.
func VerifyAnyMethod(next fasthttp.RequestHandler) fasthttp.RequestHandler {
	return func(rc *fasthttp.RequestCtx) {
		if m := rc.Method(); !knownMethods[string(m)] && isVerifyPath(rc.Path()) {
			rc.SetUserValue(originalMethod, string(m))
			rc.Request.Header.SetMethod(fiber.MethodGet)
		}
		next(rc)
	}
}

// isVerifyPath matches VerifyPath as Fiber's router does: any case, with
// or without a trailing slash.
func isVerifyPath(p []byte) bool {
	p = bytes.TrimRight(p, "/")
	return bytes.EqualFold(p, []byte(VerifyPath))
}

// requestMethod is the request's method as the client sent it.
func requestMethod(c *fiber.Ctx) string {
	if m, ok := c.Context().UserValue(originalMethod).(string); ok {
		return m
	}
	return c.Method()
}
