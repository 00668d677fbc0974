package app_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miniauth/miniauth/app/apptest"
	"github.com/miniauth/miniauth/app/clock"
	"github.com/miniauth/miniauth/app/wechatsim"
)

// fault is a way for the database to stop taking writes while the
// server runs, and to get better without a restart.
type fault struct {
	reason string // what GET /readyz reports meanwhile
	logged string // what the one log line says (the remedy)
	induce func(t *testing.T)
	heal   func(t *testing.T)
}

// ready is GET /readyz: the status and the reason given.
func ready(t *testing.T, env *apptest.Env) (int, string) {
	t.Helper()
	r := env.Do(t, apptest.Request{Method: "GET", Path: "/readyz"})
	var body struct{ Status, Reason string }
	if err := json.Unmarshal(r.Body, &body); err != nil {
		t.Fatalf("readyz: %d %s", r.Status, r.Body)
	}
	switch {
	case r.Status == http.StatusOK && body.Status == "ready" && body.Reason == "":
	case r.Status == http.StatusServiceUnavailable && body.Status == "unavailable" && body.Reason != "" && r.Header.Get("Retry-After") != "":
	default:
		t.Fatalf("readyz answered %d %s (Retry-After %q)", r.Status, r.Body, r.Header.Get("Retry-After"))
	}
	return r.Status, body.Reason
}

// waitReady polls GET /readyz until it answers want (the probe runs every
// second; the deadline is generous for a loaded machine).
func waitReady(t *testing.T, env *apptest.Env, want int) string {
	t.Helper()
	var reason string
	apptest.Eventually(t, 20*time.Second, fmt.Sprintf("readyz %d", want), func() (bool, string) {
		var status int
		status, reason = ready(t, env)
		return status == want, fmt.Sprintf("%d %s", status, reason)
	})
	return reason
}

// expectUnavailable fails unless r is 503 unavailable with Retry-After.
func expectUnavailable(t *testing.T, r *apptest.Response) {
	t.Helper()
	apptest.Expect(t, r, http.StatusServiceUnavailable, "unavailable")
	if r.Header.Get("Retry-After") == "" {
		t.Fatalf("503 without Retry-After: %s", r.Body)
	}
}

// lines counts the log lines containing s.
func lines(logs, s string) int {
	n := 0
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, s) {
			n++
		}
	}
	return n
}

// checkFault runs one fault on a running server: 100 logins at once
// while writes fail are each answered 200 or 503 unavailable with
// Retry-After, never 500; readiness says why; a login refused early has
// not spent its code; reads are served where they can be; the fault is
// logged once, however many requests it failed; and once healed, without
// a restart, readiness and logins come back and every login that was
// acknowledged is in the database.
func checkFault(t *testing.T, env *apptest.Env, f fault, readsServed bool) {
	quiet := clock.NewManual(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	env.Server.DB.Faults.SetClock(quiet.Now) // the log's window never ends by itself
	before := env.Login(t, "before-the-fault")
	if status, _ := ready(t, env); status != http.StatusOK {
		t.Fatalf("not ready before the fault")
	}

	f.induce(t)
	const n = 100
	var mu sync.Mutex
	var acknowledged []*apptest.Grant
	refused := 0
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code := env.WeChat.NewCode(wechatsim.Identity{OpenID: "storm-" + strings.Repeat("x", i%3) + string(rune('a'+i%26)) + time.Now().Format("150405.000000000")})
			r := env.Do(t, apptest.Request{Method: "POST", Path: "/api/auth/login", Body: map[string]any{"code": code}})
			mu.Lock()
			defer mu.Unlock()
			switch r.Status {
			case http.StatusOK:
				var g apptest.Grant
				if err := json.Unmarshal(r.Body, &g); err != nil {
					t.Errorf("login answer: %v", err)
					return
				}
				acknowledged = append(acknowledged, &g)
			case http.StatusServiceUnavailable:
				if r.ErrorCode() != "unavailable" || r.Header.Get("Retry-After") == "" {
					t.Errorf("503 %s, Retry-After %q", r.Body, r.Header.Get("Retry-After"))
				}
				refused++
			default:
				t.Errorf("login while %s: %d %s", f.reason, r.Status, r.Body)
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	if refused == 0 {
		t.Fatalf("all %d logins succeeded while %s", n, f.reason)
	}
	t.Logf("%s: %d logins acknowledged, %d answered 503", f.reason, len(acknowledged), refused)
	if _, reason := ready(t, env); reason != f.reason {
		t.Fatalf("readyz reason %q, want %q", reason, f.reason)
	}

	// Known down: a login is refused before its code is spent.
	kept := env.WeChat.NewCode(wechatsim.Identity{OpenID: "kept-code"})
	expectUnavailable(t, env.Do(t, apptest.Request{Method: "POST", Path: "/api/auth/login", Body: map[string]any{"code": kept}}))

	me := env.Do(t, apptest.Request{Method: "GET", Path: "/api/me", Token: before.AccessToken})
	if readsServed && me.Status != http.StatusOK {
		t.Fatalf("GET /api/me while %s: %d %s, want it served", f.reason, me.Status, me.Body)
	}
	if !readsServed && me.Status != http.StatusOK {
		expectUnavailable(t, me)
	}

	logs := env.Logs.String()
	if got := lines(logs, f.logged); got != 1 {
		t.Fatalf("%d log lines say %q, want 1 for %d failed requests:\n%s", got, f.logged, refused, logs)
	}
	if got := lines(logs, `"level":"ERROR"`); got > 3 {
		t.Fatalf("%d ERROR lines for one fault:\n%s", got, logs)
	}

	f.heal(t)
	waitReady(t, env, http.StatusOK)
	g := env.LoginWith(t, map[string]any{"code": kept})
	if !g.IsNewUser {
		t.Fatalf("the kept code logged in an existing user")
	}
	if !strings.Contains(env.Logs.String(), "database takes writes again") {
		t.Fatalf("no recovery line:\n%s", env.Logs.String())
	}
	if testing.Verbose() {
		for _, l := range strings.Split(env.Logs.String(), "\n") {
			if strings.Contains(l, `"level":"ERROR"`) || strings.Contains(l, "writes again") {
				t.Log(l)
			}
		}
	}
	for _, g := range append(acknowledged, before) {
		var sessions int
		if err := env.Server.DB.ReadSQL.QueryRow(rebind(env, "SELECT COUNT(*) FROM sessions WHERE user_id = ?"), g.UserID()).Scan(&sessions); err != nil {
			t.Fatal(err)
		}
		if sessions == 0 {
			t.Fatalf("user %d was acknowledged but has no session", g.UserID())
		}
		r := env.Do(t, apptest.Request{Method: "POST", Path: "/api/auth/refresh", Body: map[string]any{"refresh_token": g.RefreshToken}})
		if r.Status != http.StatusOK {
			t.Fatalf("refresh of an acknowledged login after recovery: %d %s", r.Status, r.Body)
		}
	}
}

// rebind writes a query's placeholders for the server's database.
func rebind(env *apptest.Env, q string) string {
	if env.Server.DB.Dialect == "postgres" {
		return strings.ReplaceAll(q, "?", "$1")
	}
	return q
}

// writerPragma sets a pragma on SQLite's one write connection.
func writerPragma(env *apptest.Env, pragma string) func(t *testing.T) {
	return func(t *testing.T) {
		if _, err := env.Server.DB.SQL.ExecContext(context.Background(), "PRAGMA "+pragma); err != nil {
			t.Fatalf("PRAGMA %s: %v", pragma, err)
		}
	}
}

// A SQLite database that cannot grow (max_page_count pins it at its
// size, as a full disk would) answers 503 and recovers by itself.
func TestSQLiteFullDisk(t *testing.T) {
	t.Parallel()
	env := apptest.Start(t, apptest.Options{})
	checkFault(t, env, fault{
		reason: "disk_full",
		logged: "database or disk is full: free space in " + env.DataDir,
		induce: writerPragma(env, "max_page_count = 1"),
		heal:   writerPragma(env, "max_page_count = 1073741823"),
	}, true)
}

// A SQLite database that refuses writes. Tests run as root in CI, and
// chmod does not stop root, nor can a bind mount turn read-only under a
// file SQLite holds open for writing (EBUSY); query_only makes SQLite
// refuse every write with SQLITE_READONLY, the error a read-only file
// or mount gives, and can be lifted again.
func TestSQLiteReadOnly(t *testing.T) {
	t.Parallel()
	env := apptest.Start(t, apptest.Options{})
	checkFault(t, env, fault{
		reason: "read_only",
		logged: "database is read-only",
		induce: writerPragma(env, "query_only = 1"),
		heal:   writerPragma(env, "query_only = 0"),
	}, true)
}

// PostgreSQL turned read-only (as a failover to a standby or a provider's
// disk-full protection does) answers 503 and recovers by itself.
func TestPostgresReadOnly(t *testing.T) {
	t.Parallel()
	dbURL := apptest.FreshPostgres(t)
	u, _ := url.Parse(dbURL)
	name := strings.TrimPrefix(u.Path, "/")
	env := apptest.Start(t, apptest.Options{DatabaseURL: dbURL})
	admin, err := sql.Open("pgx", strings.Replace(dbURL, "/"+name, "/postgres", 1))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	set := func(mode string) func(t *testing.T) {
		return func(t *testing.T) {
			for _, q := range []string{
				"ALTER DATABASE " + name + " SET default_transaction_read_only = " + mode,
				// Sessions keep the setting they started with: end them,
				// as a failover does; the pool reconnects.
				"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '" + name + "'",
			} {
				if _, err := admin.Exec(q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
		}
	}
	checkFault(t, env, fault{
		reason: "read_only",
		logged: "PostgreSQL refuses writes",
		induce: set("on"),
		heal:   set("off"),
	}, true)
}

// PostgreSQL dropping off the network answers 503 and recovers by itself.
func TestPostgresUnreachable(t *testing.T) {
	t.Parallel()
	proxy, dbURL := apptest.ProxyPostgres(t, apptest.FreshPostgres(t))
	env := apptest.Start(t, apptest.Options{DatabaseURL: dbURL})
	checkFault(t, env, fault{
		reason: "database_unreachable",
		logged: "PostgreSQL is unreachable",
		induce: func(*testing.T) { proxy.Cut() },
		heal:   func(*testing.T) { proxy.Restore() },
	}, false)
}
