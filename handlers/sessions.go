package handlers

import (
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/miniauth/miniauth/app/problem"
)

type deviceSessionJSON struct {
	ID         int    `json:"id"`
	CreatedAt  string `json:"created_at"`
	LastUsedAt string `json:"last_used_at"`
	IP         string `json:"ip"`
	Device     string `json:"device"`
	App        string `json:"app"`
	Via        string `json:"via"`
	Current    bool   `json:"current"`
}

// Sessions is GET /api/me/sessions: the user's live sessions, newest
// first, the caller's own marked current.
func (a *API) Sessions(c *fiber.Ctx) error {
	list, err := a.Profiles.Devices(c.UserContext(), CurrentUser(c).ID)
	if err != nil {
		return err
	}
	current := CurrentSession(c)
	out := make([]deviceSessionJSON, len(list))
	for i, s := range list {
		out[i] = deviceSessionJSON{ID: s.ID, CreatedAt: s.CreatedAt.UTC().Format(time.RFC3339),
			LastUsedAt: s.LastUsedAt.UTC().Format(time.RFC3339), IP: s.IP, Device: s.Device, App: s.App, Via: s.Via, Current: s.ID == current}
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(fiber.Map{"sessions": out})
}

// EndSession is DELETE /api/me/sessions/:id: that session's tokens are
// refused at once. Another user's session id is 404, like an unknown one.
func (a *API) EndSession(c *fiber.Ctx) error {
	id, err := strconv.Atoi(c.Params("id"))
	if err != nil || id <= 0 || strconv.Itoa(id) != c.Params("id") {
		return problem.New(problem.NotFound, "no such session")
	}
	if err := a.Live.EndSession(c.UserContext(), CurrentUser(c).ID, id); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// EndOtherSessions is DELETE /api/me/sessions: every session but the
// caller's ends ("sign out other devices").
func (a *API) EndOtherSessions(c *fiber.Ctx) error {
	if err := a.Live.EndOtherSessions(c.UserContext(), CurrentUser(c).ID, CurrentSession(c)); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}
