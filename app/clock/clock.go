// Package clock is miniauth's one notion of "now". Services hold a Clock
// so that tests can move time forward instead of sleeping.
package clock

import (
	"sync"
	"sync/atomic"
	"time"
)

// Clock tells the time. The zero Clock (nil) is the system clock.
type Clock func() time.Time

// Now is the current time in UTC: the database keeps UTC, and times
// compared with what it returns must be UTC too.
func (c Clock) Now() time.Time {
	if c == nil {
		return time.Now().UTC()
	}
	return c().UTC()
}

// Manual is a clock that moves only when told, for tests: expiring a
// token is one Advance instead of a sleep. It is safe for concurrent use.
type Manual struct {
	mu sync.Mutex
	t  time.Time
}

// NewManual is a clock stopped at t.
func NewManual(t time.Time) *Manual { return &Manual{t: t} }

// Now is the clock's time.
func (m *Manual) Now() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.t
}

// Advance moves the clock d forward.
func (m *Manual) Advance(d time.Duration) {
	m.mu.Lock()
	m.t = m.t.Add(d)
	m.mu.Unlock()
}

// Shifted is the system clock moved by an offset that a test changes.
// End-to-end tests use it rather than Manual: contrib/jwt checks a token's
// exp against the system clock, so the server's clock must run with it.
type Shifted struct{ offset atomic.Int64 }

// Now is the system time plus the offset.
func (s *Shifted) Now() time.Time { return time.Now().Add(time.Duration(s.offset.Load())) }

// Shift moves the clock d (negative: back).
func (s *Shifted) Shift(d time.Duration) { s.offset.Add(int64(d)) }
