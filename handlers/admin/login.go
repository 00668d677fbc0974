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
	"github.com/miniauth/miniauth/app/tokens"
	"github.com/miniauth/miniauth/ent"
	"github.com/miniauth/miniauth/handlers"
)

// LoginData fills the sign-in form again after a failure.
type LoginData struct {
	Username string
}

// OTPData fills the second sign-in step: the signed, short-lived token
// that says whose password was right (never the password itself).
type OTPData struct {
	Pending string
}

// LoginForm is GET /admin/login.
func (h *Handler) LoginForm(c *fiber.Ctx) error {
	return h.render(c, fiber.StatusOK, "login", &Page{Data: LoginData{}})
}

// Login is POST /admin/login: 303 to the dashboard with the session
// cookie, or, for an admin with a second factor, 200 with the code form
// (login_otp.go); 401 with the form for wrong credentials, 429 once an IP
// or a username has failed too often. The attempt is counted before the
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
		return h.throttled(c, "login", &Page{Data: LoginData{}}, wait)
	}
	// From the body only: a password in the URL would reach logs.
	username := formValue(c, "username")
	password := formValue(c, "password")
	ua := strings.Clone(c.Get(fiber.HeaderUserAgent))
	form := &Page{Data: LoginData{Username: username}}

	ok, wait, err := h.Limiter.Reserve(ctx, ip, username)
	if err != nil {
		return err
	}
	if !ok {
		return h.throttled(c, "login", form, wait)
	}
	a, err := h.Admins.CheckCredentials(ctx, username, password)
	if errors.Is(err, admins.ErrBadCredentials) {
		h.Log.Warn("admin sign-in failed", "ip", ip)
		if err := h.Audit.Record(ctx, audit.Entry{Actor: admins.NormalizeUsername(username), Action: audit.SignInFailed, IP: ip, UserAgent: ua}); err != nil {
			return err
		}
		form.Error = lang(c).T("login.wrong")
		return h.render(c, fiber.StatusUnauthorized, "login", form)
	}
	// Only a wrong password costs an attempt: a right one, or a failure
	// of ours, gives it back. A wrong code at the second step costs one
	// again.
	if rerr := h.Limiter.Release(ctx, ip, username); rerr != nil {
		h.Log.Error("release sign-in attempt", "err", rerr)
	}
	if err != nil {
		return err
	}
	if admins.Enrolled(a) {
		// The code step is good only in this browser: it gets a random
		// value the pending token is signed with.
		browser := tokens.RandomString(16)
		c.Cookie(&fiber.Cookie{Name: PendingCookieName, Value: browser, Path: "/admin/login",
			MaxAge: int(admins.PendingTTL / time.Second), HTTPOnly: true, Secure: h.SecureCookie,
			SameSite: fiber.CookieSameSiteStrictMode})
		return h.render(c, fiber.StatusOK, "login_otp", &Page{Data: OTPData{Pending: h.Admins.PendingToken(a.ID, browser)}})
	}
	if h.RequireTOTP {
		if err := h.Audit.Record(ctx, audit.Entry{Actor: a.Username, AdminID: a.ID, Action: audit.SignInFailed,
			Detail: "no second factor", IP: ip, UserAgent: ua}); err != nil {
			return err
		}
		form.Error = lang(c).T("login.totp_required", a.Username)
		return h.render(c, fiber.StatusForbidden, "login", form)
	}
	return h.startSession(c, a, ip, ua)
}

// startSession signs an admin in once every factor is checked: the
// session cookie, an audit entry, and on to the dashboard.
func (h *Handler) startSession(c *fiber.Ctx, a *ent.Admin, ip, ua string) error {
	sess, err := h.Admins.OpenSession(c.UserContext(), a, admins.Client{IP: ip, UserAgent: ua})
	if err != nil {
		return err
	}
	h.Log.Info("admin signed in", "admin_id", a.ID, "ip", ip)
	if err := h.Audit.Record(c.UserContext(), audit.Entry{Actor: a.Username, AdminID: a.ID, Action: audit.SignIn, IP: ip, UserAgent: ua}); err != nil {
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

// throttled answers 429 with the form (sign-in or code) and when to try
// again.
func (h *Handler) throttled(c *fiber.Ctx, view string, form *Page, wait time.Duration) error {
	c.Set(fiber.HeaderRetryAfter, strconv.Itoa(int(wait.Round(time.Second)/time.Second)))
	form.Error = lang(c).T("login.throttled", wait.Round(time.Minute).String())
	if wait < time.Minute {
		form.Error = lang(c).T("login.throttled_minute")
	}
	return h.render(c, fiber.StatusTooManyRequests, view, form)
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
