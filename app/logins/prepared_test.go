package logins_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mattn/go-sqlite3"

	"github.com/miniauth/miniauth/app/apptest"
	"github.com/miniauth/miniauth/app/logins"
)

// A login's hand-written statements are prepared once per connection
// and then only run: SQLite re-prepares a statement at every run when
// its plan depends on an argument's value, and findIdentitySQL once did
// (a tenth of a login's CPU). SQLite asks the authorizer about every
// table a statement reads while it prepares it, and never while it runs
// it, so the count of those questions shows each re-prepare.
func TestLoginStatementsStayPrepared(t *testing.T) {
	db := apptest.OpenDB(t, "")
	ctx := context.Background()
	conn, err := db.SQL.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var prepares atomic.Int64
	err = conn.Raw(func(dc any) error {
		dc.(*sqlite3.SQLiteConn).RegisterAuthorizer(func(op int, _, _, _ string) int {
			if op == sqlite3.SQLITE_SELECT || op == sqlite3.SQLITE_UPDATE || op == sqlite3.SQLITE_INSERT {
				prepares.Add(1)
			}
			return sqlite3.SQLITE_OK
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Raw(func(dc any) error { dc.(*sqlite3.SQLiteConn).RegisterAuthorizer(nil); return nil })

	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name string
		sql  string
		args func(i int) []any
	}{
		{"findIdentitySQL", logins.FindIdentitySQL, func(i int) []any { return []any{"o_" + string(rune('a'+i)), "wxapp"} }},
		{"returningLoginSQL", logins.ReturningLoginSQL, func(i int) []any {
			return []any{now, i%2 == 0, "nick", false, "", true, i % 3, i, false}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var afterFirst int64
			for i := range 5 {
				rows, err := conn.QueryContext(ctx, c.sql, c.args(i)...)
				if err != nil {
					t.Fatal(err)
				}
				for rows.Next() {
				}
				if err := rows.Close(); err != nil {
					t.Fatal(err)
				}
				if i == 0 {
					afterFirst = prepares.Load()
					if afterFirst == 0 {
						t.Fatal("the authorizer heard nothing of the first run's prepare")
					}
				}
			}
			if n := prepares.Load(); n != afterFirst {
				t.Fatalf("%s was prepared again on later runs with other arguments (%d authorizer calls after the first run, %d after five)", c.name, afterFirst, n)
			}
			prepares.Store(0)
		})
	}
}
