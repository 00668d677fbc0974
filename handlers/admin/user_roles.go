package admin

import (
	"slices"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/miniauth/miniauth/app/audit"
	"github.com/miniauth/miniauth/app/problem"
	"github.com/miniauth/miniauth/app/profiles"
)

// SetUserRoles is POST /admin/users/{id}/roles (operators): the form's
// comma-separated names replace the user's roles. /api/auth/verify
// answers the new roles at once; tokens carry them from their next
// refresh. A malformed name or too many roles re-renders the page with the
// message and what was typed, changing nothing.
func (h *Handler) SetUserRoles(c *fiber.Ctx) error {
	id, err := userID(c)
	if err != nil {
		return err
	}
	typed := strings.Clone(c.FormValue("roles"))
	roles, err := profiles.ParseRoles(typed)
	if err == nil {
		var before, after []string
		before, after, err = h.Profiles.SetRoles(c.UserContext(), id, profiles.RoleChange{Replace: true, Set: roles})
		if err == nil {
			if !slices.Equal(before, after) {
				if err := h.record(c, audit.Entry{Action: audit.UserRolesChanged, TargetUserID: id,
					Detail: profiles.RoleChangeDetail(before, after)}); err != nil {
					return err
				}
				h.Log.Info("admin changed user roles", "admin_id", currentAdmin(c).ID, "user_id", id)
			}
			page := "/admin/users/" + strconv.Itoa(id)
			h.setFlash(c, page, "roles_saved")
			return c.Redirect(page, fiber.StatusSeeOther)
		}
	}
	p, ok := problem.As(err)
	switch {
	case ok && p.Code == problem.NotFound:
		return notFound("error.no_user")
	case ok && p.Code == problem.ValidationFailed:
		return h.userPage(c, id, fiber.StatusBadRequest, lang(c).T("user.roles_invalid", profiles.MaxRoleName, profiles.MaxRoles), &typed)
	}
	return err
}
