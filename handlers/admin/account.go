package admin

import (
	"errors"
	"html/template"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/miniauth/miniauth/app/admins"
	"github.com/miniauth/miniauth/app/audit"
)

// AccountData fills the account page.
type AccountData struct {
	Role     string
	Enrolled bool
	// An enrollment in progress: its QR code (inline SVG) and key.
	QR     template.HTML
	Secret string
	// RecoveryCodes are shown once, right after confirming.
	RecoveryCodes []string
}

// Account is GET /admin/account: the admin's role and second factor,
// with the enrollment in progress if one was started.
func (h *Handler) Account(c *fiber.Ctx) error {
	return h.account(c, fiber.StatusOK, "", "", nil)
}

func (h *Handler) account(c *fiber.Ctx, status int, noticeKey, errorKey string, recovery []string) error {
	a := currentAdmin(c)
	d := AccountData{Role: string(a.Role), Enrolled: admins.Enrolled(a), RecoveryCodes: recovery}
	if !d.Enrolled {
		if e, err := h.Admins.PendingTOTP(a); err == nil {
			svg, err := admins.QRSVG(e.URI)
			if err != nil {
				return err
			}
			// The SVG is built from our own path data only.
			d.QR, d.Secret = template.HTML(svg), admins.EncodeSecret(e.Secret)
		} else if !errors.Is(err, admins.ErrNoEnrollment) {
			return err
		}
	}
	p := &Page{Nav: "account", Data: d, Notice: notice(c, noticeKey)}
	if errorKey != "" {
		p.Error = lang(c).T(errorKey)
	}
	return h.render(c, status, "account", p)
}

// StartTOTP is POST /admin/account/totp: a new secret, shown as a QR code
// until confirmed.
func (h *Handler) StartTOTP(c *fiber.Ctx) error {
	if _, err := h.Admins.BeginTOTP(c.UserContext(), currentAdmin(c).Username); err != nil && !errors.Is(err, admins.ErrEnrolled) {
		return err
	}
	return c.Redirect("/admin/account", fiber.StatusSeeOther)
}

// CancelTOTP is POST /admin/account/totp/cancel: a started enrollment is
// dropped (nothing was turned on, so nothing is audited).
func (h *Handler) CancelTOTP(c *fiber.Ctx) error {
	err := h.Admins.CancelTOTP(c.UserContext(), currentAdmin(c).Username)
	if err != nil && !errors.Is(err, admins.ErrEnrolled) && !errors.Is(err, admins.ErrNoEnrollment) {
		return err
	}
	return c.Redirect("/admin/account", fiber.StatusSeeOther)
}

// ConfirmTOTP is POST /admin/account/totp/confirm with otp: the second
// factor is on, and the recovery codes are shown this once.
func (h *Handler) ConfirmTOTP(c *fiber.Ctx) error {
	me := currentAdmin(c)
	codes, err := h.Admins.ConfirmTOTP(c.UserContext(), me.Username, strings.Clone(c.FormValue("otp")))
	switch {
	case errors.Is(err, admins.ErrWrongCode):
		return h.account(c, fiber.StatusUnprocessableEntity, "", "account.wrong_code", nil)
	case errors.Is(err, admins.ErrEnrolled), errors.Is(err, admins.ErrNoEnrollment):
		return c.Redirect("/admin/account", fiber.StatusSeeOther)
	case err != nil:
		return err
	}
	if err := h.record(c, audit.Entry{Action: audit.TOTPEnrolled, TargetAdmin: me.Username}); err != nil {
		return err
	}
	if err := h.reloadAdmin(c); err != nil {
		return err
	}
	return h.account(c, fiber.StatusOK, "account.notice.enrolled", "", codes)
}

// DisableTOTP is POST /admin/account/totp/disable with a current code (or
// a recovery code): someone who found a signed-in browser cannot remove
// the second factor without the phone.
func (h *Handler) DisableTOTP(c *fiber.Ctx) error {
	me := currentAdmin(c)
	if !admins.Enrolled(me) {
		return c.Redirect("/admin/account", fiber.StatusSeeOther)
	}
	err := h.Admins.CheckSecondFactor(c.UserContext(), me.ID, strings.Clone(c.FormValue("otp")))
	if errors.Is(err, admins.ErrWrongCode) {
		if err := h.record(c, audit.Entry{Action: audit.SecondFactorFail, TargetAdmin: me.Username, Detail: "removal"}); err != nil {
			return err
		}
		return h.account(c, fiber.StatusUnprocessableEntity, "", "account.wrong_code", nil)
	}
	if err != nil {
		return err
	}
	if err := h.Admins.DisableTOTP(c.UserContext(), me.Username); err != nil {
		return err
	}
	if err := h.record(c, audit.Entry{Action: audit.TOTPRemoved, TargetAdmin: me.Username}); err != nil {
		return err
	}
	if err := h.reloadAdmin(c); err != nil {
		return err
	}
	return h.account(c, fiber.StatusOK, "account.notice.removed", "", nil)
}

// reloadAdmin reads the signed-in admin again after a change.
func (h *Handler) reloadAdmin(c *fiber.Ctx) error {
	a, err := h.Admins.ByID(c.UserContext(), currentAdmin(c).ID)
	if err != nil {
		return err
	}
	c.Locals(localAdmin, a)
	return nil
}

// notice is the message of a catalogue key, or "" for none.
func notice(c *fiber.Ctx, key string) string {
	if key == "" {
		return ""
	}
	return lang(c).T(key)
}
