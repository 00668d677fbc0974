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
	"github.com/miniauth/miniauth/handlers"
	"github.com/miniauth/miniauth/handlers/admin"
	"github.com/miniauth/miniauth/static"
)

// routes is the route table: every path the server answers, in three
// groups by what a request must carry. Middleware every request passes is
// in baseApp; a request nothing here matches is a not_found.
func (s *Server) routes() *fiber.App {
	f := s.baseApp()
	api := &handlers.API{Logins: s.Logins, Profiles: s.Profiles, Live: s.Sessions}
	wx := &handlers.WeChat{Profiles: s.Profiles, Avatars: s.Profiles.Avatars}
	limit := s.loginLimit()
	// Logins spend a single-use WeChat code: refused first, at no cost,
	// while the database is known not to take writes.
	writable := handlers.RequireWritable(s.DB.Faults)

	// Public.
	f.Get("/healthz", handlers.Health(s.DB.Ping))
	f.Get("/readyz", handlers.Ready(s.DB.Faults.Check))
	f.Post("/api/auth/login", writable, limit, api.Login)
	f.Post("/api/auth/refresh", limit, api.Refresh)
	f.Post("/api/auth/phone-login", writable, limit, api.PhoneLogin)
	// WeChat's message push: signed, not bearer (wechatpush.go).
	push := s.pushHandler()
	f.Get(handlers.PushPathPrefix+":appid", push.Verify)
	f.Post(handlers.PushPathPrefix+":appid", push.Receive)
	// The other WeChat doors: Official Accounts' H5 pages, mobile apps.
	oa := &handlers.OALogin{Service: s.OALogin}
	f.Get("/api/auth/oa/authorize", limit, oa.Authorize)
	f.Get("/api/auth/oa/callback", writable, limit, oa.Callback)
	f.Post("/api/auth/ticket", limit, oa.Ticket)
	f.Post("/api/auth/app-login", writable, limit, oa.AppLogin)
	if s.OALogin.OpenBase == "" {
		// The simulator's stand-in for WeChat's authorize page.
		f.Get("/dev/wechat/connect/oauth2/authorize", handlers.SimulatedAuthorize)
	}
	if s.mpVerifyName != "" {
		f.Get("/"+s.mpVerifyName, handlers.MPVerify(s.mpVerifyContent))
	}
	// Avatars appear wherever the app shows a user; the names are
	// unguessable.
	f.Get("/uploads/avatars/:name", wx.ServeAvatar)
	// The public keys other services verify access tokens with; with
	// HS256 there are none to publish, and the path is not_found.
	if s.Ring != nil {
		f.Get(handlers.JWKSPath, handlers.JWKS(s.Ring.JWKS))
	}

	// Bearer token: contrib/jwt, then the session checked live.
	requireUser := handlers.RequireUser(s.userTokenKey(), s.Sessions)
	f.Post("/api/auth/logout", requireUser, api.Logout)
	f.All("/api/auth/verify", requireUser, handlers.Verify)
	f.Post("/api/wechat/decrypt", requireUser, wx.Decrypt)
	me := f.Group("/api/me", requireUser)
	me.Get("", api.Me)
	me.Put("", api.UpdateMe)
	me.Patch("", api.UpdateMe)
	me.Delete("", api.DeleteMe)
	me.Get("/sessions", api.Sessions)
	me.Delete("/sessions", api.EndOtherSessions)
	me.Delete("/sessions/:id", api.EndSession)
	me.Post("/avatar", wx.UploadAvatar)
	me.Post("/phone", wx.BindPhone)
	me.Get("/phone/offer", wx.PhoneOffer)
	s.webLoginRoutes(f, requireUser) // web sign-in by scanning a mini program code (weblogin.go)
	s.mountOwn(f, requireUser)       // the team's own API (extend.go)

	// Admin cookie: the panel under /admin. Its errors are HTML pages,
	// answered inside the group (h.Errors), never the API's JSON; form
	// bodies are refused past a few KiB before they are read.
	h := s.adminHandler()
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
	g.Use(h.RequireAdmin(), h.RequireCSRF) // everything below: a signed-in admin
	g.Get("/", h.Dashboard)
	g.Get("/users", h.UserList)
	g.Get("/users.csv", h.RequireOperator, h.ExportCSV)
	g.Get("/users/:id", h.User)
	g.Post("/users/:id/disable", h.RequireOperator, h.DisableUser)
	g.Post("/users/:id/enable", h.RequireOperator, h.EnableUser)
	g.Post("/users/:id/roles", h.RequireOperator, h.SetUserRoles)
	g.Post("/users/:id/sessions/:sid/revoke", h.RequireOperator, h.RevokeSession)
	g.Get("/review", h.Review)
	g.Post("/review/:id/approve", h.RequireOperator, h.ApproveReview)
	g.Post("/review/:id/clear", h.RequireOperator, h.ClearReview)
	g.Get("/audit", h.AuditLog)
	g.Get("/account", h.Account)
	g.Post("/account/totp", h.StartTOTP)
	g.Post("/account/totp/confirm", h.ConfirmTOTP)
	g.Post("/account/totp/cancel", h.CancelTOTP)
	g.Post("/account/totp/disable", h.DisableTOTP)
	g.Post("/logout", h.Logout)
	g.Use(h.NotFound)

	f.Use(handlers.NotFound)
	return f
}

// loginLimit caps logins and refreshes per client IP
// (MINIAUTH_LOGIN_RATE_LIMIT a minute; 0 turns it off).
func (s *Server) loginLimit() fiber.Handler {
	var counters fiber.Storage // in memory: one SQLite instance
	if s.DB.Dialect == dialect.Postgres {
		// Several instances share one PostgreSQL: count in it, so the
		// limit holds for the service, not per instance.
		counters = throttle.New(s.DB, "api-login:")
	}
	return limiter.New(limiter.Config{
		Storage:      counters,
		Next:         func(*fiber.Ctx) bool { return s.Config.LoginRateLimit == 0 },
		Max:          max(1, s.Config.LoginRateLimit),
		Expiration:   time.Minute,
		KeyGenerator: handlers.ClientIP,
		LimitReached: func(c *fiber.Ctx) error {
			p := problem.New(problem.RateLimited, "too many login attempts from this address; try again shortly")
			p.RetryAfter = time.Minute
			return p
		},
	})
}
