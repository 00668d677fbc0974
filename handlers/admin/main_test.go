package admin_test

import (
	"os"
	"testing"

	"github.com/miniauth/miniauth/app/admins"
)

// TestMain lowers argon2id's cost for this package's in-process servers:
// the panel's tests sign in hundreds of times, and under the race
// detector one hash at the production cost (19 MiB, 2 passes) takes
// seconds, so floods of 100 sign-ins outlast the client's timeout. The
// cost itself is tested in app/admins; what these tests check (throttles,
// second factors, pages) does not depend on it.
func TestMain(m *testing.M) {
	admins.DefaultParams = admins.Params{MemoryKiB: 256, Time: 1, Threads: 1}
	os.Exit(m.Run())
}
