package admin

import (
	"errors"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/miniauth/miniauth/app/admins"
	"github.com/miniauth/miniauth/app/audit"
	"github.com/miniauth/miniauth/handlers"
)

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
	id, err := h.Admins.CheckPending(pending)
	if err != nil {
		return h.render(c, fiber.StatusUnauthorized, "login", &Page{Data: LoginData{}, Error: lang(c).T("otp.expired")})
	}
	a, err := h.Admins.DB.Read.Admin.Get(ctx, id)
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
	return h.startSession(c, a, ip, ua)
}
