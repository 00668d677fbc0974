package app

import (
	"net/http"
	"time"

	"entgo.io/ent/dialect"
	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/filesystem"
	"github.com/gofiber/fiber/v2/middleware/limiter"

	"github.com/miniauth/miniauth/app/problem"
	"github.com/miniauth/miniauth/app/throttle"
	"github.com/miniauth/miniauth/app/weblogin"
	"github.com/miniauth/miniauth/handlers"
	"github.com/miniauth/miniauth/static"
)

// newWebLogin is the web sign-in service (app/weblogin) over the
// login service, which opens its sessions.
func (s *Server) newWebLogin() *weblogin.Service {
	w := s.Config.WebLogin
	return &weblogin.Service{DB: s.DB, Logins: s.Logins, Log: s.Log, Page: w.Page, Env: w.Env, TTL: w.TTL}
}

// webLoginRoutes serves web sign-in: the browser's side is public (a
// ticket rate limited per IP, its code, the poll with the browser's
// secret), the mini program's needs the user's bearer token; the demo
// page and its script are public static files.
func (s *Server) webLoginRoutes(f *fiber.App, requireUser fiber.Handler) {
	wl := &handlers.WebLogin{Tickets: s.WebLogin}
	f.Post("/api/auth/qr", s.qrLimit(), wl.Create)
	f.Get("/api/auth/qr/:ticket/image", wl.Image)
	f.Post("/api/auth/qr/:ticket/poll", wl.Poll)
	f.Post("/api/auth/qr/:ticket/scan", requireUser, wl.Scan)
	f.Post("/api/auth/qr/:ticket/confirm", requireUser, wl.Confirm)
	f.Post("/api/auth/qr/:ticket/deny", requireUser, wl.Deny)
	f.Get("/login/qr", handlers.WebPageHeaders, func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderCacheControl, "no-store")
		c.Type("html", "utf-8")
		return c.Send(static.LoginQRPage)
	})
	f.Use("/static", handlers.WebPageHeaders, func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderCacheControl, "public, max-age=3600")
		return c.Next()
	}, filesystem.New(filesystem.Config{Root: http.FS(static.FS)}))
}

// qrLimit caps new sign-in codes per client IP (MINIAUTH_QR_RATE_LIMIT a
// minute; 0 turns it off): each costs a WeChat call.
func (s *Server) qrLimit() fiber.Handler {
	var counters fiber.Storage // in memory: one SQLite instance
	if s.DB.Dialect == dialect.Postgres {
		counters = throttle.New(s.DB, "api-qr:")
	}
	limit := s.Config.WebLogin.RateLimit
	return limiter.New(limiter.Config{
		Storage:      counters,
		Next:         func(*fiber.Ctx) bool { return limit == 0 },
		Max:          max(1, limit),
		Expiration:   time.Minute,
		KeyGenerator: handlers.ClientIP,
		LimitReached: func(c *fiber.Ctx) error {
			p := problem.New(problem.RateLimited, "too many sign-in codes from this address; try again shortly")
			p.RetryAfter = time.Minute
			return p
		},
	})
}
