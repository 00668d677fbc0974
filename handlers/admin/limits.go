package admin

import (
	"bytes"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
)

// Admin form limits. The panel's forms are a sign-in (a username of at
// most 64 bytes and a password of at most 1,024, percent-encoded up to
// three times that) or a CSRF token alone: nothing legitimate comes
// near these, and parsing anything bigger is work for an attacker.
const (
	MaxFormBody   = 8 << 10
	MaxFormFields = 8
)

// LimitBodies makes srv refuse a body over MaxFormBody on any /admin URL
// as soon as its headers are read (413, connection closed), before the
// transport buffers it: the server's BodyLimit is sized for avatar
// uploads. It wraps any HeaderReceived hook already installed.
func LimitBodies(srv *fasthttp.Server) {
	next := srv.HeaderReceived
	srv.HeaderReceived = func(h *fasthttp.RequestHeader) fasthttp.RequestConfig {
		var cfg fasthttp.RequestConfig
		if next != nil {
			cfg = next(h)
		}
		if isAdminURI(h.RequestURI()) && (cfg.MaxRequestBodySize == 0 || cfg.MaxRequestBodySize > MaxFormBody) {
			cfg.MaxRequestBodySize = MaxFormBody
		}
		return cfg
	}
}

// isAdminURI reports whether a request URI is under /admin, as Fiber
// routes it (case-insensitively, on the path as sent) or once decoded
// and cleaned, so that no spelling of an admin URL escapes the cap.
func isAdminURI(requestURI []byte) bool {
	u := fasthttp.AcquireURI()
	defer fasthttp.ReleaseURI(u)
	if err := u.Parse(nil, requestURI); err != nil {
		return true // unparsable: the tighter cap is the safe side
	}
	return underAdmin(u.PathOriginal()) || underAdmin(u.Path())
}

func underAdmin(path []byte) bool {
	const prefix = "/admin"
	if len(path) < len(prefix) || !strings.EqualFold(string(path[:len(prefix)]), prefix) {
		return false
	}
	return len(path) == len(prefix) || path[len(prefix)] == '/'
}

// FormLimits refuses, before any field is parsed, an admin form post
// whose body is over MaxFormBody (when LimitBodies did not already), is
// not URL-encoded, or has more than MaxFormFields fields.
func FormLimits(c *fiber.Ctx) error {
	switch c.Method() {
	case fiber.MethodGet, fiber.MethodHead, fiber.MethodOptions:
		return c.Next()
	}
	if c.Request().Header.ContentLength() > MaxFormBody {
		return pageError(fiber.StatusRequestEntityTooLarge, "")
	}
	body := c.Request().Body()
	if len(body) == 0 {
		return c.Next()
	}
	if len(body) > MaxFormBody {
		return pageError(fiber.StatusRequestEntityTooLarge, "")
	}
	ct := c.Request().Header.ContentType()
	if i := bytes.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	if !strings.EqualFold(string(bytes.TrimSpace(ct)), fiber.MIMEApplicationForm) ||
		bytes.Count(body, []byte("&"))+1 > MaxFormFields {
		return pageError(fiber.StatusBadRequest, "")
	}
	return c.Next()
}
