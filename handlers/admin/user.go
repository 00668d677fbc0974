package admin

import (
	"strconv"

	"github.com/gofiber/fiber/v2"
)

// userID is the {id} of a user URL; anything but a positive integer is
// a 404.
func userID(c *fiber.Ctx) (int, error) {
	id, err := strconv.Atoi(c.Params("id"))
	if err != nil || id <= 0 {
		return 0, notFound("There is no such user.")
	}
	return id, nil
}

// notices are the flash messages of the user page, each shown only
// while it is still true of the user.
var notices = map[string]struct {
	text     string
	disabled bool
}{
	"disabled": {"User disabled: every session was revoked and their logins are refused.", true},
	"enabled":  {"User enabled: they can log in again.", false},
}

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
	page := &Page{Nav: "users", Data: d}
	if n, ok := notices[h.takeFlash(c, "/admin/users/"+strconv.Itoa(id))]; ok && n.disabled == d.User.Disabled {
		page.Notice = n.text
	}
	return h.render(c, fiber.StatusOK, "user", page)
}
