package handlers

import (
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/miniauth/miniauth/app/config"
)

// readAppID reads the optional "appid" of a login ("" when absent).
func readAppID(b *Body) string {
	p := b.String("appid")
	switch {
	case p == nil:
		return ""
	case *p == "":
		b.bad["appid"] = "must not be empty"
	case !config.ValidAppID(*p):
		b.bad["appid"] = "is not a configured mini program"
	default:
		return strings.Clone(*p)
	}
	return ""
}

// PhoneLogin is POST /api/auth/phone-login {"code","phone_code","appid"?}:
// a login that also binds the phone from <button open-type=
// "getPhoneNumber">. Everything is validated before WeChat is called.
func (a *API) PhoneLogin(c *fiber.Ctx) error {
	b, err := ReadBody(c, "code", "phone_code", "appid")
	if err != nil {
		return err
	}
	code, err := b.requiredCode("code")
	if err != nil {
		return err
	}
	phoneCode, err := b.requiredCode("phone_code")
	if err != nil {
		return err
	}
	appID := readAppID(b)
	if err := b.Err(nil); err != nil {
		return err
	}
	g, err := a.Logins.PhoneLogin(c.UserContext(), appID, code, phoneCode, Client(c))
	if err != nil {
		return err
	}
	return writeGrant(c, g)
}
