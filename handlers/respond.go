// Package handlers turns HTTP requests into calls on miniauth's domain and
// its answers into the contract's JSON.
package handlers

import (
	"errors"
	"log/slog"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/miniauth/miniauth/app/database"
	"github.com/miniauth/miniauth/app/problem"
	"github.com/miniauth/miniauth/app/profiles"
	"github.com/miniauth/miniauth/ent"
)

// UserJSON is the contract's user object. openid, unionid and the session
// key are deliberately absent.
type UserJSON struct {
	ID        int    `json:"id"`
	Nickname  string `json:"nickname"`
	AvatarURL string `json:"avatar_url"`
	Gender    int    `json:"gender"`
	Phone     string `json:"phone"`
	CreatedAt string `json:"created_at"`
	UpdatedAt string `json:"updated_at"`
	// Roles are the user's role names, sorted ([] when none).
	Roles []string `json:"roles"`
}

// User renders a user for the API.
func User(u *ent.User) UserJSON {
	return UserJSON{
		ID:        u.ID,
		Nickname:  u.Nickname,
		AvatarURL: u.AvatarURL,
		Gender:    u.Gender,
		Phone:     u.Phone,
		CreatedAt: u.CreatedAt.UTC().Format(time.RFC3339),
		UpdatedAt: u.UpdatedAt.UTC().Format(time.RFC3339),
		Roles:     profiles.Roles(u),
	}
}

type errorBody struct {
	Error errorJSON `json:"error"`
}

type errorJSON struct {
	Code    string            `json:"code"`
	Message string            `json:"message"`
	Fields  map[string]string `json:"fields,omitempty"`
}

// statusOf is the HTTP status of each code of the contract: the one place
// where domain errors meet HTTP. A code missing here answers 500.
var statusOf = map[string]int{
	problem.InvalidRequest:        fiber.StatusBadRequest,
	problem.ValidationFailed:      fiber.StatusBadRequest,
	problem.SessionKeyStale:       fiber.StatusBadRequest,
	problem.RequestTooLarge:       fiber.StatusRequestEntityTooLarge,
	problem.RequestHeaderTooLarge: fiber.StatusRequestHeaderFieldsTooLarge,
	problem.InvalidCode:           fiber.StatusUnauthorized,
	problem.Unauthorized:          fiber.StatusUnauthorized,
	problem.UserDisabled:          fiber.StatusForbidden,
	problem.LoginBlocked:          fiber.StatusForbidden,
	problem.NotFound:              fiber.StatusNotFound,
	problem.MethodNotAllowed:      fiber.StatusMethodNotAllowed,
	problem.RateLimited:           fiber.StatusTooManyRequests,
	problem.WeChatUnavailable:     fiber.StatusBadGateway,
	problem.AccountConflict:       fiber.StatusConflict,
	problem.InvalidSignature:      fiber.StatusUnauthorized,
	problem.ContentRejected:       fiber.StatusUnprocessableEntity,
	problem.PhoneCodeMismatch:     fiber.StatusForbidden,
	problem.RiskRejected:          fiber.StatusForbidden,
	problem.Forbidden:             fiber.StatusForbidden,
	problem.Unavailable:           fiber.StatusServiceUnavailable,
	problem.Internal:              fiber.StatusInternalServerError,
}

// Status is the HTTP status of a contract code (500 for an unknown one).
func Status(code string) int {
	if s, ok := statusOf[code]; ok {
		return s
	}
	return fiber.StatusInternalServerError
}

// ErrorCodeLocal is where WriteProblem leaves the code it answered with,
// for the metrics of login outcomes (Metrics): its one definition.
const ErrorCodeLocal = "error_code"

// ErrorHandler is the one place where an error becomes a response: a
// *problem.Error is answered as is, Fiber's own errors are mapped to the
// contract's codes, a database fault is answered 503 unavailable (and
// reported to faults, which logs it quietly and marks the database down;
// faults may be nil), anything else is logged and answered as a bare 500.
func ErrorHandler(log *slog.Logger, faults *database.Faults) fiber.ErrorHandler {
	return func(c *fiber.Ctx, err error) error {
		p := ToProblem(err)
		if p.Code == problem.Unavailable && faults != nil {
			faults.Report(err)
		}
		if p.Code == problem.Internal {
			log.Error("internal error", "method", c.Method(), "path", c.Path(), "request_id", RequestID(c), "err", err)
		}
		return WriteProblem(c, p)
	}
}

// ToProblem maps any error to the contract's error.
func ToProblem(err error) *problem.Error {
	if p, ok := problem.As(err); ok {
		return p
	}
	var fe *fiber.Error
	if errors.As(err, &fe) {
		switch fe.Code {
		case fiber.StatusRequestEntityTooLarge:
			return problem.New(problem.RequestTooLarge, "request body is too large")
		case fiber.StatusNotFound:
			return problem.New(problem.NotFound, "no such resource")
		case fiber.StatusMethodNotAllowed:
			return problem.New(problem.MethodNotAllowed, "method not allowed")
		case fiber.StatusTooManyRequests:
			return problem.New(problem.RateLimited, "too many requests")
		case fiber.StatusRequestHeaderFieldsTooLarge:
			return problem.New(problem.RequestHeaderTooLarge, "request headers are too large")
		case fiber.StatusBadRequest, fiber.StatusUnsupportedMediaType:
			return problem.New(problem.InvalidRequest, "malformed request")
		}
		if fe.Code < 500 {
			return problem.New(problem.InvalidRequest, "request refused")
		}
	}
	if _, ok := database.Classify(err); ok {
		return Unavailable(err)
	}
	return &problem.Error{Code: problem.Internal, Message: "internal error", Cause: err}
}

// Unavailable is the answer while the database cannot take writes (or
// cannot be reached): 503 with Retry-After. cause is kept for the log.
func Unavailable(cause error) *problem.Error {
	return &problem.Error{Code: problem.Unavailable, Message: "the service cannot save changes right now; try again shortly",
		RetryAfter: database.RetryAfter, Cause: cause}
}

// WriteProblem answers with the contract's error JSON.
func WriteProblem(c *fiber.Ctx, p *problem.Error) error {
	c.Locals(ErrorCodeLocal, p.Code)
	switch p.Code {
	case problem.Unauthorized:
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="miniauth", error="invalid_token"`)
	case problem.RateLimited:
		setRetryAfter(c, p.RetryAfter, time.Minute)
	case problem.Unavailable:
		setRetryAfter(c, p.RetryAfter, database.RetryAfter)
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Status(Status(p.Code)).JSON(errorBody{errorJSON{Code: p.Code, Message: p.Message, Fields: p.Fields}})
}

// setRetryAfter sets Retry-After in whole seconds (fallback if d is 0).
func setRetryAfter(c *fiber.Ctx, d, fallback time.Duration) {
	if d <= 0 {
		d = fallback
	}
	c.Set(fiber.HeaderRetryAfter, strconv.Itoa(int((d+time.Second-1)/time.Second)))
}
