package admin

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"github.com/miniauth/miniauth/app/admins"
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
// username has failed too often. The attempt is counted before the
// password is checked (Limiter.Reserve) and given back if it was right,
// so that guesses sent all at once are throttled like guesses in turn.
func (h *Handler) Login(c *fiber.Ctx) error {
	ctx := c.UserContext()
	ip := handlers.ClientIP(c)
	// A throttled address is refused before its form is read.
	if ok, wait, err := h.Limiter.AllowIP(ctx, ip); err != nil || !ok {
		if err != nil {
			return err
		}
		return h.throttled(c, &Page{Data: LoginData{}}, wait)
	}
	// From the body only: a password in the URL would reach logs.
	username := formValue(c, "username")
	password := formValue(c, "password")
	form := &Page{Data: LoginData{Username: username}}

	ok, wait, err := h.Limiter.Reserve(ctx, ip, username)
	if err != nil {
		return err
	}
	if !ok {
		return h.throttled(c, form, wait)
	}
	sess, err := h.Admins.Login(ctx, username, password, admins.Client{IP: ip, UserAgent: strings.Clone(c.Get(fiber.HeaderUserAgent))})
	if errors.Is(err, admins.ErrBadCredentials) {
		h.Log.Warn("admin sign-in failed", "ip", ip)
		form.Error = "Wrong username or password."
		return h.render(c, fiber.StatusUnauthorized, "login", form)
	}
	// Only a wrong password costs an attempt: a right one, or a failure
	// of ours, gives it back.
	if rerr := h.Limiter.Release(ctx, ip, username); rerr != nil {
		h.Log.Error("release sign-in attempt", "err", rerr)
	}
	if err != nil {
		return err
	}
	h.Log.Info("admin signed in", "admin_id", sess.Admin.ID, "ip", ip)
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

// throttled answers 429 with the sign-in form and when to try again.
func (h *Handler) throttled(c *fiber.Ctx, form *Page, wait time.Duration) error {
	c.Set(fiber.HeaderRetryAfter, strconv.Itoa(int(wait.Round(time.Second)/time.Second)))
	form.Error = "Too many failed sign-ins. Try again in " + wait.Round(time.Minute).String() + "."
	if wait < time.Minute {
		form.Error = "Too many failed sign-ins. Try again in a minute."
	}
	return h.render(c, fiber.StatusTooManyRequests, "login", form)
}

// Logout is POST /admin/logout: the session is revoked server-side, so
// a copy of the cookie is dead too.
func (h *Handler) Logout(c *fiber.Ctx) error {
	if err := h.Admins.Logout(c.UserContext(), currentSession(c)); err != nil {
		return err
	}
	dropCookie(c)
	return c.Redirect("/admin/login", fiber.StatusSeeOther)
}

func dropCookie(c *fiber.Ctx) {
	c.Cookie(&fiber.Cookie{Name: CookieName, Path: "/admin", Expires: fasthttp.CookieExpireDelete,
		HTTPOnly: true, SameSite: fiber.CookieSameSiteStrictMode})
}
