package app

import (
	"net/http"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/filesystem"

	"github.com/miniauth/miniauth/app/admins"
	"github.com/miniauth/miniauth/app/audit"
	"github.com/miniauth/miniauth/app/userlist"
	"github.com/miniauth/miniauth/handlers/admin"
	"github.com/miniauth/miniauth/handlers/admin/i18n"
	"github.com/miniauth/miniauth/static"
	"github.com/miniauth/miniauth/views"
)

// views is the template engine of the admin panel.
func (s *Server) views() fiber.Views {
	var langs []string
	for _, l := range i18n.All() {
		langs = append(langs, l.Code)
	}
	v, err := views.New(admin.Funcs(s.Config.Timezone), langs...)
	if err != nil {
		panic(err) // the templates are embedded: a parse error is a build defect
	}
	return v
}

// mountAdmin adds the admin panel under /admin. Its errors are HTML
// pages, answered inside the group, never the API's JSON.
func (s *Server) mountAdmin(f *fiber.App) {
	h := &admin.Handler{
		Admins:       admins.New(s.DB, s.Keys),
		Limiter:      admins.NewLoginLimiter(s.DB),
		Users:        userlist.New(s.DB),
		Accounts:     s.Accounts,
		Audit:        audit.New(s.DB),
		Log:          s.Log,
		SecureCookie: s.Config.Production(),
		Location:     s.Config.Timezone,
		RequireTOTP:  s.Config.AdminRequireTOTP,
	}
	// Admin bodies are refused past a few KiB before they are read.
	g := f.Group("/admin", admin.SecurityHeaders, admin.Language, h.Errors, admin.SameOrigin, admin.FormLimits)
	g.Use("/static", func(c *fiber.Ctx) error {
		// Static files are not secret: let browsers keep them an hour.
		c.Set(fiber.HeaderCacheControl, "public, max-age=3600")
		return c.Next()
	}, filesystem.New(filesystem.Config{Root: http.FS(static.FS)}))
	g.Get("/lang", h.SwitchLanguage)
	g.Get("/login", h.LoginForm)
	g.Post("/login", h.Login)
	g.Post("/login/otp", h.LoginOTP)

	g.Use(h.RequireAdmin(), h.RequireCSRF)
	g.Get("/", h.Dashboard)
	g.Get("/users", h.UserList)
	g.Get("/users.csv", h.RequireOperator, h.ExportCSV)
	g.Get("/users/:id", h.User)
	g.Post("/users/:id/disable", h.RequireOperator, h.DisableUser)
	g.Post("/users/:id/enable", h.RequireOperator, h.EnableUser)
	g.Post("/users/:id/sessions/:sid/revoke", h.RequireOperator, h.RevokeSession)
	g.Get("/audit", h.AuditLog)
	g.Get("/account", h.Account)
	g.Post("/account/totp", h.StartTOTP)
	g.Post("/account/totp/confirm", h.ConfirmTOTP)
	g.Post("/account/totp/disable", h.DisableTOTP)
	g.Post("/logout", h.Logout)
	g.Use(h.NotFound)
}
