package admin

import (
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
)

// flashCookie carries a notice to the page an action redirects to. It is
// one-shot (the page clears it) and scoped to that page's path, so a
// link cannot make the panel claim something happened: the URL carries
// no notice, and a cross-site request cannot set the cookie.
const flashCookie = "miniauth_flash"

// flashTTL bounds how long a notice waits for its page.
const flashTTL = time.Minute

// setFlash leaves notice (a key of notices) for the next visit to path.
func (h *Handler) setFlash(c *fiber.Ctx, path, notice string) {
	c.Cookie(&fiber.Cookie{Name: flashCookie, Value: notice, Path: path, MaxAge: int(flashTTL / time.Second),
		HTTPOnly: true, Secure: h.SecureCookie, SameSite: fiber.CookieSameSiteStrictMode})
}

// takeFlash returns the notice left for this page, if any, and clears it.
func (h *Handler) takeFlash(c *fiber.Ctx, path string) string {
	notice := c.Cookies(flashCookie)
	if notice == "" {
		return ""
	}
	c.Cookie(&fiber.Cookie{Name: flashCookie, Path: path, Expires: fasthttp.CookieExpireDelete,
		HTTPOnly: true, Secure: h.SecureCookie, SameSite: fiber.CookieSameSiteStrictMode})
	return notice
}
