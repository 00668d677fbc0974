package admins

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"time"

	"entgo.io/ent/dialect"

	"github.com/miniauth/miniauth/app/database"
	"github.com/miniauth/miniauth/ent"
	"github.com/miniauth/miniauth/ent/throttle"
)

// Default sign-in limits: failed attempts per window. Successful
// sign-ins do not count, so an operator who types the password right is
// never throttled; a guesser gets 429s after a handful of tries.
const (
	DefaultFailuresPerUsername = 5
	DefaultFailuresPerIP       = 20
	DefaultLimitWindow         = 15 * time.Minute
	throttlePrefix             = "admin-login:"
)

// LoginLimiter counts failed sign-ins per client IP and per username in
// the Throttle table, so that every instance sharing a database shares
// the counts.
type LoginLimiter struct {
	DB                  *database.DB
	FailuresPerUsername int
	FailuresPerIP       int
	Window              time.Duration
	Now                 func() time.Time
}

// NewLoginLimiter is a limiter with the default limits.
func NewLoginLimiter(db *database.DB) *LoginLimiter {
	return &LoginLimiter{DB: db, FailuresPerUsername: DefaultFailuresPerUsername,
		FailuresPerIP: DefaultFailuresPerIP, Window: DefaultLimitWindow}
}

func (l *LoginLimiter) now() time.Time {
	if l.Now != nil {
		return l.Now().UTC()
	}
	return time.Now().UTC()
}

func ipKey(ip string) string { return throttlePrefix + "ip:" + ip }

// usernameKey bounds the key: a posted username can be any length, and
// names past MaxUsername can never sign in anyway.
func usernameKey(name string) string {
	name = NormalizeUsername(name)
	if len(name) > MaxUsername {
		name = name[:MaxUsername]
	}
	return throttlePrefix + "user:" + name
}

// Allow reports whether a sign-in may be attempted now, and if not, how
// long until it may.
func (l *LoginLimiter) Allow(ctx context.Context, ip, username string) (bool, time.Duration, error) {
	now := l.now()
	rows, err := l.DB.Read.Throttle.Query().
		Where(throttle.KeyIn(ipKey(ip), usernameKey(username)), throttle.ExpiresAtGT(now)).All(ctx)
	if err != nil {
		return false, 0, fmt.Errorf("read login throttle: %w", err)
	}
	var wait time.Duration
	for _, r := range rows {
		limit := l.FailuresPerIP
		if r.Key != ipKey(ip) {
			limit = l.FailuresPerUsername
		}
		if count(r.Value) >= limit {
			wait = max(wait, r.ExpiresAt.Sub(now))
		}
	}
	if wait > 0 {
		return false, max(wait, time.Second), nil
	}
	return true, 0, nil
}

// Fail records a failed sign-in against the IP and the username.
func (l *LoginLimiter) Fail(ctx context.Context, ip, username string) error {
	return l.DB.Writer.Do(ctx, func(ctx context.Context, tx *ent.Client) error {
		now := l.now()
		for _, key := range []string{ipKey(ip), usernameKey(username)} {
			if err := l.increment(ctx, tx, key, now); err != nil {
				return fmt.Errorf("count failed sign-in: %w", err)
			}
		}
		// Now and then, sweep expired counters.
		if rand.IntN(32) == 0 {
			_, err := tx.Throttle.Delete().Where(throttle.KeyHasPrefix(throttlePrefix), throttle.ExpiresAtLTE(now)).Exec(ctx)
			return err
		}
		return nil
	})
}

func (l *LoginLimiter) increment(ctx context.Context, tx *ent.Client, key string, now time.Time) error {
	q := tx.Throttle.Query().Where(throttle.Key(key))
	if l.DB.Dialect == dialect.Postgres {
		// SQLite's writer already serializes; PostgreSQL needs the row lock
		// so that two instances do not lose a count.
		q = q.ForUpdate()
	}
	row, err := q.Only(ctx)
	switch {
	case ent.IsNotFound(err):
		err := tx.Throttle.Create().SetKey(key).SetValue(encode(1)).SetExpiresAt(now.Add(l.Window)).
			OnConflictColumns(throttle.FieldKey).UpdateNewValues().Exec(ctx)
		return err
	case err != nil:
		return err
	case !row.ExpiresAt.After(now):
		return tx.Throttle.UpdateOneID(row.ID).SetValue(encode(1)).SetExpiresAt(now.Add(l.Window)).Exec(ctx)
	default:
		return tx.Throttle.UpdateOneID(row.ID).SetValue(encode(count(row.Value) + 1)).Exec(ctx)
	}
}

func encode(n int) []byte { return binary.BigEndian.AppendUint64(nil, uint64(n)) }

func count(b []byte) int {
	if len(b) != 8 {
		return 0
	}
	return int(binary.BigEndian.Uint64(b))
}
