package apptest

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/miniauth/miniauth/app/database"
)

// OpenDB opens the database at url, migrated and closed when the test
// ends; with url "" it is a fresh SQLite file in a temp dir. For tests of
// a package that works on the database without the whole server.
func OpenDB(t testing.TB, url string) *database.DB {
	t.Helper()
	if url == "" {
		url = filepath.Join(t.TempDir(), "test.db")
	}
	db, err := database.Open(context.Background(), database.Options{URL: url, MaxOpenConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
