package audit_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miniauth/miniauth/app/apptest"
	"github.com/miniauth/miniauth/app/audit"
	"github.com/miniauth/miniauth/ent"
	"github.com/miniauth/miniauth/ent/schema"
)

func TestRecordListFilterPage(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		ctx := context.Background()
		db := apptest.OpenDB(t, b.URL(t))
		now := time.Date(2026, 11, 29, 6, 0, 0, 0, time.UTC)
		l := &audit.Log{DB: db, Now: func() time.Time { return now }}
		record := func(e audit.Entry) {
			t.Helper()
			if err := l.Record(ctx, e); err != nil {
				t.Fatal(err)
			}
			now = now.Add(time.Minute)
		}
		record(audit.Entry{Actor: "alice", AdminID: 1, Action: audit.SignIn, IP: "10.0.0.1", UserAgent: "UA\x00\nline"})
		record(audit.Entry{Actor: "alice", AdminID: 1, Action: audit.UserDisabled, TargetUserID: 7})
		record(audit.Entry{Actor: "bob", AdminID: 2, Action: audit.SessionEnded, TargetUserID: 7, Detail: "session 3"})
		record(audit.Entry{Actor: "mallory" + strings.Repeat("x", 500), Action: audit.SignInFailed})
		record(audit.Entry{Actor: audit.CLIActor, Action: audit.AdminCreated, TargetAdmin: "carol"})

		all, err := l.List(ctx, audit.Filter{}, 1, 50)
		if err != nil {
			t.Fatal(err)
		}
		if len(all.Entries) != 5 || all.HasNext || all.Entries[0].Action != audit.AdminCreated || all.Entries[4].Action != audit.SignIn {
			t.Fatalf("newest first, 5 entries: got %d, first %q", len(all.Entries), all.Entries[0].Action)
		}
		if ua := all.Entries[4].UserAgent; ua != "UAline" {
			t.Errorf("control characters kept in %q", ua)
		}
		if a := all.Entries[1].Actor; len(a) != 64 {
			t.Errorf("a tried username of 507 bytes stored as %d", len(a))
		}
		for name, tc := range map[string]struct {
			f    audit.Filter
			want int
		}{
			"actor":  {audit.Filter{Actor: "alice"}, 2},
			"action": {audit.Filter{Action: audit.SessionEnded}, 1},
			"user":   {audit.Filter{UserID: 7}, 2},
			"from":   {audit.Filter{From: time.Date(2026, 11, 29, 6, 2, 0, 0, time.UTC)}, 3},
			"to":     {audit.Filter{To: time.Date(2026, 11, 29, 6, 2, 0, 0, time.UTC)}, 2},
			"both":   {audit.Filter{Actor: "alice", UserID: 7}, 1},
			"none":   {audit.Filter{Actor: "nobody"}, 0},
		} {
			p, err := l.List(ctx, tc.f, 1, 50)
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Entries) != tc.want {
				t.Errorf("%s: %d entries, want %d", name, len(p.Entries), tc.want)
			}
		}
		p1, _ := l.List(ctx, audit.Filter{}, 1, 2)
		p3, _ := l.List(ctx, audit.Filter{}, 3, 2)
		if !p1.HasNext || len(p1.Entries) != 2 || p3.HasNext || len(p3.Entries) != 1 || p3.Entries[0].Action != audit.SignIn {
			t.Errorf("paging: page 1 %d next %v, page 3 %d next %v", len(p1.Entries), p1.HasNext, len(p3.Entries), p3.HasNext)
		}
	})
}

func TestEntriesCannotBeEdited(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		ctx := context.Background()
		db := apptest.OpenDB(t, b.URL(t))
		l := audit.New(db)
		if err := l.Record(ctx, audit.Entry{Actor: "alice", Action: audit.SignIn}); err != nil {
			t.Fatal(err)
		}
		e := db.Read.AuditEntry.Query().FirstX(ctx)
		err := db.Writer.Do(ctx, func(ctx context.Context, tx *ent.Client) error {
			// Every field is immutable (no setters); the hook refuses even an empty update.
			return tx.AuditEntry.UpdateOneID(e.ID).Exec(ctx)
		})
		if !errors.Is(err, schema.ErrAuditAppendOnly) {
			t.Errorf("update one: %v", err)
		}
		err = db.Writer.Do(ctx, func(ctx context.Context, tx *ent.Client) error {
			return tx.AuditEntry.DeleteOneID(e.ID).Exec(ctx)
		})
		if !errors.Is(err, schema.ErrAuditAppendOnly) {
			t.Errorf("delete one: %v", err)
		}
		if got := db.Read.AuditEntry.Query().FirstX(ctx); got.Detail != "" {
			t.Errorf("entry edited to %q", got.Detail)
		}
	})
}

func TestPurgeKeepsRecentEntries(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		ctx := context.Background()
		db := apptest.OpenDB(t, b.URL(t))
		now := time.Now().UTC().Add(-48 * time.Hour)
		l := &audit.Log{DB: db, Now: func() time.Time { return now }}
		for i := range 4 {
			now = now.Add(12 * time.Hour)
			if err := l.Record(ctx, audit.Entry{Actor: "a", Action: audit.SignIn, Detail: fmt.Sprint(i)}); err != nil {
				t.Fatal(err)
			}
		}
		n, err := l.Purge(ctx, time.Now().UTC().Add(-25*time.Hour))
		if err != nil || n != 1 {
			t.Fatalf("purged %d (%v), want the one entry older than 25h", n, err)
		}
		if left := db.Read.AuditEntry.Query().CountX(ctx); left != 3 {
			t.Errorf("%d entries left, want 3", left)
		}
	})
}

// TestConcurrentRecords: 100 actions at once leave 100 entries.
func TestConcurrentRecords(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		ctx := context.Background()
		db := apptest.OpenDB(t, b.URL(t))
		l := audit.New(db)
		var wg sync.WaitGroup
		errs := make(chan error, 100)
		for i := range 100 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- l.Record(ctx, audit.Entry{Actor: "a", Action: audit.SignInFailed, Detail: fmt.Sprint(i)})
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		if n := db.Read.AuditEntry.Query().CountX(ctx); n != 100 {
			t.Errorf("%d entries, want 100", n)
		}
	})
}

// Strings a client chose (a tried username, a user agent) keep no
// character that changes how the rest displays: "op\u202e" would show as
// "op" in the panel and not be found by the filter for "op".
func TestRecordDropsBidiAndControlCharacters(t *testing.T) {
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		ctx := context.Background()
		db := apptest.OpenDB(t, b.URL(t))
		l := &audit.Log{DB: db}
		sneaky := []string{"op\u202e", "\u202dop", "o\u2066p\u2069", "op\u2028", "op\u2029", "op\u0085", "op\u009b", "\u200eop\u200f",
			"op\u061c", "op\x1b", "op\xff"}
		for _, s := range sneaky {
			if err := l.Record(ctx, audit.Entry{Actor: s, Action: audit.SignInFailed, UserAgent: "UA" + s, Detail: s}); err != nil {
				t.Fatalf("record %q: %v", s, err)
			}
		}
		page, err := l.List(ctx, audit.Filter{Actor: "op"}, 1, 50)
		if err != nil {
			t.Fatal(err)
		}
		// Invalid UTF-8 becomes U+FFFD, which shows: that one is "op\ufffd".
		if len(page.Entries) != len(sneaky)-1 {
			t.Errorf("filter admin=op finds %d of the %d entries", len(page.Entries), len(sneaky)-1)
		}
		all, err := l.List(ctx, audit.Filter{}, 1, 50)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range all.Entries {
			for _, s := range []string{e.Actor, e.UserAgent, e.Detail} {
				for _, r := range s {
					if r < 0x20 || (r >= 0x7f && r <= 0x9f) || r == 0x2028 || r == 0x2029 || (r >= 0x202a && r <= 0x202e) ||
						(r >= 0x2066 && r <= 0x2069) || r == 0x200e || r == 0x200f || r == 0x061c {
						t.Errorf("stored %q keeps %U", s, r)
					}
				}
			}
		}
		// The filter cleans what it looks for the same way.
		if page, _ := l.List(ctx, audit.Filter{Actor: "op\u202e"}, 1, 50); len(page.Entries) != len(sneaky)-1 {
			t.Errorf("filter admin=op\\u202e finds %d entries", len(page.Entries))
		}
	})
}
