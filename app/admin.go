package app

import (
	"github.com/gofiber/fiber/v2"

	"github.com/miniauth/miniauth/app/admins"
	"github.com/miniauth/miniauth/app/audit"
	"github.com/miniauth/miniauth/app/userlist"
	"github.com/miniauth/miniauth/handlers/admin"
	"github.com/miniauth/miniauth/handlers/admin/i18n"
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

// adminHandler is the admin panel's handler over the domain services.
func (s *Server) adminHandler() *admin.Handler {
	users := userlist.New(s.DB)
	s.Profiles.StatusChanged = users.Forget
	return &admin.Handler{
		Admins:       admins.New(s.DB, s.Keys),
		Limiter:      admins.NewLoginLimiter(s.DB),
		Users:        users,
		Profiles:     s.Profiles,
		Sessions:     s.Sessions,
		Audit:        audit.New(s.DB),
		Log:          s.Log,
		Faults:       s.DB.Faults,
		SecureCookie: s.Config.Production(),
		Location:     s.Config.Timezone,
		RequireTOTP:  s.Config.AdminRequireTOTP,
	}
}
