package handlers

import (
	"github.com/gofiber/fiber/v2"

	"github.com/miniauth/miniauth/app/logins"
	"github.com/miniauth/miniauth/app/profiles"
	"github.com/miniauth/miniauth/app/sessions"
)

// API serves the JSON API of mini programs.
type API struct {
	Logins   *logins.Service
	Profiles *profiles.Service
	// Live ends sessions: logout, and the session list's end buttons.
	Live *sessions.Service
}

type grantJSON struct {
	AccessToken  string   `json:"access_token"`
	RefreshToken string   `json:"refresh_token"`
	TokenType    string   `json:"token_type"`
	ExpiresIn    int      `json:"expires_in"`
	User         UserJSON `json:"user"`
	IsNewUser    bool     `json:"is_new_user"`
}

func writeGrant(c *fiber.Ctx, g *logins.Grant) error {
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(grantJSON{
		AccessToken:  g.AccessToken,
		RefreshToken: g.RefreshToken,
		TokenType:    "Bearer",
		ExpiresIn:    g.ExpiresIn,
		User:         User(g.User),
		IsNewUser:    g.IsNewUser,
	})
}

// readProfile reads the optional profile fields and validates them.
func readProfile(b *Body) (profiles.Profile, error) {
	p := profiles.Profile{
		Nickname:  b.String("nickname"),
		AvatarURL: b.String("avatar_url"),
		Gender:    b.Int("gender"),
	}
	return p, b.Err(p.Validate())
}

// Login is POST /api/auth/login. The profile is validated before WeChat
// is called, so a bad request never burns the user's code.
func (a *API) Login(c *fiber.Ctx) error {
	b, err := ReadBody(c, "code", "nickname", "avatar_url", "gender", "appid")
	if err != nil {
		return err
	}
	code, err := b.requiredCode("code")
	if err != nil {
		return err
	}
	appID := readAppID(b)
	p, err := readProfile(b)
	if err != nil {
		return err
	}
	g, err := a.Logins.Login(c.UserContext(), appID, code, p, Client(c))
	if err != nil {
		return err
	}
	return writeGrant(c, g)
}

// Refresh is POST /api/auth/refresh.
func (a *API) Refresh(c *fiber.Ctx) error {
	b, err := ReadBody(c, "refresh_token")
	if err != nil {
		return err
	}
	token, err := b.RequiredString("refresh_token")
	if err != nil {
		return err
	}
	if err := b.Err(nil); err != nil {
		return err
	}
	g, err := a.Logins.Refresh(c.UserContext(), token, Client(c))
	if err != nil {
		return err
	}
	return writeGrant(c, g)
}

// Logout is POST /api/auth/logout.
func (a *API) Logout(c *fiber.Ctx) error {
	if err := a.Live.Logout(c.UserContext(), CurrentSession(c)); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// Me is GET /api/me.
func (a *API) Me(c *fiber.Ctx) error {
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(User(CurrentUser(c)))
}

// UpdateMe is PUT and PATCH /api/me: only the fields sent change.
func (a *API) UpdateMe(c *fiber.Ctx) error {
	b, err := ReadBody(c, "nickname", "avatar_url", "gender")
	if err != nil {
		return err
	}
	p, err := readProfile(b)
	if err != nil {
		return err
	}
	u, err := a.Profiles.UpdateProfile(c.UserContext(), CurrentUser(c), CurrentSession(c), p)
	if err != nil {
		return err
	}
	return c.JSON(User(u))
}

// DeleteMe is DELETE /api/me: account cancellation.
func (a *API) DeleteMe(c *fiber.Ctx) error {
	if err := a.Profiles.Delete(c.UserContext(), CurrentUser(c).ID); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}
