package admin

import (
	"errors"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"github.com/miniauth/miniauth/app/admins"
	"github.com/miniauth/miniauth/app/audit"
	"github.com/miniauth/miniauth/handlers"
)

// PendingCookieName holds the random value that binds a pending sign-in
// to the browser that did its password step.
const PendingCookieName = "miniauth_pending"

// LoginOTP is POST /admin/login/otp, the second step: with the pending
// token from the first step and a current code (or an unused recovery
// code), 303 to the dashboard with the session cookie; a wrong or replayed
// code, 401 with the form again. Wrong codes count in the sign-in
// throttle like wrong passwords, per admin and per IP; an expired or
// forged pending token sends back to the password.
func (h *Handler) LoginOTP(c *fiber.Ctx) error {
	ctx := c.UserContext()
	ip := handlers.ClientIP(c)
	pending := formValue(c, "pending")
	form := &Page{Data: OTPData{Pending: pending}}
	if ok, wait, err := h.Limiter.AllowIP(ctx, ip); err != nil || !ok {
		if err != nil {
			return err
		}
		return h.throttled(c, "login_otp", form, wait)
	}
	browser := strings.Clone(c.Cookies(PendingCookieName))
	id, err := h.Admins.CheckPending(pending, browser)
	if err != nil {
		return h.render(c, fiber.StatusUnauthorized, "login", &Page{Data: LoginData{}, Error: lang(c).T("otp.expired")})
	}
	a, err := h.Admins.ByID(ctx, id)
	if err != nil {
		// Deleted since the password step.
		return h.render(c, fiber.StatusUnauthorized, "login", &Page{Data: LoginData{}, Error: lang(c).T("otp.expired")})
	}
	ua := strings.Clone(c.Get(fiber.HeaderUserAgent))
	ok, wait, err := h.Limiter.Reserve(ctx, ip, a.Username)
	if err != nil {
		return err
	}
	if !ok {
		return h.throttled(c, "login_otp", form, wait)
	}
	err = h.Admins.CheckSecondFactor(ctx, a.ID, formValue(c, "otp"))
	if errors.Is(err, admins.ErrWrongCode) || errors.Is(err, admins.ErrNotEnrolled) {
		h.Log.Warn("admin second factor failed", "admin_id", a.ID, "ip", ip)
		if err := h.Audit.Record(ctx, audit.Entry{Actor: a.Username, AdminID: a.ID, Action: audit.SecondFactorFail, IP: ip, UserAgent: ua}); err != nil {
			return err
		}
		form.Error = lang(c).T("otp.wrong")
		return h.render(c, fiber.StatusUnauthorized, "login_otp", form)
	}
	if rerr := h.Limiter.Release(ctx, ip, a.Username); rerr != nil {
		h.Log.Error("release sign-in attempt", "err", rerr)
	}
	if err != nil {
		return err
	}
	// Single-use: a pending token that signed in once (a copy of the
	// page, a replayed post) goes back to the password.
	if err := h.Admins.UsePending(ctx, pending, browser); errors.Is(err, admins.ErrPending) {
		return h.render(c, fiber.StatusUnauthorized, "login", &Page{Data: LoginData{}, Error: lang(c).T("otp.expired")})
	} else if err != nil {
		return err
	}
	c.Cookie(&fiber.Cookie{Name: PendingCookieName, Path: "/admin/login", Expires: fasthttp.CookieExpireDelete,
		HTTPOnly: true, Secure: h.SecureCookie, SameSite: fiber.CookieSameSiteStrictMode})
	return h.startSession(c, a, ip, ua)
}
