package admin

import (
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/miniauth/miniauth/app/audit"
	"github.com/miniauth/miniauth/app/problem"
)

// DisableUser is POST /admin/users/{id}/disable: the user's sessions are
// revoked at once (profiles.Service.SetDisabled) and logins refused.
func (h *Handler) DisableUser(c *fiber.Ctx) error { return h.setDisabled(c, true) }

// EnableUser is POST /admin/users/{id}/enable.
func (h *Handler) EnableUser(c *fiber.Ctx) error { return h.setDisabled(c, false) }

func (h *Handler) setDisabled(c *fiber.Ctx, disabled bool) error {
	id, err := userID(c)
	if err != nil {
		return err
	}
	if err := h.Profiles.SetDisabled(c.UserContext(), id, disabled); err != nil {
		if p, ok := problem.As(err); ok && p.Code == problem.NotFound {
			return notFound("error.no_user")
		}
		return err
	}
	done, action := "enabled", audit.UserEnabled
	if disabled {
		done, action = "disabled", audit.UserDisabled
	}
	if err := h.record(c, audit.Entry{Action: action, TargetUserID: id}); err != nil {
		return err
	}
	h.Log.Info("admin changed user status", "admin_id", currentAdmin(c).ID, "user_id", id, "status", done)
	page := "/admin/users/" + strconv.Itoa(id)
	h.setFlash(c, page, done)
	return c.Redirect(page, fiber.StatusSeeOther)
}
