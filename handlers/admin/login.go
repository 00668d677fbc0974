package admin

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"github.com/miniauth/miniauth/app/admins"
	"github.com/miniauth/miniauth/app/audit"
	"github.com/miniauth/miniauth/handlers"
)

// LoginData fills the sign-in form again after a failure.
type LoginData struct {
	Username string
}

// LoginForm is GET /admin/login.
func (h *Handler) LoginForm(c *fiber.Ctx) error {
	return h.render(c, fiber.StatusOK, "login", &Page{Data: LoginData{}})
}

// Login is POST /admin/login: 303 to the dashboard with the session
// cookie, 401 with the form for wrong credentials, 429 once an IP or a
// username has failed too often.
func (h *Handler) Login(c *fiber.Ctx) error {
	username := strings.Clone(c.FormValue("username"))
	password := strings.Clone(c.FormValue("password"))
	ip := handlers.ClientIP(c)
	form := &Page{Data: LoginData{Username: username}}

	ok, wait, err := h.Limiter.Allow(c.UserContext(), ip, username)
	if err != nil {
		return err
	}
	if !ok {
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(int(wait.Round(time.Second)/time.Second)))
		form.Error = lang(c).T("login.throttled", wait.Round(time.Minute).String())
		if wait < time.Minute {
			form.Error = lang(c).T("login.throttled_minute")
		}
		return h.render(c, fiber.StatusTooManyRequests, "login", form)
	}

	ua := strings.Clone(c.Get(fiber.HeaderUserAgent))
	sess, err := h.Admins.Login(c.UserContext(), username, password, admins.Client{IP: ip, UserAgent: ua})
	if errors.Is(err, admins.ErrBadCredentials) {
		if err := h.Limiter.Fail(c.UserContext(), ip, username); err != nil {
			return err
		}
		h.Log.Warn("admin sign-in failed", "ip", ip)
		if err := h.Audit.Record(c.UserContext(), audit.Entry{Actor: username, Action: audit.SignInFailed, IP: ip, UserAgent: ua}); err != nil {
			return err
		}
		form.Error = lang(c).T("login.wrong")
		return h.render(c, fiber.StatusUnauthorized, "login", form)
	}
	if err != nil {
		return err
	}
	h.Log.Info("admin signed in", "admin_id", sess.Admin.ID, "ip", ip)
	if err := h.Audit.Record(c.UserContext(), audit.Entry{Actor: sess.Admin.Username, AdminID: sess.Admin.ID, Action: audit.SignIn, IP: ip, UserAgent: ua}); err != nil {
		return err
	}
	c.Cookie(&fiber.Cookie{
		Name:     CookieName,
		Value:    sess.Token,
		Path:     "/admin",
		Expires:  sess.ExpiresAt,
		HTTPOnly: true,
		Secure:   h.SecureCookie,
		SameSite: fiber.CookieSameSiteStrictMode,
	})
	return c.Redirect("/admin/", fiber.StatusSeeOther)
}

// Logout is POST /admin/logout: the session is revoked server-side, so
// a copy of the cookie is dead too.
func (h *Handler) Logout(c *fiber.Ctx) error {
	if err := h.Admins.Logout(c.UserContext(), currentSession(c)); err != nil {
		return err
	}
	if err := h.record(c, audit.Entry{Action: audit.SignOut}); err != nil {
		return err
	}
	dropCookie(c)
	return c.Redirect("/admin/login", fiber.StatusSeeOther)
}

func dropCookie(c *fiber.Ctx) {
	c.Cookie(&fiber.Cookie{Name: CookieName, Path: "/admin", Expires: fasthttp.CookieExpireDelete,
		HTTPOnly: true, SameSite: fiber.CookieSameSiteStrictMode})
}
