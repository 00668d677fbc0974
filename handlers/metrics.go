package handlers

import (
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/miniauth/miniauth/app/metrics"
)

// Metrics counts and times every request by its route pattern. Mount it
// outside AccessLog, which answers errors, so that it sees every final
// status and the error code WriteProblem left.
func Metrics(m *metrics.Metrics) fiber.Handler {
	return func(c *fiber.Ctx) error {
		start := time.Now()
		err := c.Next()
		route := c.Route().Path
		if route == "/" && c.Path() != "/" {
			route = "unmatched" // the catch-all 404 handler
		}
		code, _ := c.Locals(ErrorCodeLocal).(string)
		// Fiber reuses request memory; a label value outlives the request.
		m.ObserveRequest(route, strings.Clone(c.Method()), c.Response().StatusCode(), time.Since(start), code)
		return err
	}
}
