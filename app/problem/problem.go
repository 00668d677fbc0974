// Package problem defines the domain errors miniauth reports to clients: a
// code of the contract, a message, and the invalid fields.
//
// It knows nothing of HTTP: the handlers package maps each code to its
// status and writes {"error":{"code","message","fields"}} in exactly one
// place. Any other error is an internal one: logged, and answered as a bare
// 500.
package problem

import (
	"errors"
	"fmt"
	"time"
)

// Codes of the external contract.
const (
	InvalidRequest   = "invalid_request"
	ValidationFailed = "validation_failed"
	RequestTooLarge  = "request_too_large"
	// RequestHeaderTooLarge: the request's headers do not fit the
	// server's read buffer (a giant token or cookie).
	RequestHeaderTooLarge = "request_header_too_large"
	InvalidCode           = "invalid_code"
	Unauthorized          = "unauthorized"
	UserDisabled          = "user_disabled"
	LoginBlocked          = "login_blocked"
	NotFound              = "not_found"
	MethodNotAllowed      = "method_not_allowed"
	RateLimited           = "rate_limited"
	WeChatUnavailable     = "wechat_unavailable"
	SessionKeyStale       = "session_key_stale"
	AccountConflict       = "account_conflict"
	// PhoneCodeMismatch: WeChat says the phone code was obtained by
	// another user than the one redeeming it.
	PhoneCodeMismatch = "phone_code_mismatch"
	// RiskRejected: WeChat's risk rank of a would-be new user is above
	// MINIAUTH_RISK_MAX_RANK.
	RiskRejected = "risk_rejected"
	// Forbidden: the caller may not do this (the admin panel's refusals:
	// a viewer's change, a form without its CSRF token). The API never
	// answers it.
	Forbidden = "forbidden"
	Internal  = "internal"
)

// Error is a failure the client is told about.
type Error struct {
	Code       string
	Message    string
	Fields     map[string]string // validation_failed only
	RetryAfter time.Duration     // rate_limited only
	Cause      error             // logged, never sent
}

func (e *Error) Error() string {
	if e.Cause != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Cause)
	}
	return e.Code + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Cause }

// New makes an error with a code and a message.
func New(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrap makes an error with a code whose cause is kept for the log.
func Wrap(cause error, code, message string) *Error {
	return &Error{Code: code, Message: message, Cause: cause}
}

// Invalid is a validation_failed error naming each bad field.
func Invalid(fields map[string]string) *Error {
	return &Error{Code: ValidationFailed, Message: "some fields are invalid", Fields: fields}
}

// As finds an *Error in err's chain.
func As(err error) (*Error, bool) {
	var p *Error
	ok := errors.As(err, &p)
	return p, ok
}

// CodeOf is the contract code of err, Internal for unknown errors.
func CodeOf(err error) string {
	if p, ok := As(err); ok {
		return p.Code
	}
	return Internal
}
