package admins

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"time"

	"entgo.io/ent/dialect"

	"github.com/miniauth/miniauth/app/clock"
	"github.com/miniauth/miniauth/app/database"
	"github.com/miniauth/miniauth/ent"
	"github.com/miniauth/miniauth/ent/throttle"
)

// Default sign-in limits: failed attempts per window. Successful
// sign-ins do not count, so an operator who types the password right is
// never throttled; a guesser gets 429s after a handful of tries, and
// never more than that many guesses checked, however many are sent at
// once (see Reserve).
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
	Now                 clock.Clock
}

// NewLoginLimiter is a limiter with the default limits.
func NewLoginLimiter(db *database.DB) *LoginLimiter {
	return &LoginLimiter{DB: db, FailuresPerUsername: DefaultFailuresPerUsername,
		FailuresPerIP: DefaultFailuresPerIP, Window: DefaultLimitWindow}
}

// ipKey is the counter of a client. An IPv6 client is its /64: one
// subscriber, one host or one cloud instance is routinely handed a whole
// /64, and each of its 2^64 addresses must not get tries of its own.
func ipKey(ip string) string { return throttlePrefix + "ip:" + ClientNet(ip) }

// ClientNet is the network a client address counts as: an IPv4 address
// as itself, an IPv6 address as its /64 (IPv4-mapped ones as IPv4).
// Anything else is used as it is.
func ClientNet(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	a = a.Unmap()
	if a.Is4() {
		return a.String()
	}
	p, _ := a.WithZone("").Prefix(64)
	return p.String()
}

// usernameKey bounds the key: a posted username can be any length, and
// names past MaxUsername can never sign in anyway.
func usernameKey(name string) string {
	name = NormalizeUsername(name)
	if len(name) > MaxUsername {
		name = name[:MaxUsername]
	}
	return throttlePrefix + "user:" + name
}

// limit is one counter and its ceiling.
type limit struct {
	key string
	max int
}

// limits are the counters of a sign-in, in lock order (by key: "ip:"
// sorts before "user:"), so that two transactions never wait on each
// other's rows in opposite orders.
func (l *LoginLimiter) limits(ip, username string) []limit {
	return []limit{{ipKey(ip), l.FailuresPerIP}, {usernameKey(username), l.FailuresPerUsername}}
}

// Allow reports, without counting anything, whether a sign-in may be
// attempted now, and if not, how long until it may.
func (l *LoginLimiter) Allow(ctx context.Context, ip, username string) (bool, time.Duration, error) {
	return l.allow(ctx, l.limits(ip, username))
}

// AllowIP is Allow for the client address alone: a throttled client is
// refused before its form is even parsed.
func (l *LoginLimiter) AllowIP(ctx context.Context, ip string) (bool, time.Duration, error) {
	return l.allow(ctx, l.limits(ip, "")[:1])
}

func (l *LoginLimiter) allow(ctx context.Context, limits []limit) (bool, time.Duration, error) {
	now := l.Now.Now()
	keys := make([]string, len(limits))
	for i, lim := range limits {
		keys[i] = lim.key
	}
	rows, err := l.DB.Read.Throttle.Query().Where(throttle.KeyIn(keys...), throttle.ExpiresAtGT(now)).All(ctx)
	if err != nil {
		return false, 0, fmt.Errorf("read login throttle: %w", err)
	}
	var wait time.Duration
	for _, r := range rows {
		for _, lim := range limits {
			if r.Key == lim.key && count(r.Value) >= lim.max {
				wait = max(wait, r.ExpiresAt.Sub(now))
			}
		}
	}
	if wait > 0 {
		return false, max(wait, time.Second), nil
	}
	return true, 0, nil
}

// Reserve counts a sign-in attempt against the IP and the username
// before its password is checked, if both are under their limits, and
// reports whether it may go ahead (if not, how long until it may). The
// check and the increment are one transaction holding the counters'
// rows, so that however many attempts arrive at once, on however many
// instances, at most the limit are ever checked. A refused attempt
// counts nothing. An attempt that succeeds is given back with Release.
func (l *LoginLimiter) Reserve(ctx context.Context, ip, username string) (bool, time.Duration, error) {
	a, err := l.ReserveAttempt(ctx, ip, username)
	return a.OK, a.Wait, err
}

// Attempt is what ReserveAttempt decided.
type Attempt struct {
	OK   bool
	Wait time.Duration // when not OK: until the next attempt may be made
	// Last: this attempt took the last try of the IP or the username.
	// If it fails, the client is locked out now: the one moment worth an
	// audit line, however many guesses there were.
	Last bool
}

// ReserveAttempt is Reserve, also telling whether the attempt is the
// last one allowed.
func (l *LoginLimiter) ReserveAttempt(ctx context.Context, ip, username string) (Attempt, error) {
	limits := l.limits(ip, username)
	var wait time.Duration
	var last bool
	err := l.DB.Writer.Do(ctx, func(ctx context.Context, tx *ent.Client) error {
		now := l.Now.Now()
		rows := make([]*ent.Throttle, len(limits))
		for i, lim := range limits {
			r, err := l.lockCounter(ctx, tx, lim.key, now)
			if err != nil {
				return fmt.Errorf("lock sign-in counter: %w", err)
			}
			rows[i] = r
		}
		wait = 0
		for i, r := range rows {
			if live(r, now) && count(r.Value) >= limits[i].max {
				wait = max(wait, r.ExpiresAt.Sub(now))
			}
		}
		if wait > 0 {
			return nil
		}
		last = false
		for i, r := range rows {
			upd := tx.Throttle.UpdateOneID(r.ID)
			n := 1
			if live(r, now) {
				n = count(r.Value) + 1
			}
			last = last || n >= limits[i].max
			if live(r, now) {
				upd.SetValue(encode(n))
			} else {
				// A new window starts with this attempt.
				upd.SetValue(encode(1)).SetExpiresAt(now.Add(l.Window))
			}
			if err := upd.Exec(ctx); err != nil {
				return fmt.Errorf("count sign-in attempt: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return Attempt{}, err
	}
	if wait > 0 {
		return Attempt{Wait: max(wait, time.Second)}, nil
	}
	if rand.IntN(32) == 0 {
		l.sweep(ctx)
	}
	return Attempt{OK: true, Last: last}, nil
}

// Release gives back an attempt Reserve counted, once its password
// proved right: successful sign-ins do not count against the limits.
func (l *LoginLimiter) Release(ctx context.Context, ip, username string) error {
	return l.DB.Writer.Do(ctx, func(ctx context.Context, tx *ent.Client) error {
		now := l.Now.Now()
		for _, lim := range l.limits(ip, username) {
			r, err := l.lockCounter(ctx, tx, lim.key, now)
			if err != nil {
				return fmt.Errorf("lock sign-in counter: %w", err)
			}
			if n := count(r.Value); live(r, now) && n > 0 {
				if err := tx.Throttle.UpdateOneID(r.ID).SetValue(encode(n - 1)).Exec(ctx); err != nil {
					return fmt.Errorf("release sign-in attempt: %w", err)
				}
			}
		}
		return nil
	})
}

// lockCounter returns the counter row of key, created empty if missing,
// locked until the transaction ends. SQLite's single writer already
// serializes; PostgreSQL needs the row lock so that two instances do not
// both see the count under the limit. The row is made first with ON
// CONFLICT DO NOTHING, so that two first attempts cannot both insert it.
func (l *LoginLimiter) lockCounter(ctx context.Context, tx *ent.Client, key string, now time.Time) (*ent.Throttle, error) {
	err := tx.Throttle.Create().SetKey(key).SetValue(encode(0)).SetExpiresAt(now.Add(l.Window)).
		OnConflictColumns(throttle.FieldKey).DoNothing().Exec(ctx)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, err
	}
	q := tx.Throttle.Query().Where(throttle.Key(key))
	if l.DB.Dialect == dialect.Postgres {
		q = q.ForUpdate()
	}
	return q.Only(ctx)
}

func live(r *ent.Throttle, now time.Time) bool { return r.ExpiresAt.After(now) }

// sweep deletes expired sign-in counters, now and then, in key order (the
// order Reserve locks them in) and in its own transaction.
func (l *LoginLimiter) sweep(ctx context.Context) {
	l.DB.Writer.Do(ctx, func(ctx context.Context, tx *ent.Client) error {
		q := tx.Throttle.Query().Where(throttle.KeyHasPrefix(throttlePrefix), throttle.ExpiresAtLTE(l.Now.Now())).
			Order(ent.Asc(throttle.FieldKey)).Limit(1000)
		if l.DB.Dialect == dialect.Postgres {
			q = q.ForUpdate()
		}
		ids, err := q.IDs(ctx)
		if err != nil || len(ids) == 0 {
			return err
		}
		_, err = tx.Throttle.Delete().Where(throttle.IDIn(ids...)).Exec(ctx)
		return err
	})
}

func encode(n int) []byte { return binary.BigEndian.AppendUint64(nil, uint64(n)) }

func count(b []byte) int {
	if len(b) != 8 {
		return 0
	}
	return int(binary.BigEndian.Uint64(b))
}
