package app

import (
	"github.com/gofiber/fiber/v2"

	"github.com/miniauth/miniauth/handlers"
)

// mountWeChat adds the WeChat data endpoints: avatar upload, phone number
// binding, decryption of encrypted data, and the uploaded avatars.
func (s *Server) mountWeChat(f *fiber.App, requireUser fiber.Handler) {
	h := &handlers.WeChat{Accounts: s.Accounts, Avatars: s.Accounts.Avatars}
	// /api/me/* already passed requireUser through the /api/me group;
	// authenticating again would cost a second session lookup.
	once := func(c *fiber.Ctx) error {
		if handlers.CurrentUser(c) != nil {
			return c.Next()
		}
		return requireUser(c)
	}
	f.Post("/api/me/avatar", once, h.UploadAvatar)
	f.Post("/api/me/phone", once, h.BindPhone)
	f.Post("/api/wechat/decrypt", once, h.Decrypt)
	// Public: avatars appear wherever the app shows a user; the names
	// are unguessable.
	f.Get("/uploads/avatars/:name", h.ServeAvatar)
}
