package handlers

import (
	"context"
	"time"

	"github.com/gofiber/fiber/v2"
)

// Health is GET /healthz: 200 while the database answers, 503 otherwise.
// A load balancer can take an instance out while its database is away;
// it comes back by itself when the database does.
func Health(ping func(context.Context) error) fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx, cancel := context.WithTimeout(c.UserContext(), 2*time.Second)
		defer cancel()
		c.Set(fiber.HeaderCacheControl, "no-store")
		if err := ping(ctx); err != nil {
			return c.Status(fiber.StatusServiceUnavailable).JSON(fiber.Map{"status": "unavailable", "database": "unreachable"})
		}
		return c.JSON(fiber.Map{"status": "ok"})
	}
}
