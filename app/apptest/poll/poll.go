// Package poll waits in tests for what happens in the background. It
// imports nothing of miniauth, so the tests of any package can use it,
// app/database's own included (apptest imports app/database).
package poll

import (
	"testing"
	"time"
)

// Until polls cond until it holds, failing the test with what (and the
// last state cond reports) after within. For what happens in the
// background (a purge at start-up, a listener coming up, a probe); never
// for timing: within is a generous bound, not a measurement.
func Until(t testing.TB, within time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not so after %s (%s)", what, within, state)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
