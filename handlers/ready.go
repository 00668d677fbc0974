package handlers

import (
	"context"
	"errors"

	"github.com/gofiber/fiber/v2"

	"github.com/miniauth/miniauth/app/database"
)

// Ready is GET /readyz: 200 {"status":"ready"} when the server can serve
// and write, 503 {"status":"unavailable","reason":…} while it cannot (the
// database's fault, or "migrating" during start-up). It turns 200 again
// by itself. Give it to a load balancer; /healthz is the liveness check.
func Ready(check func(context.Context) string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderCacheControl, "no-store")
		if reason := check(c.UserContext()); reason != "" {
			setRetryAfter(c, database.RetryAfter, database.RetryAfter)
			return c.Status(fiber.StatusServiceUnavailable).JSON(fiber.Map{"status": "unavailable", "reason": reason})
		}
		return c.JSON(fiber.Map{"status": "ready"})
	}
}

// RequireWritable refuses a request that cannot succeed without a write
// while the database is known not to take them (the last write failed
// and no probe has passed since), before the request spends anything: a
// WeChat login code is single-use, so login asks first. It costs no
// query while the database is up; while it is down, one request in a
// quarter second probes it (Faults.Recheck), so the first login after
// the database came back goes through.
func RequireWritable(faults *database.Faults) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if cause, ok := faults.Recheck(c.UserContext()); !ok {
			return Unavailable(&database.Fault{Cause: cause, Err: errKnownDown})
		}
		return c.Next()
	}
}

// errKnownDown is the cause of a refusal by RequireWritable: the fault
// was counted and logged when it happened.
var errKnownDown = errors.New("refused before any work: the database is known not to take writes")
