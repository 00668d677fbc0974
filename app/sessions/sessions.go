// Package sessions owns what makes a token open exactly one live session,
// on every instance: the check every authenticated request makes (the
// session cache, else one prepared statement), the writes that end
// sessions, the purge of ended ones, and the coherence of every
// instance's cache. A write that ends a session or changes a user runs
// in Write and declares the change on its Changes; Write notifies the
// other instances inside the transaction and settles the caches after
// it, so no write can leave a cache answering the old state.
package sessions

import (
	"log/slog"

	"github.com/miniauth/miniauth/app/clock"
	"github.com/miniauth/miniauth/app/database"
	"github.com/miniauth/miniauth/app/problem"
	"github.com/miniauth/miniauth/app/sessioncache"
)

// Service is the sessions of one database.
type Service struct {
	DB *database.DB
	// Cache holds live sessions for Authenticate; nil: no cache.
	Cache *sessioncache.Cache
	Log   *slog.Logger
	Now   clock.Clock

	authStmt preparedStmt
	acks     ackWaiters
}

// ErrUnauthorized is the answer to a token whose session is not live.
var ErrUnauthorized = problem.New(problem.Unauthorized, "missing, invalid, expired or revoked token")
