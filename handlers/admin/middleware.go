package admin

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"

	"github.com/miniauth/miniauth/app/admins"
	"github.com/miniauth/miniauth/app/database"
	"github.com/miniauth/miniauth/app/problem"
	"github.com/miniauth/miniauth/app/tokens"
	"github.com/miniauth/miniauth/ent"
	"github.com/miniauth/miniauth/handlers"
)

// Keys of request-scoped values.
const (
	localAdmin   = "admin"
	localSession = "admin_session"
)

// contentSecurityPolicy allows only this server's stylesheet and script,
// no inline script, and avatars from https.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// SecurityHeaders go on every admin response; pages are never cached.
func SecurityHeaders(c *fiber.Ctx) error {
	c.Set("Content-Security-Policy", contentSecurityPolicy)
	c.Set(fiber.HeaderXFrameOptions, "DENY")
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	// Avatars load from other hosts: they must not learn admin URLs,
	// whose query strings can hold an openid or a phone number. Not
	// "no-referrer": under it a browser sends "Origin: null" with the
	// panel's own form posts, which SameOrigin would then refuse.
	c.Set(fiber.HeaderReferrerPolicy, "same-origin")
	c.Set("Cross-Origin-Opener-Policy", "same-origin")
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Next()
}

// Errors answers every error under /admin with an HTML page, panics
// included: the panel's users are browsers, not API clients.
func (h *Handler) Errors(c *fiber.Ctx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = h.failed(c, fmt.Errorf("panic: %v", r))
		}
	}()
	if err := c.Next(); err != nil {
		return h.failed(c, err)
	}
	return nil
}

func (h *Handler) failed(c *fiber.Ctx, err error) error {
	status, message, known := pageOf(lang(c), err)
	if status == fiber.StatusServiceUnavailable {
		// The database's fault: counted and logged quietly, once per
		// cause and window, by Faults.
		if h.Faults != nil {
			h.Faults.Report(err)
		}
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(int(database.RetryAfter/time.Second)))
	}
	if !known {
		h.Log.Error("admin panel error", "method", c.Method(), "path", c.Path(), "request_id", handlers.RequestID(c), "err", err)
	}
	c.Response().ResetBody()
	if rerr := h.errorPage(c, status, message); rerr != nil {
		h.Log.Error("render error page", "err", rerr)
		c.Status(status).Set(fiber.HeaderContentType, fiber.MIMETextPlainCharsetUTF8)
		return c.SendString(utils.StatusMessage(status))
	}
	return nil
}

// RequireAdmin lets through only requests with a valid admin cookie
// whose session is live, checked by contrib/jwt against the admin key and
// audience (a user's access token fails both). Anything else is sent to
// the sign-in page.
func (h *Handler) RequireAdmin() fiber.Handler {
	return handlers.CheckToken(h.Admins.Signer.Key, "cookie:"+CookieName, toSignIn, func(c *fiber.Ctx, claims *tokens.AdminClaims) error {
		a, err := h.Admins.Authenticate(c.UserContext(), claims.UserID(), claims.SessionID, claims.SessionNonce)
		if err != nil {
			if errors.Is(err, admins.ErrSession) {
				return toSignIn(c)
			}
			return err
		}
		c.Locals(localAdmin, a)
		c.Locals(localSession, claims.SessionID)
		return c.Next()
	})
}

// toSignIn redirects to the sign-in page and drops a dead cookie.
func toSignIn(c *fiber.Ctx) error {
	if c.Cookies(CookieName) != "" {
		dropCookie(c)
	}
	return c.Redirect("/admin/login", fiber.StatusSeeOther)
}

// RequireCSRF refuses state-changing requests without the session's
// CSRF token. SameSite=Strict already keeps the cookie off cross-site
// requests; the token is the second lock. It is read from the form body
// only: a token in the URL would leak into logs and browser history.
func (h *Handler) RequireCSRF(c *fiber.Ctx) error {
	switch c.Method() {
	case fiber.MethodGet, fiber.MethodHead, fiber.MethodOptions:
		return c.Next()
	}
	if !h.Admins.ValidCSRF(currentSession(c), formValue(c, "csrf")) {
		return pageError(problem.Forbidden, "")
	}
	return c.Next()
}

// formValue is a field of a URL-encoded form body; the query string is
// never read.
func formValue(c *fiber.Ctx, name string) string {
	return string(c.Request().PostArgs().Peek(name))
}

// SameOrigin refuses, before any other work, a form post that a browser
// says comes from another site or origin: by Fetch Metadata
// (Sec-Fetch-Site), and by Origin or, without it, Referer, which older
// browsers send without Fetch Metadata. Every signal present must agree.
// A request with none of them is not a browser's cross-site form.
func SameOrigin(c *fiber.Ctx) error {
	switch c.Method() {
	case fiber.MethodGet, fiber.MethodHead, fiber.MethodOptions:
		return c.Next()
	}
	host := string(c.Request().Header.Host())
	if site := c.Get("Sec-Fetch-Site"); site != "" && !strings.EqualFold(site, "same-origin") && !strings.EqualFold(site, "none") {
		return pageError(problem.Forbidden, "")
	}
	if origin := c.Get(fiber.HeaderOrigin); origin != "" {
		if !sameHost(origin, host) {
			return pageError(problem.Forbidden, "")
		}
	} else if referer := c.Get(fiber.HeaderReferer); referer != "" && !sameHost(referer, host) {
		return pageError(problem.Forbidden, "")
	}
	return c.Next()
}

// sameHost reports whether the URL (an Origin or a Referer) names host.
// Only the host is compared, not the scheme: behind a proxy that ends
// TLS, the browser's https origin reaches us over plain http. "null" and
// anything unparsable are another origin.
func sameHost(rawURL, host string) bool {
	u, err := url.Parse(rawURL)
	return err == nil && u.Host != "" && strings.EqualFold(u.Host, host)
}

// NotFound is the panel's catch-all.
func (h *Handler) NotFound(c *fiber.Ctx) error { return notFound("") }

func currentAdmin(c *fiber.Ctx) *ent.Admin {
	a, _ := c.Locals(localAdmin).(*ent.Admin)
	return a
}

func currentSession(c *fiber.Ctx) int {
	id, _ := c.Locals(localSession).(int)
	return id
}
