package app_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/miniauth/miniauth/app/apptest"
	"github.com/miniauth/miniauth/app/audit"
)

// The purge that runs at start-up and then hourly deletes audit entries
// older than MINIAUTH_AUDIT_RETENTION and keeps newer ones.
func TestAuditRetentionPurge(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		ctx := context.Background()
		dir, url := t.TempDir(), b.URL(t)
		dbURL := url
		if dbURL == "" {
			dbURL = filepath.Join(dir, "miniauth.db")
		}
		db := apptest.OpenDB(t, dbURL)
		at := time.Now().UTC().Add(-72 * time.Hour)
		l := &audit.Log{DB: db, Now: func() time.Time { return at }}
		for _, age := range []time.Duration{72 * time.Hour, 49 * time.Hour, time.Hour} {
			at = time.Now().UTC().Add(-age)
			if err := l.Record(ctx, audit.Entry{Actor: "a", Action: audit.SignIn, Detail: age.String()}); err != nil {
				t.Fatal(err)
			}
		}
		db.Close()

		env := apptest.Start(t, apptest.Options{DataDir: dir, DatabaseURL: url, Env: map[string]string{"MINIAUTH_AUDIT_RETENTION": "48h"}})
		read := env.Server.DB.Read.AuditEntry
		apptest.Eventually(t, 30*time.Second, "entries older than 48h purged", func() (bool, string) {
			n := read.Query().CountX(ctx)
			return n == 1, fmt.Sprintf("%d left", n)
		})
		if e := read.Query().OnlyX(ctx); e.Detail != "1h0m0s" {
			t.Errorf("kept %q, want the 1h-old entry", e.Detail)
		}
	})
}
