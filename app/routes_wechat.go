package app

import "github.com/gofiber/fiber/v2"

// mountWeChat adds the WeChat data endpoints: avatar upload, phone number
// binding, decryption of encrypted data.
func (s *Server) mountWeChat(f *fiber.App, requireUser fiber.Handler) {}
