package admin

import (
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/miniauth/miniauth/handlers/admin/i18n"
)

const localLang = "admin_lang"

// Language picks the request's language: the lang cookie, else
// Accept-Language, else English.
func Language(c *fiber.Ctx) error {
	c.Locals(localLang, i18n.Match(c.Cookies(i18n.CookieName), c.Get(fiber.HeaderAcceptLanguage)))
	return c.Next()
}

func lang(c *fiber.Ctx) *i18n.Lang {
	if l, ok := c.Locals(localLang).(*i18n.Lang); ok {
		return l
	}
	return i18n.Match(c.Cookies(i18n.CookieName), c.Get(fiber.HeaderAcceptLanguage))
}

// langCookieTTL keeps the choice for a year.
const langCookieTTL = 365 * 24 * time.Hour

// SwitchLanguage is GET /admin/lang?to=zh-CN|en&back=/admin/…: it keeps
// the choice in the lang cookie and returns to the page. back must be a
// path of the panel, so the link cannot send anyone elsewhere.
func (h *Handler) SwitchLanguage(c *fiber.Ctx) error {
	l := i18n.Get(c.Query("to"))
	if l == nil {
		return pageError(fiber.StatusBadRequest, "")
	}
	c.Cookie(&fiber.Cookie{
		Name:     i18n.CookieName,
		Value:    l.Code,
		Path:     "/admin",
		Expires:  time.Now().Add(langCookieTTL),
		Secure:   h.SecureCookie,
		SameSite: fiber.CookieSameSiteLaxMode,
	})
	return c.Redirect(safeBack(c.Query("back")), fiber.StatusSeeOther)
}

// safeBack is back when it is a path under /admin, else the dashboard.
func safeBack(back string) string {
	if back == "/admin" || strings.HasPrefix(back, "/admin/") && !strings.HasPrefix(back, "/admin/lang") &&
		!strings.ContainsAny(back, "\\\r\n") && !strings.Contains(back, "/../") {
		return back
	}
	return "/admin/"
}
