package database_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/miniauth/miniauth/app/cli/fakeusers"
	"github.com/miniauth/miniauth/app/database"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// Moving the users of a single-app release to identities logs its
// progress: rows done of the total, the rate and the time left, then the
// end; every user gets its identity. (On PostgreSQL too, when configured.)
func TestIdentitiesMigrationLogsProgress(t *testing.T) {
	eachDatabase(t, func(t *testing.T, _, url string, old *database.DB) {
		ctx := context.Background()
		// A database with 1000 users and no identities, as a
		// single-app release (or dev seed) leaves it.
		if err := fakeusers.Insert(ctx, old, 1000, fakeusers.Options{}); err != nil {
			t.Fatal(err)
		}
		old.Close()

		var out lockedBuffer
		db, err := database.OpenNoMigrate(database.Options{URL: url, MaxOpenConns: 4, LegacyAppID: "wxlegacy00000001",
			Log: slog.New(slog.NewJSONHandler(&out, nil))})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		database.SetMigrationPace(db, 100, 0)
		if err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		var steps int
		var last map[string]any
		for _, line := range strings.Split(strings.TrimSpace(out.b.String()), "\n") {
			var m map[string]any
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				t.Fatalf("log line %q: %v", line, err)
			}
			if m["msg"] == "migrating: identities of app wxlegacy00000001 for the users of a single-app release" && m["done"] != nil {
				steps++
				if m["total"] != 1000.0 || m["rows_per_s"] == nil {
					t.Errorf("progress line lacks total or rate: %s", line)
				}
				if m["done"].(float64) < 1000 && m["eta"] == nil {
					t.Errorf("progress line lacks an estimate: %s", line)
				}
				last = m
			}
		}
		if steps < 9 || last["done"] != 1000.0 {
			t.Fatalf("%d progress lines, last %v; want about 10 ending at 1000:\n%s", steps, last, out.b.String())
		}
		for _, want := range []string{`"msg":"migrated: identities`, `"rows":1000`, `"msg":"database schema up to date"`} {
			if !strings.Contains(out.b.String(), want) {
				t.Errorf("log lacks %s:\n%s", want, out.b.String())
			}
		}
		var without int
		if err := db.SQL.QueryRow("SELECT COUNT(*) FROM users u WHERE NOT EXISTS (SELECT 1 FROM identities i WHERE i.user_id = u.id)").Scan(&without); err != nil || without != 0 {
			t.Fatalf("%d users without identity (%v)", without, err)
		}
	})
}
