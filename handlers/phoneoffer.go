package handlers

import (
	"github.com/gofiber/fiber/v2"
)

// PhoneOffer is GET /api/me/phone/offer → {"offer","reason"}: whether
// the mini program should show its phone-number button now. WeChat bills
// each tap that succeeds, before the code reaches us.
func (w *WeChat) PhoneOffer(c *fiber.Ctx) error {
	o, err := w.Profiles.PhoneOffer(c.UserContext(), CurrentUser(c), CurrentSession(c), ClientIP(c))
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(fiber.Map{"offer": o.Offer, "reason": o.Reason})
}
