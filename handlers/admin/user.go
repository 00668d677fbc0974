package admin

import (
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/miniauth/miniauth/app/audit"
	"github.com/miniauth/miniauth/app/profiles"
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

// notices are the flash messages of the user page (catalogue keys), each
// shown only while it is still true of the user (a status notice) or
// always (ended session).
var notices = map[string]struct {
	key      string
	status   bool // shown only while the user's status matches disabled
	disabled bool
}{
	"disabled":      {"user.notice.disabled", true, true},
	"enabled":       {"user.notice.enabled", true, false},
	"session_ended": {"user.notice.session_ended", false, false},
	"roles_saved":   {"user.notice.roles_saved", false, false},
}

// UserData fills the user page: the user, their sessions and the audit
// entries about them.
type UserData struct {
	*userlist.Detail
	Audit []*ent.AuditEntry
	// Roles is the role field's text: the user's roles, or what an
	// operator typed that was refused.
	Roles string
	// Doors maps each appid the user has an identity of to its kind
	// (mini program, Official Account, mobile app): which door a session
	// of that appid came through.
	Doors map[string]string
}

// userAuditEntries is how many of a user's audit entries their page shows.
const userAuditEntries = 20

// User is GET /admin/users/{id}.
func (h *Handler) User(c *fiber.Ctx) error {
	id, err := userID(c)
	if err != nil {
		return err
	}
	return h.userPage(c, id, fiber.StatusOK, "", nil)
}

// userPage renders a user's page; a refused role edit comes back with
// its message and the text typed.
func (h *Handler) userPage(c *fiber.Ctx, id, status int, errMsg string, typedRoles *string) error {
	d, err := h.Users.Get(c.UserContext(), id)
	if err != nil {
		return err
	}
	entries, err := h.Audit.List(c.UserContext(), audit.Filter{UserID: id}, 1, userAuditEntries)
	if err != nil {
		return err
	}
	doors := make(map[string]string, len(d.Identities))
	for _, id := range d.Identities {
		doors[id.Appid] = id.Kind
	}
	doors[profiles.WebApp] = profiles.KindWeb // sessions of browsers that scanned a mini program code
	data := UserData{Detail: d, Audit: entries.Entries, Doors: doors, Roles: strings.Join(profiles.Roles(d.User), ", ")}
	if typedRoles != nil {
		data.Roles = *typedRoles
	}
	page := &Page{Nav: "users", Data: data, Error: errMsg}
	if n, ok := notices[h.takeFlash(c, "/admin/users/"+strconv.Itoa(id))]; ok && (!n.status || n.disabled == d.User.Disabled) {
		page.Notice = lang(c).T(n.key)
	}
	return h.render(c, status, "user", page)
}
