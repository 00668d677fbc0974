package apptest

import (
	"fmt"
	"github.com/miniauth/miniauth/app/apptest/poll"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Eventually polls cond until it holds, failing the test with what (and
// the last state cond reports) after within. For what happens in the
// background of a server (a purge at start-up, a listener coming up);
// never for timing: within is a generous bound, not a measurement.
func Eventually(t testing.TB, within time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	poll.Until(t, within, what, cond)
}

// VmRSS is a process's resident memory in bytes (pid 0: this process),
// from /proc; the test skips where there is no /proc.
func VmRSS(t testing.TB, pid int) int64 {
	t.Helper()
	path := "/proc/self/status"
	if pid != 0 {
		path = fmt.Sprintf("/proc/%d/status", pid)
	}
	status, err := os.ReadFile(path)
	if err != nil {
		t.Skipf("no %s: %v", path, err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatalf("VmRSS %q: %v", v, err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no VmRSS in %s", path)
	return 0
}
