package admin

import (
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/miniauth/miniauth/app/audit"
	"github.com/miniauth/miniauth/app/userlist"
	"github.com/miniauth/miniauth/ent"
)

// userID is the {id} of a user URL; anything but a positive integer is
// a 404.
func userID(c *fiber.Ctx) (int, error) {
	id, err := strconv.Atoi(c.Params("id"))
	if err != nil || id <= 0 {
		return 0, notFound("error.no_user")
	}
	return id, nil
}

// notices are the catalogue keys of the notices shown after an action.
var notices = map[string]string{
	"disabled":      "user.notice.disabled",
	"enabled":       "user.notice.enabled",
	"session_ended": "user.notice.session_ended",
}

// UserData fills the user page: the user, their sessions and the audit
// entries about them.
type UserData struct {
	*userlist.Detail
	Audit []*ent.AuditEntry
}

// userAuditEntries is how many of a user's audit entries their page shows.
const userAuditEntries = 20

// User is GET /admin/users/{id}.
func (h *Handler) User(c *fiber.Ctx) error {
	id, err := userID(c)
	if err != nil {
		return err
	}
	d, err := h.Users.Get(c.UserContext(), id)
	if err != nil {
		return err
	}
	entries, err := h.Audit.List(c.UserContext(), audit.Filter{UserID: id}, 1, userAuditEntries)
	if err != nil {
		return err
	}
	data := UserData{Detail: d, Audit: entries.Entries}
	return h.render(c, fiber.StatusOK, "user", &Page{Nav: "users", Notice: notice(c, notices[c.Query("done")]), Data: data})
}

// notice is the message of a catalogue key, or "" for none.
func notice(c *fiber.Ctx, key string) string {
	if key == "" {
		return ""
	}
	return lang(c).T(key)
}
