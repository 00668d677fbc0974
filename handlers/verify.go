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
)

// VerifyPath is the forward-auth endpoint reverse proxies ask before
// passing a request on to a team's own backend.
const VerifyPath = "/api/auth/verify"

// Verify is /api/auth/verify, any method, behind RequireUser: nginx
// auth_request repeats the original method, Caddy and Traefik send GET.
// The answer is only the ids, in headers, and an empty body: the proxy
// copies the headers to the backend and drops the body, and the user's
// profile (openid, phone) has no business travelling on every request.
func Verify(c *fiber.Ctx) error {
	c.Set(HeaderUserID, strconv.Itoa(CurrentUser(c).ID))
	c.Set(HeaderSessionID, strconv.Itoa(CurrentSession(c)))
	c.Set(fiber.HeaderCacheControl, "no-store")
	// Status without a body: SendStatus would write "OK".
	c.Status(fiber.StatusOK)
	return nil
}

// verifyBodyLimit is the body fasthttp buffers for the verify endpoint.
// fasthttp reads a whole body before any handler runs; 0 would mean its
// 4 MiB default, so 1 byte is the least it can be told.
const verifyBodyLimit = 1

// VerifyHeaderReceived is for fasthttp.Server.HeaderReceived: it caps the
// body of requests to VerifyPath so that a client cannot make the server
// buffer one (proxies send none). A request to it with a body gets the JSON
// 413 before the body is read. The path is matched the way Fiber routes by
// default (case-insensitive, trailing slash ignored, not unescaped), so no
// spelling that reaches Verify escapes the cap.
func VerifyHeaderReceived(h *fasthttp.RequestHeader) fasthttp.RequestConfig {
	if isVerifyPath(h.RequestURI()) {
		return fasthttp.RequestConfig{MaxRequestBodySize: verifyBodyLimit}
	}
	return fasthttp.RequestConfig{}
}

var verifyPathBytes = []byte(VerifyPath)

// isVerifyPath reports whether a request-target names VerifyPath: its
// path (the part before '?' of an origin form, or after the authority of
// an absolute form) equals it, ignoring case and trailing slashes.
func isVerifyPath(uri []byte) bool {
	if i := bytes.IndexByte(uri, '?'); i >= 0 {
		uri = uri[:i]
	}
	if i := bytes.Index(uri, []byte("://")); i >= 0 {
		rest := uri[i+3:]
		j := bytes.IndexByte(rest, '/')
		if j < 0 {
			return false
		}
		uri = rest[j:]
	}
	uri = bytes.TrimRight(uri, "/")
	return bytes.EqualFold(uri, verifyPathBytes)
}
