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

var notices = map[string]string{
	"disabled": "User disabled: every session was revoked and their logins are refused.",
	"enabled":  "User enabled: they can log in again.",
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
	return h.render(c, fiber.StatusOK, "user", &Page{Nav: "users", Notice: notices[c.Query("done")], Data: d})
}
