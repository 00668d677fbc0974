package admin

import (
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/miniauth/miniauth/app/audit"
	"github.com/miniauth/miniauth/app/problem"
)

// RevokeSession is POST /admin/users/{id}/sessions/{sid}/revoke: that one
// session ends at once (its tokens are refused from the next request).
func (h *Handler) RevokeSession(c *fiber.Ctx) error {
	id, err := userID(c)
	if err != nil {
		return err
	}
	sid, err := strconv.Atoi(c.Params("sid"))
	if err != nil || sid <= 0 {
		return notFound("error.no_session")
	}
	if err := h.Sessions.RevokeSession(c.UserContext(), id, sid); err != nil {
		if p, ok := problem.As(err); ok && p.Code == problem.NotFound {
			return notFound("error.no_session")
		}
		return err
	}
	if err := h.record(c, audit.Entry{Action: audit.SessionEnded, TargetUserID: id, Detail: "session " + strconv.Itoa(sid)}); err != nil {
		return err
	}
	h.Log.Info("admin ended a session", "admin_id", currentAdmin(c).ID, "user_id", id, "session_id", sid)
	page := "/admin/users/" + strconv.Itoa(id)
	h.setFlash(c, page, "session_ended")
	return c.Redirect(page, fiber.StatusSeeOther)
}
