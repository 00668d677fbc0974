package app_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miniauth/miniauth/app/apptest"
	"github.com/miniauth/miniauth/app/database"
	"github.com/miniauth/miniauth/app/wechatsim"
)

// While start-up migrations run, the server already listens: /readyz
// answers 503 "migrating", /healthz 503 "starting", every other request
// 503 unavailable with Retry-After (a login spends no code); once they
// are done the same address serves, and /readyz turns 200 by itself. The
// migration is held up deterministically by holding PostgreSQL's
// migration lock, as another instance migrating would.
func TestListensWhileMigrating(t *testing.T) {
	t.Parallel()
	dbURL := apptest.FreshPostgres(t)
	holder, err := sql.Open("pgx", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	ctx := context.Background()
	lock, err := holder.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if _, err := lock.ExecContext(ctx, "SELECT pg_advisory_lock($1)", database.MigrationLockID); err != nil {
		t.Fatal(err)
	}

	wx := apptest.NewWeChat(t)
	p := apptest.LaunchProcess(t, wx, map[string]string{"MINIAUTH_DATABASE_URL": dbURL})
	env := p.Env(wx)
	apptest.Eventually(t, 30*time.Second, "the server waiting at the migration lock", func() (bool, string) {
		return strings.Contains(p.Log(), "another instance is migrating"), p.Log()
	})

	r := env.Do(t, apptest.Request{Method: "GET", Path: "/readyz"})
	if r.Status != http.StatusServiceUnavailable || !strings.Contains(string(r.Body), `"reason":"migrating"`) || r.Header.Get("Retry-After") == "" {
		t.Fatalf("readyz while migrating: %d %s", r.Status, r.Body)
	}
	if r := env.Do(t, apptest.Request{Method: "GET", Path: "/healthz"}); r.Status != http.StatusServiceUnavailable || string(r.Body) != `{"status":"starting"}` {
		t.Fatalf("healthz while migrating: %d %s", r.Status, r.Body)
	}
	kept := wx.NewCode(wechatsim.Identity{OpenID: "early-bird"})
	expectUnavailable(t, env.Do(t, apptest.Request{Method: "POST", Path: "/api/auth/login", Body: map[string]any{"code": kept}}))
	// A hundred requests at once are all answered the same way.
	var wg sync.WaitGroup
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := env.Do(t, apptest.Request{Method: "GET", Path: "/api/me", Token: "x"})
			if r.Status != http.StatusServiceUnavailable || r.ErrorCode() != "unavailable" || r.Header.Get("Retry-After") == "" {
				t.Errorf("while migrating: %d %s", r.Status, r.Body)
			}
		}()
	}
	wg.Wait()

	if _, err := lock.ExecContext(ctx, "SELECT pg_advisory_unlock($1)", database.MigrationLockID); err != nil {
		t.Fatal(err)
	}
	p.WaitHealthy(t)
	r = env.Do(t, apptest.Request{Method: "GET", Path: "/readyz"})
	var body map[string]string
	json.Unmarshal(r.Body, &body)
	if r.Status != http.StatusOK || body["status"] != "ready" {
		t.Fatalf("readyz after migrating: %d %s", r.Status, r.Body)
	}
	g := env.LoginWith(t, map[string]any{"code": kept})
	if !g.IsNewUser {
		t.Fatal("the code refused during start-up did not log in")
	}
	// The server's log is buffered (flushed every few hundred ms).
	for _, want := range []string{"starting: answering 503", "database schema up to date", "miniauth listening"} {
		apptest.Eventually(t, 10*time.Second, "log line "+want, func() (bool, string) {
			return strings.Contains(p.Log(), want), p.Log()
		})
	}
}
