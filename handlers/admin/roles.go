package admin

import (
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/miniauth/miniauth/app/audit"
	"github.com/miniauth/miniauth/ent/admin"
	"github.com/miniauth/miniauth/handlers"
)

// RequireOperator refuses viewers: they see every page but change nothing
// and export nothing. The refusal is a 403 page and an audit entry.
func (h *Handler) RequireOperator(c *fiber.Ctx) error {
	a := currentAdmin(c)
	if a != nil && a.Role == admin.RoleOperator {
		return c.Next()
	}
	detail := c.Method() + " " + c.Path()
	if err := h.record(c, audit.Entry{Action: audit.Forbidden, Detail: detail}); err != nil {
		return err
	}
	return pageError(fiber.StatusForbidden, "error.viewer")
}

// record appends an audit entry about the signed-in admin's request:
// actor, client IP and user agent come from the request.
func (h *Handler) record(c *fiber.Ctx, e audit.Entry) error {
	if a := currentAdmin(c); a != nil {
		e.Actor, e.AdminID = a.Username, a.ID
	}
	e.IP = handlers.ClientIP(c)
	e.UserAgent = strings.Clone(c.Get(fiber.HeaderUserAgent))
	return h.Audit.Record(c.UserContext(), e)
}
