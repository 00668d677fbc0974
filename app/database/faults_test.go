package database

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/miniauth/miniauth/app/apptest/poll"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/mattn/go-sqlite3"

	"github.com/miniauth/miniauth/app/clock"
	"github.com/miniauth/miniauth/ent"
)

func TestClassify(t *testing.T) {
	for _, c := range []struct {
		err  error
		want Cause
	}{
		{sqlite3.Error{Code: sqlite3.ErrFull}, DiskFull},
		{fmt.Errorf("create session: %w", sqlite3.Error{Code: sqlite3.ErrFull}), DiskFull},
		{sqlite3.Error{Code: sqlite3.ErrReadonly}, ReadOnly},
		{sqlite3.Error{Code: sqlite3.ErrCantOpen}, ReadOnly},
		{sqlite3.Error{Code: sqlite3.ErrIoErr}, DiskError},
		{sqlite3.Error{Code: sqlite3.ErrBusy}, Busy},
		{&pgconn.PgError{Code: "53100"}, DiskFull},
		{&pgconn.PgError{Code: "25006"}, ReadOnly},
		{&pgconn.PgError{Code: "53300"}, TooManyConnections},
		{&pgconn.PgError{Code: "57P01"}, Unreachable},
		{&pgconn.PgError{Code: "08006"}, Unreachable},
		{&net.OpError{Op: "dial", Err: errors.New("connection refused")}, Unreachable},
		{fmt.Errorf("begin: %w", ErrClosed), ShuttingDown},
		{&Fault{Cause: ReadOnly, Err: errors.New("x")}, ReadOnly},
	} {
		if got, ok := Classify(c.err); !ok || got != c.want {
			t.Errorf("Classify(%v) = %q %v, want %q", c.err, got, ok, c.want)
		}
	}
	for _, err := range []error{
		nil,
		errors.New("some bug"),
		&ent.NotFoundError{},
		sqlite3.Error{Code: sqlite3.ErrConstraint},
		&pgconn.PgError{Code: "23505"}, // unique_violation: the caller's to handle
		fmt.Errorf("query: %w", context.Canceled),
	} {
		if got, ok := Classify(err); ok {
			t.Errorf("Classify(%v) = %q, want no fault", err, got)
		}
	}
}

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A hundred faults at once make one line naming the cause and the
// remedy; the next window's line counts what the first swallowed; the
// probe finds the database well again and says so once.
func TestFaultsAreLoggedOncePerWindow(t *testing.T) {
	db := openTest(t, filepath.Join(t.TempDir(), "test.db"))
	var out syncBuffer
	db.Faults.SetLogger(slog.New(slog.NewJSONHandler(&out, nil)))
	c := clock.NewManual(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	db.Faults.SetClock(c.Now)
	full := fmt.Errorf("create session: %w", sqlite3.Error{Code: sqlite3.ErrFull})

	var wg sync.WaitGroup
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); db.Faults.Report(full) }()
	}
	wg.Wait()
	if cause, ok := db.Faults.Writable(); ok || cause != DiskFull {
		t.Fatalf("Writable = %q %v after disk-full errors", cause, ok)
	}
	if r := db.Faults.Reason(); r != "disk_full" {
		t.Fatalf("Reason = %q", r)
	}
	remedy := "database or disk is full: free space in " + filepath.Dir(db.Name)
	if n := strings.Count(out.String(), remedy); n != 1 {
		t.Fatalf("%d lines for 100 faults, want 1:\n%s", n, out.String())
	}
	c.Advance(10 * time.Second)
	db.Faults.Report(full)
	if n := strings.Count(out.String(), remedy); n != 2 || !strings.Contains(out.String(), `"suppressed":99`) {
		t.Fatalf("after the window, want a second line counting 99:\n%s", out.String())
	}
	if got := db.Faults.Counts()[DiskFull]; got != 101 {
		t.Fatalf("counted %d faults, want 101", got)
	}

	// The file is not really full: the probe passes within a few seconds.
	poll.Until(t, 15*time.Second, "the probe finds the database writable", func() (bool, string) {
		cause, ok := db.Faults.Writable()
		return ok, string(cause)
	})
	if n := strings.Count(out.String(), "database takes writes again"); n != 1 {
		t.Fatalf("%d recovery lines, want 1:\n%s", n, out.String())
	}
	// Nothing was left behind by the probe.
	var tables int
	if err := db.SQL.QueryRow("SELECT COUNT(*) FROM sqlite_master WHERE name = 'miniauth_write_probe'").Scan(&tables); err != nil || tables != 0 {
		t.Fatalf("probe table left behind (%d, %v)", tables, err)
	}
}

// A write that fails with a fault comes back as a *Fault that still
// unwraps to the driver's error, and marks the database down.
func TestWriterReportsFaults(t *testing.T) {
	db := openTest(t, filepath.Join(t.TempDir(), "test.db"))
	if _, err := db.SQL.Exec("PRAGMA query_only = 1"); err != nil {
		t.Fatal(err)
	}
	err := db.Writer.Do(context.Background(), createUser("o1"))
	var f *Fault
	var se sqlite3.Error
	if !errors.As(err, &f) || f.Cause != ReadOnly || !errors.As(err, &se) {
		t.Fatalf("Do = %v, want a read_only *Fault wrapping the sqlite3 error", err)
	}
	if cause, ok := db.Faults.Writable(); ok || cause != ReadOnly {
		t.Fatalf("Writable = %q %v", cause, ok)
	}
	if reason := db.Faults.Check(context.Background()); reason != "read_only" {
		t.Fatalf("Check = %q", reason)
	}
	if _, err := db.SQL.Exec("PRAGMA query_only = 0"); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 15*time.Second, "writable again", func() (bool, string) {
		reason := db.Faults.Check(context.Background())
		return reason == "", reason
	})
	if err := db.Writer.Do(context.Background(), createUser("o2")); err != nil {
		t.Fatal(err)
	}
	// A problem of the write itself is no fault and changes nothing.
	if err := db.Writer.Do(context.Background(), createUser("o2")); err == nil || IsFault(err) {
		t.Fatalf("duplicate openid: %v", err)
	}
	if _, ok := db.Faults.Writable(); !ok {
		t.Fatal("a constraint error marked the database down")
	}
}
