package app

import (
	"context"
	"log/slog"
	"net"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/miniauth/miniauth/app/config"
	"github.com/miniauth/miniauth/app/database"
	"github.com/miniauth/miniauth/app/problem"
	"github.com/miniauth/miniauth/handlers"
)

// startUpGrace bounds how long answers of the start-up server may take
// to finish when the real server takes over.
const startUpGrace = 5 * time.Second

// StartUp answers on the server's address while the database is opened
// and migrated, which on a large database can take a while: GET /readyz
// answers 503 {"status":"unavailable","reason":"migrating"}, /healthz 503
// {"status":"starting"}, anything else 503 unavailable with Retry-After.
// A load balancer, a monitor and the mini programs all see what is
// happening instead of a refused connection.
type StartUp struct {
	h    *handoff
	ln   net.Listener // the start-up server's turn
	f    *fiber.App
	done chan struct{}
}

// ServeStartUp starts answering on ln.
func ServeStartUp(cfg *config.Config, log *slog.Logger, ln net.Listener) *StartUp {
	onError := handlers.ErrorHandler(log, nil)
	f := fiber.New(fiber.Config{
		AppName:               "miniauth",
		ReadBufferSize:        ReadBufferSize,
		ReadTimeout:           ReadTimeout,
		WriteTimeout:          WriteTimeout,
		IdleTimeout:           IdleTimeout,
		ErrorHandler:          onError,
		DisableStartupMessage: true,
	})
	f.Use(handlers.Identify(cfg.TrustedProxies))
	f.Use(handlers.AccessLog(log, onError))
	f.Use(func(c *fiber.Ctx) error {
		// Each answer ends its connection: the next request meets the
		// real server once it is there.
		c.Set(fiber.HeaderConnection, "close")
		return c.Next()
	})
	f.Get("/healthz", func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderCacheControl, "no-store")
		return c.Status(fiber.StatusServiceUnavailable).JSON(fiber.Map{"status": "starting"})
	})
	f.Get("/readyz", handlers.Ready(func(context.Context) string { return database.Migrating }))
	f.Use(func(c *fiber.Ctx) error {
		return &problem.Error{Code: problem.Unavailable, Message: "the server is starting; try again shortly", RetryAfter: database.RetryAfter}
	})
	s := &StartUp{h: newHandoff(ln), f: f, done: make(chan struct{})}
	s.ln = s.h.turn(false)
	go func() {
		defer close(s.done)
		f.Listener(s.ln)
	}()
	return s
}

// stop ends the start-up server: no more accepting (closing its turn
// leaves the address open), then its answers in flight finish.
func (s *StartUp) stop() {
	s.ln.Close()
	<-s.done
	s.f.ShutdownWithTimeout(startUpGrace)
}

// Handover stops the start-up answers and returns the listener for
// Serve; closing it closes the address. Connections that arrive
// meanwhile wait for the real server.
func (s *StartUp) Handover() net.Listener {
	s.stop()
	return s.h.turn(true)
}

// Stop stops answering and closes the address (start-up failed).
func (s *StartUp) Stop() {
	s.stop()
	s.h.close()
}
