package database_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miniauth/miniauth/app/database"
	"github.com/miniauth/miniauth/ent"
)

// A database with the indexes of earlier releases leaves the migration
// with the ones that replaced them: identities' unique (appid, openid)
// and (openid) became one unique (openid, appid), which still refuses a
// second identity of one openid in one app while another app may have
// it; sessions' unique refresh_hash became a partial index of legacy
// tokens, which the legacy refresh's lookup uses. SQLite and PostgreSQL.
func TestMigrationReplacesIndexes(t *testing.T) {
	eachDatabase(t, func(t *testing.T, name, url string, old *database.DB) {
		ctx := context.Background()
		for _, ddl := range []string{
			"CREATE UNIQUE INDEX identity_appid_openid ON identities (appid, openid)",
			"CREATE INDEX identity_openid ON identities (openid)",
			"DROP INDEX session_refresh_hash",
			"CREATE UNIQUE INDEX sessions_refresh_hash_key ON sessions (refresh_hash)",
		} {
			if _, err := old.SQL.ExecContext(ctx, ddl); err != nil {
				t.Fatalf("%s: %v", ddl, err)
			}
		}
		old.Close()

		db, err := database.Open(ctx, database.Options{URL: url, MaxOpenConns: 4})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		for table, want := range map[string][]string{
			"identities": {"identity_openid_appid", "identity_unionid", "identity_user_id"},
			"sessions":   {"session_refresh_hash", "session_user_id"},
		} {
			if got := indexesOf(t, db, name, table); !slices.Equal(got, want) {
				t.Errorf("indexes of %s after the migration: %v, want %v", table, got, want)
			}
		}

		u, err := db.Write.User.Create().SetOpenid("o-index-test").Save(ctx)
		if err != nil {
			t.Fatal(err)
		}
		identity := func(appID string) error {
			return db.Write.Identity.Create().SetUserID(u.ID).SetAppid(appID).SetOpenid("o-index-test").Exec(ctx)
		}
		if err := identity("wx-app-one"); err != nil {
			t.Fatal(err)
		}
		if err := identity("wx-app-two"); err != nil {
			t.Fatalf("the same openid in another app: %v", err)
		}
		if err := identity("wx-app-one"); !ent.IsConstraintError(err) {
			t.Fatalf("a second identity of one openid in one app: %v, want a constraint error", err)
		}

		// Sessions without a legacy hash (every new one) are not in the
		// partial index; a legacy hash stays unique.
		session := func(hash []byte) error {
			c := db.Write.Session.Create().SetUserID(u.ID).SetExpiresAt(time.Now().Add(time.Hour))
			if hash != nil {
				c.SetRefreshHash(hash)
			}
			return c.Exec(ctx)
		}
		for _, hash := range [][]byte{nil, nil, []byte("legacy-hash")} {
			if err := session(hash); err != nil {
				t.Fatal(err)
			}
		}
		if err := session([]byte("legacy-hash")); !ent.IsConstraintError(err) {
			t.Fatalf("a second session of one legacy hash: %v, want a constraint error", err)
		}
		if plan := queryPlan(t, db, name, "SELECT id FROM sessions WHERE refresh_hash = $1", []byte("legacy-hash")); !strings.Contains(plan, "session_refresh_hash") {
			t.Fatalf("the legacy refresh lookup does not use the partial index:\n%s", plan)
		}
	})
}

// indexesOf lists table's indexes by name, without the primary key's.
func indexesOf(t *testing.T, db *database.DB, dbName, table string) []string {
	t.Helper()
	list := "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = $1 AND sql IS NOT NULL ORDER BY name"
	if dbName == "postgres" {
		list = "SELECT indexname FROM pg_indexes WHERE tablename = $1 AND indexname <> $1 || '_pkey' ORDER BY indexname"
	}
	rows, err := db.SQL.QueryContext(context.Background(), list, table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		got = append(got, n)
	}
	return got
}

// queryPlan is the database's plan for query, as one string. PostgreSQL
// is told to avoid sequential scans, which it prefers on a table this
// small whatever the indexes.
func queryPlan(t *testing.T, db *database.DB, dbName, query string, args ...any) string {
	t.Helper()
	ctx := context.Background()
	conn, err := db.SQL.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	explain := "EXPLAIN QUERY PLAN "
	if dbName == "postgres" {
		explain = "EXPLAIN "
		if _, err := conn.ExecContext(ctx, "SET enable_seqscan = off"); err != nil {
			t.Fatal(err)
		}
		defer conn.ExecContext(ctx, "RESET enable_seqscan")
	}
	rows, err := conn.QueryContext(ctx, explain+query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var plan strings.Builder
	for rows.Next() {
		vals := make([]any, len(cols))
		for i := range vals {
			vals[i] = new(any)
		}
		if err := rows.Scan(vals...); err != nil {
			t.Fatal(err)
		}
		for _, v := range vals {
			fmt.Fprintf(&plan, "%v ", *(v.(*any)))
		}
		plan.WriteString("\n")
	}
	return plan.String()
}

// eachDatabase runs fn as a subtest on a fresh SQLite file and, when
// MINIAUTH_TEST_POSTGRES_URL is set, a fresh PostgreSQL database (CI's
// MINIAUTH_REQUIRE_POSTGRES=1 makes its absence a failure), each opened
// and migrated as old, for fn to shape as an earlier release left it
// and close.
func eachDatabase(t *testing.T, fn func(t *testing.T, name, url string, old *database.DB)) {
	urls := map[string]string{"sqlite": filepath.Join(t.TempDir(), "old.db")}
	if admin := os.Getenv("MINIAUTH_TEST_POSTGRES_URL"); admin != "" {
		urls["postgres"] = database.FreshPostgres(t, admin)
	} else if os.Getenv("MINIAUTH_REQUIRE_POSTGRES") == "1" {
		t.Fatal("MINIAUTH_REQUIRE_POSTGRES=1 but MINIAUTH_TEST_POSTGRES_URL is not set")
	}
	for name, url := range urls {
		t.Run(name, func(t *testing.T) {
			old, err := database.Open(context.Background(), database.Options{URL: url, MaxOpenConns: 4})
			if err != nil {
				t.Fatal(err)
			}
			fn(t, name, url, old)
		})
	}
}
