// Package clock is miniauth's one notion of "now". Services hold a Clock
// so that tests can move time forward instead of sleeping.
package clock

import (
	"sync"
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
