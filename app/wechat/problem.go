package wechat

import (
	"errors"
	"time"

	"github.com/miniauth/miniauth/app/problem"
)

// Errcodes WeChat documents (or is known to send) for the calls we make.
const (
	CodeSystemBusy    = -1
	CodeInvalidToken  = 40001
	CodeInvalidOpenID = 40003
	CodeInvalidAppID  = 40013
	CodeInvalidCode   = 40029
	CodeInvalidSecret = 40125
	CodeCodeUsed      = 40163
	CodeIPNotAllowed  = 40164
	CodeCodeBlocked   = 40226
	CodeTokenExpired  = 42001
	CodeDailyQuota    = 45009
	CodeMinuteQuota   = 45011
)

// Problem maps a WeChat failure to the error our client sees.
func Problem(err error) *problem.Error {
	if p, ok := problem.As(err); ok {
		return p
	}
	if errors.Is(err, ErrWatermark) {
		return problem.Wrap(err, problem.WeChatUnavailable, "WeChat's answer was meant for another mini program")
	}
	var we *Error
	if errors.As(err, &we) {
		switch we.Code {
		case CodeInvalidCode, CodeCodeUsed:
			return problem.Wrap(err, problem.InvalidCode, "the code is invalid or was already used; call wx.login again")
		case CodeCodeBlocked:
			return problem.Wrap(err, problem.LoginBlocked, "WeChat blocked this login (high-risk user)")
		case CodeMinuteQuota, CodeDailyQuota:
			p := problem.Wrap(err, problem.RateLimited, "WeChat rate limit reached; try again shortly")
			p.RetryAfter = time.Minute
			return p
		}
		return problem.Wrap(err, problem.WeChatUnavailable, "WeChat refused the request; try again later")
	}
	return problem.Wrap(err, problem.WeChatUnavailable, "WeChat is unavailable; try again later")
}

// Misconfigured reports whether err means our AppID or secret is wrong,
// which the operator must hear about loudly.
func Misconfigured(err error) bool {
	var we *Error
	if !errors.As(err, &we) {
		return false
	}
	switch we.Code {
	case CodeInvalidAppID, CodeInvalidSecret, CodeIPNotAllowed, 41002, 41004:
		return true
	}
	return false
}
