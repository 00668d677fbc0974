// Package admin is the admin panel's HTTP side: server-rendered pages
// behind a cookie session, one file per page or action. Its errors are
// HTML pages, never the API's JSON.
package admin

import (
	"log/slog"
	"time"

	"github.com/miniauth/miniauth/app/admins"
	"github.com/miniauth/miniauth/app/audit"
	"github.com/miniauth/miniauth/app/database"
	"github.com/miniauth/miniauth/app/profiles"
	"github.com/miniauth/miniauth/app/sessions"
	"github.com/miniauth/miniauth/app/userlist"
)

// CookieName is the admin session cookie. It holds an admin JWT, which
// only opens /admin (its own key and audience), and its path keeps it
// from being sent anywhere else.
const CookieName = "miniauth_admin"

// Handler serves the admin panel.
type Handler struct {
	Admins   *admins.Service
	Limiter  *admins.LoginLimiter
	Users    *userlist.Store
	Profiles *profiles.Service
	Sessions *sessions.Service
	Audit    *audit.Log
	Log      *slog.Logger
	// Faults hears of the database faults the panel meets (503 pages).
	Faults *database.Faults
	// SecureCookie marks the cookie Secure (production, behind HTTPS).
	SecureCookie bool
	// RequireTOTP refuses sign-in to admins without a second factor.
	RequireTOTP bool
	// Location is the time zone dates are shown in and days counted in.
	Location *time.Location
}
