package database_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/miniauth/miniauth/app/database"
	"github.com/miniauth/miniauth/ent"
)

// A database whose identities still have the two indexes of earlier
// releases, unique (appid, openid) and (openid), leaves the migration
// with the one unique (openid, appid) that replaced them, and that index
// still refuses a second identity of one openid in one app while another
// app may have it. SQLite and PostgreSQL.
func TestMigrationReplacesIdentityIndexes(t *testing.T) {
	eachDatabase(t, func(t *testing.T, name, url string, old *database.DB) {
		ctx := context.Background()
		for _, ddl := range []string{
			"CREATE UNIQUE INDEX identity_appid_openid ON identities (appid, openid)",
			"CREATE INDEX identity_openid ON identities (openid)",
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
		list := "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'identities' AND sql IS NOT NULL ORDER BY name"
		if name == "postgres" {
			list = "SELECT indexname FROM pg_indexes WHERE tablename = 'identities' AND indexname <> 'identities_pkey' ORDER BY indexname"
		}
		rows, err := db.SQL.QueryContext(ctx, list)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for rows.Next() {
			var n string
			if err := rows.Scan(&n); err != nil {
				t.Fatal(err)
			}
			got = append(got, n)
		}
		rows.Close()
		want := []string{"identity_openid_appid", "identity_unionid", "identity_user_id"}
		if !slices.Equal(got, want) {
			t.Fatalf("indexes of identities after the migration: %v, want %v", got, want)
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
	})
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
