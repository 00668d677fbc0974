package handlers

import (
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/miniauth/miniauth/app/metrics"
)

// loginRoute is the route whose outcomes are counted as logins.
const loginRoute = "/api/auth/login"

// loginOutcome is "success", the error code the login was answered with,
// or else its status.
func loginOutcome(c *fiber.Ctx, status int) string {
	if code, _ := c.Locals(ErrorCodeLocal).(string); code != "" {
		return code
	}
	if status != fiber.StatusOK {
		return strconv.Itoa(status)
	}
	return "success"
}

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
		status := c.Response().StatusCode()
		// Fiber reuses request memory; a label value outlives the request.
		method := strings.Clone(c.Method())
		m.ObserveRequest(route, method, strconv.Itoa(status), time.Since(start))
		if route == loginRoute && method == fiber.MethodPost {
			m.ObserveLogin(loginOutcome(c, status))
		}
		return err
	}
}
