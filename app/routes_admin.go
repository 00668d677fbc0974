package app

import "github.com/gofiber/fiber/v2"

// views is the template engine of the admin panel.
func (s *Server) views() fiber.Views { return nil }

// mountAdmin adds the admin panel under /admin.
func (s *Server) mountAdmin(f *fiber.App) {}
