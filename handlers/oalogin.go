package handlers

import (
	"net/url"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/miniauth/miniauth/app/config"
	"github.com/miniauth/miniauth/app/oalogin"
	"github.com/miniauth/miniauth/app/problem"
)

// oaCookie holds the browser's half of a web authorization's state. It
// goes only to the callback (its path), and Lax lets the top-level
// redirect back from WeChat carry it.
const oaCookie = "miniauth_oa"

// OALogin serves the Official Account (公众号) H5 and mobile app logins.
type OALogin struct {
	Service *oalogin.Service
}

// Authorize is GET /api/auth/oa/authorize?appid&scope&return_to: it sends
// the browser to WeChat's authorize page with a fresh state, and binds
// that state to the browser with a cookie.
func (h *OALogin) Authorize(c *fiber.Ctx) error {
	appID := strings.Clone(c.Query("appid"))
	if appID != "" && !config.ValidAppID(appID) {
		return problem.Invalid(map[string]string{"appid": "is not a configured Official Account"})
	}
	start, err := h.Service.Authorize(c.UserContext(), appID, strings.Clone(c.Query("scope")),
		strings.Clone(c.Query("return_to")), c.BaseURL())
	if err != nil {
		return err
	}
	c.Cookie(&fiber.Cookie{
		Name:     oaCookie,
		Value:    start.BrowserKey,
		Path:     oalogin.CallbackPath,
		MaxAge:   int(oalogin.StateTTL / time.Second),
		HTTPOnly: true,
		Secure:   strings.HasPrefix(h.Service.PublicURL, "https://") || c.Protocol() == "https",
		SameSite: fiber.CookieSameSiteLaxMode,
	})
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Redirect(start.RedirectURL, fiber.StatusFound)
}

// Callback is GET /api/auth/oa/callback?code&state, where WeChat sends
// the browser back. The browser goes on to return_to with a one-time
// ticket (or an error) in the fragment, never a token in a URL.
func (h *OALogin) Callback(c *fiber.Ctx) error {
	to, err := h.Service.Callback(c.UserContext(), strings.Clone(c.Query("state")),
		strings.Clone(c.Cookies(oaCookie)), strings.Clone(c.Query("code")))
	if err != nil {
		return err
	}
	// The callback URL holds the code: keep it out of Referer headers and
	// caches.
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set(fiber.HeaderReferrerPolicy, "no-referrer")
	return c.Redirect(to, fiber.StatusFound)
}

// Ticket is POST /api/auth/ticket {"ticket"}: the login answer, once.
func (h *OALogin) Ticket(c *fiber.Ctx) error {
	b, err := ReadBody(c, "ticket")
	if err != nil {
		return err
	}
	ticket, err := b.RequiredString("ticket")
	if err != nil {
		return err
	}
	if err := b.Err(nil); err != nil {
		return err
	}
	g, err := h.Service.Redeem(c.UserContext(), ticket, Client(c))
	if err != nil {
		return err
	}
	return writeGrant(c, g)
}

// AppLogin is POST /api/auth/app-login {"code","appid"?}: a mobile app's
// WeChat login code (or wx.miniapp.login's).
func (h *OALogin) AppLogin(c *fiber.Ctx) error {
	b, err := ReadBody(c, "code", "appid")
	if err != nil {
		return err
	}
	code, err := b.requiredCode("code")
	if err != nil {
		return err
	}
	appID := readAppID(b)
	if err := b.Err(nil); err != nil {
		return err
	}
	g, err := h.Service.AppLogin(c.UserContext(), appID, code, Client(c))
	if err != nil {
		return err
	}
	return writeGrant(c, g)
}

// MPVerify serves WeChat's domain-ownership file (MP_verify_*.txt) whose
// content was read at start-up.
func MPVerify(content []byte) fiber.Handler {
	return func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderContentType, fiber.MIMETextPlainCharsetUTF8)
		return c.Send(content)
	}
}

// simulatedPersonCode is the code the simulated authorize page hands
// back: the lenient simulator makes one stable person of it.
const simulatedPersonCode = "simulated-official-account-person"

// SimulatedAuthorize stands in for WeChat's authorize page when the
// built-in simulator answers (development): the person "agrees" at once
// and goes back to this server's own callback, nowhere else.
func SimulatedAuthorize(c *fiber.Ctx) error {
	back, err := url.Parse(c.Query("redirect_uri"))
	if err != nil || back.Path != oalogin.CallbackPath || !strings.EqualFold(back.Host, c.Hostname()) {
		return problem.Invalid(map[string]string{"redirect_uri": "must be this server's callback"})
	}
	q := url.Values{"code": {simulatedPersonCode}, "state": {c.Query("state")}}
	back.RawQuery = q.Encode()
	return c.Redirect(back.String(), fiber.StatusFound)
}
