package admin

import (
	"bytes"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// Admin form limits. The panel's forms are a sign-in (a username of at
// most 64 bytes and a password of at most 1,024, percent-encoded up to
// three times that) or a CSRF token alone: nothing legitimate comes
// near these, and parsing anything bigger is work for an attacker.
const (
	MaxFormBody   = 8 << 10
	MaxFormFields = 8
)

// FormLimits refuses, before any field is parsed, an admin form post
// whose body is over MaxFormBody (the server's body rule already refuses
// a longer announced body), is not URL-encoded, or has more than
// MaxFormFields fields.
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
