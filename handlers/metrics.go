package handlers

import (
	"strconv"
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

// metricMethods are the method label's values: any other method name
// (a client may send any token, and /api/auth/verify answers them all)
// is "other", so that a client cannot add series without end.
var metricMethods = map[string]string{}

func init() {
	for _, m := range []string{fiber.MethodGet, fiber.MethodHead, fiber.MethodPost, fiber.MethodPut, fiber.MethodPatch,
		fiber.MethodDelete, fiber.MethodOptions, fiber.MethodConnect, fiber.MethodTrace} {
		metricMethods[m] = m
	}
}

// metricMethod is the method label of a request's method. The label is a
// constant string: Fiber reuses the request's memory, a label outlives it.
func metricMethod(m string) string {
	if label, ok := metricMethods[m]; ok {
		return label
	}
	return "other"
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
		method := metricMethod(c.Method())
		m.ObserveRequest(route, method, status, time.Since(start))
		if route == loginRoute && method == fiber.MethodPost {
			m.ObserveLogin(loginOutcome(c, status))
		}
		return err
	}
}
