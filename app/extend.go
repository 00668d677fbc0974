package app

import (
	"fmt"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/miniauth/miniauth/handlers"
)

// Routes are a team's own API, served by the same binary behind the same
// bearer check as /api/me. Pass them to New (or cli.Main in main.go); the
// guide "Add your own API" in ARCHITECTURE.md walks through one.
type Routes struct {
	// Prefix is where the routes live, a path under /api/ such as
	// "/api/notes". Every request under it passes the bearer check first
	// (contrib/jwt, then the live-session check), so a handler always has
	// handlers.CurrentUser. Without a valid token any path under it
	// answers 401, as paths under /api/me do.
	Prefix string
	// Register adds the handlers to r, the router of Prefix. s is the
	// server being built: s.DB for data, s.Log for logging, s.Config.
	Register func(r fiber.Router, s *Server)
}

// reservedPrefixes are miniauth's own: a team's routes under them would
// shadow miniauth's or pass the bearer check twice.
var reservedPrefixes = []string{"/api/auth", "/api/me", "/api/wechat"}

// check refuses a prefix outside /api/ or inside miniauth's own routes.
func (o Routes) check() error {
	p := strings.ToLower(o.Prefix)
	if o.Register == nil {
		return fmt.Errorf("routes %q: Register is nil", o.Prefix)
	}
	if !strings.HasPrefix(p, "/api/") || len(p) == len("/api/") || strings.HasSuffix(p, "/") || strings.Contains(p, ":") {
		return fmt.Errorf("routes %q: the prefix must be a fixed path under /api/, such as /api/notes", o.Prefix)
	}
	for _, r := range reservedPrefixes {
		if p == r || strings.HasPrefix(p, r+"/") {
			return fmt.Errorf("routes %q: %s is miniauth's own", o.Prefix, r)
		}
	}
	return nil
}

// mountOwn adds the team's routes, each prefix behind requireUser.
func (s *Server) mountOwn(f *fiber.App, requireUser fiber.Handler) {
	// Fiber's group middleware matches by string prefix, so /api/me's
	// also runs for /api/meals: check the token once, not twice.
	once := func(c *fiber.Ctx) error {
		if handlers.CurrentUser(c) != nil {
			return c.Next()
		}
		return requireUser(c)
	}
	for _, o := range s.own {
		o.Register(f.Group(o.Prefix, once), s)
	}
}
