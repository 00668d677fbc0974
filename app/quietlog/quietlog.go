// Package quietlog decides when a repeated event is worth a log line: the
// first of a kind is written at once, the next ones within a window are
// only counted, and the first one after the window is written with that
// count. A disk that fills up fails every request the same way; one line
// per cause per window tells the operator as much as thousands would, and
// the log (often on that same disk) stays small.
package quietlog

import (
	"sync"
	"time"

	"github.com/miniauth/miniauth/app/clock"
)

// DefaultWindow is how long a kind of event stays quiet after its line.
const DefaultWindow = 10 * time.Second

// Log keeps, per key, when its last line was written and how many events
// were suppressed since. The zero value is not usable: call New.
type Log struct {
	window time.Duration

	mu   sync.Mutex
	now  clock.Clock
	keys map[string]*entry
}

type entry struct {
	last       time.Time
	suppressed int
}

// New is a Log with the given window (DefaultWindow if 0) on clock now
// (nil: the system clock).
func New(window time.Duration, now clock.Clock) *Log {
	if window <= 0 {
		window = DefaultWindow
	}
	return &Log{window: window, now: now, keys: map[string]*entry{}}
}

// SetClock replaces the clock, for tests that move time instead of
// sleeping through the window.
func (l *Log) SetClock(now clock.Clock) {
	l.mu.Lock()
	l.now = now
	l.mu.Unlock()
}

// Allow records one event of key. It says whether to write a line for it
// now and, if so, how many events of key were suppressed before it (to
// be written on that line).
func (l *Log) Allow(key string) (write bool, suppressed int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now.Now()
	e := l.keys[key]
	if e == nil {
		l.keys[key] = &entry{last: now}
		return true, 0
	}
	if now.Sub(e.last) < l.window {
		e.suppressed++
		return false, 0
	}
	suppressed = e.suppressed
	e.last, e.suppressed = now, 0
	return true, suppressed
}

// Take ends key's run of events: it returns how many were suppressed
// since its last line (to be told on a closing line, such as "writes work
// again") and forgets key, so that its next event is written at once.
func (l *Log) Take(key string) (suppressed int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e := l.keys[key]; e != nil {
		suppressed = e.suppressed
		delete(l.keys, key)
	}
	return suppressed
}

// TakeAll is Take for every key: the sum of their suppressed events.
func (l *Log) TakeAll() (suppressed int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for k, e := range l.keys {
		suppressed += e.suppressed
		delete(l.keys, k)
	}
	return suppressed
}
