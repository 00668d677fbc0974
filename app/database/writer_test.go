package database

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/miniauth/miniauth/app/apptest/poll"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miniauth/miniauth/ent"
	"github.com/miniauth/miniauth/ent/user"
)

// postgresEnv is apptest.PostgresEnv (apptest imports this package).
const postgresEnv = "MINIAUTH_TEST_POSTGRES_URL"

// eachDB runs fn on a fresh SQLite file and, when postgresEnv is set, on a
// fresh PostgreSQL database.
func eachDB(t *testing.T, fn func(t *testing.T, db *DB)) {
	t.Run("sqlite", func(t *testing.T) {
		fn(t, openTest(t, filepath.Join(t.TempDir(), "test.db")))
	})
	t.Run("postgres", func(t *testing.T) {
		admin := os.Getenv(postgresEnv)
		if admin == "" {
			t.Skipf("set %s to run on PostgreSQL", postgresEnv)
		}
		fn(t, openTest(t, freshPostgres(t, admin)))
	})
}

func openTest(t *testing.T, u string) *DB {
	t.Helper()
	db, err := Open(context.Background(), Options{URL: u, MaxOpenConns: 10, MaxIdleConns: 5, Sync: "full"})
	if err != nil {
		t.Fatalf("open %s: %v", u, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func freshPostgres(t *testing.T, admin string) string {
	t.Helper()
	b := make([]byte, 6)
	rand.Read(b)
	name := "miniauth_writer_" + hex.EncodeToString(b)
	db, err := sql.Open("pgx", admin)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		db, err := sql.Open("pgx", admin)
		if err == nil {
			db.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
			db.Close()
		}
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

func createUser(openid string) WriteFunc {
	return func(ctx context.Context, tx *ent.Client) error {
		return tx.User.Create().SetOpenid(openid).Exec(ctx)
	}
}

func openids(t *testing.T, db *DB) map[string]bool {
	t.Helper()
	us, err := db.Read.User.Query().All(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, u := range us {
		out[u.Openid] = true
	}
	return out
}

// hold blocks the SQLite writer inside a write until release is called,
// so that writes sent meanwhile queue up and run as one batch. On
// PostgreSQL (no batching) it does nothing.
func hold(t *testing.T, db *DB) (waitQueued func(n int), release func()) {
	t.Helper()
	if !db.Writer.batched {
		return func(int) {}, func() {}
	}
	started, gate, done := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		done <- db.Writer.Do(context.Background(), func(ctx context.Context, tx *ent.Client) error {
			close(started)
			<-gate
			return tx.User.Create().SetOpenid("gatekeeper").Exec(ctx)
		})
	}()
	<-started
	waitQueued = func(n int) {
		t.Helper()
		poll.Until(t, 30*time.Second, fmt.Sprintf("%d writes queued", n), func() (bool, string) {
			return len(db.Writer.queue) >= n, fmt.Sprintf("%d queued", len(db.Writer.queue))
		})
	}
	var once sync.Once
	release = func() {
		once.Do(func() {
			close(gate)
			if err := <-done; err != nil {
				t.Errorf("gate write: %v", err)
			}
		})
	}
	t.Cleanup(release)
	return waitQueued, release
}

// runAll sends every write at once (into one batch on SQLite) and returns
// their results in order.
func runAll(t *testing.T, db *DB, fns []WriteFunc) []error {
	t.Helper()
	waitQueued, release := hold(t, db)
	errs := make([]error, len(fns))
	var wg sync.WaitGroup
	for i, fn := range fns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = db.Writer.Do(context.Background(), fn)
		}()
	}
	waitQueued(len(fns))
	release()
	wg.Wait()
	return errs
}

func TestWriterConcurrentWritesAllCommit(t *testing.T) {
	eachDB(t, func(t *testing.T, db *DB) {
		const n = 100
		fns := make([]WriteFunc, n)
		for i := range fns {
			fns[i] = createUser(fmt.Sprintf("o_%03d", i))
		}
		for i, err := range runAll(t, db, fns) {
			if err != nil {
				t.Errorf("write %d: %v", i, err)
			}
		}
		got := openids(t, db)
		for i := range n {
			if !got[fmt.Sprintf("o_%03d", i)] {
				t.Errorf("write %d acknowledged but not stored", i)
			}
		}
	})
}

var errRefused = errors.New("refused by the write itself")

// TestWriterFailingWriteRollsBackAlone mixes good writes with writes that
// fail after changing something: each failure is undone alone, with its
// own error, and every good write in the same batch commits.
func TestWriterFailingWriteRollsBackAlone(t *testing.T) {
	eachDB(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		if err := db.Writer.Do(ctx, createUser("shared")); err != nil {
			t.Fatal(err)
		}
		bump := func(ctx context.Context, tx *ent.Client) error {
			return tx.User.Update().Where(user.Openid("shared")).AddLoginCount(1).Exec(ctx)
		}
		var fns []WriteFunc
		for i := range 10 {
			// Good: a new user and a bump of the shared counter.
			fns = append(fns, func(ctx context.Context, tx *ent.Client) error {
				if err := createUser(fmt.Sprintf("good_%d", i))(ctx, tx); err != nil {
					return err
				}
				return bump(ctx, tx)
			})
			// Bad: the same, then an error of its own.
			fns = append(fns, func(ctx context.Context, tx *ent.Client) error {
				if err := createUser(fmt.Sprintf("bad_%d", i))(ctx, tx); err != nil {
					return err
				}
				if err := bump(ctx, tx); err != nil {
					return err
				}
				return fmt.Errorf("write %d: %w", i, errRefused)
			})
		}
		// Bad: a database error (unique openid) after a good insert.
		fns = append(fns, func(ctx context.Context, tx *ent.Client) error {
			if err := createUser("before_conflict")(ctx, tx); err != nil {
				return err
			}
			return createUser("shared")(ctx, tx)
		})
		// Bad: a statement that fails outright, after a good insert.
		fns = append(fns, func(ctx context.Context, tx *ent.Client) error {
			if err := createUser("before_bad_sql")(ctx, tx); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, "INSERT INTO no_such_table VALUES (1)")
			return err
		})
		errs := runAll(t, db, fns)
		for i := 0; i < 20; i += 2 {
			if errs[i] != nil {
				t.Errorf("good write %d failed: %v", i, errs[i])
			}
			if !errors.Is(errs[i+1], errRefused) {
				t.Errorf("bad write %d returned %v, want its own error", i+1, errs[i+1])
			}
		}
		if !ent.IsConstraintError(errs[20]) {
			t.Errorf("conflicting write returned %v, want a constraint error", errs[20])
		}
		if errs[21] == nil {
			t.Error("a failing statement reported success")
		}
		got := openids(t, db)
		for i := range 10 {
			if !got[fmt.Sprintf("good_%d", i)] {
				t.Errorf("good_%d missing", i)
			}
			if got[fmt.Sprintf("bad_%d", i)] {
				t.Errorf("bad_%d was kept", i)
			}
		}
		if got["before_conflict"] || got["before_bad_sql"] {
			t.Error("a failed write's earlier insert was kept")
		}
		u, err := db.Read.User.Query().Where(user.Openid("shared")).Only(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if u.LoginCount != 10 {
			t.Errorf("shared counter = %d, want 10 (only the good writes)", u.LoginCount)
		}
	})
}

func TestWriterRecoversPanics(t *testing.T) {
	eachDB(t, func(t *testing.T, db *DB) {
		fns := []WriteFunc{
			createUser("before_panic"),
			func(ctx context.Context, tx *ent.Client) error {
				if err := createUser("panicker")(ctx, tx); err != nil {
					return err
				}
				panic("boom")
			},
			func(ctx context.Context, tx *ent.Client) error {
				var m map[string]int
				m["nil map"]++ // a runtime panic
				return nil
			},
			createUser("after_panic"),
		}
		errs := runAll(t, db, fns)
		if errs[0] != nil || errs[3] != nil {
			t.Errorf("writes beside a panic failed: %v, %v", errs[0], errs[3])
		}
		for _, i := range []int{1, 2} {
			if errs[i] == nil || !strings.Contains(errs[i].Error(), "panic") {
				t.Errorf("panicking write %d returned %v", i, errs[i])
			}
		}
		got := openids(t, db)
		if !got["before_panic"] || !got["after_panic"] || got["panicker"] {
			t.Errorf("stored %v", got)
		}
		// The writer lives on.
		if err := db.Writer.Do(context.Background(), createUser("later")); err != nil {
			t.Fatalf("write after panics: %v", err)
		}
	})
}

// TestWriterSkipsCancelledWrites: a write whose caller gave up while it
// queued does not run.
func TestWriterSkipsCancelledWrites(t *testing.T) {
	db := openTest(t, filepath.Join(t.TempDir(), "test.db"))
	waitQueued, release := hold(t, db)
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{}, 1)
	errc := make(chan error, 1)
	go func() {
		errc <- db.Writer.Do(ctx, func(ctx context.Context, tx *ent.Client) error {
			ran <- struct{}{}
			return createUser("cancelled")(ctx, tx)
		})
	}()
	waitQueued(1)
	cancel()
	release()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled write returned %v", err)
	}
	select {
	case <-ran:
		t.Fatal("a cancelled write ran")
	default:
	}
	if openids(t, db)["cancelled"] {
		t.Fatal("a cancelled write was stored")
	}
}

func TestWriterClose(t *testing.T) {
	eachDB(t, func(t *testing.T, db *DB) {
		waitQueued, release := hold(t, db)
		errc := make(chan error, 1)
		go func() { errc <- db.Writer.Do(context.Background(), createUser("queued_before_close")) }()
		waitQueued(1)
		closed := make(chan struct{})
		go func() { db.Writer.Close(); close(closed) }()
		release()
		if err := <-errc; err != nil {
			t.Fatalf("a write queued before Close: %v", err)
		}
		<-closed
		if !openids(t, db)["queued_before_close"] {
			t.Error("a write queued before Close was lost")
		}
		if db.Writer.batched {
			if err := db.Writer.Do(context.Background(), createUser("too_late")); !errors.Is(err, ErrClosed) {
				t.Errorf("Do after Close: %v, want ErrClosed", err)
			}
		}
	})
}

// TestWriterKeepsSavepointJournalInMemory: every write of a batch runs in
// a savepoint whose journal SQLite writes to a temporary file unless
// temp_store is MEMORY, one pwrite per page, half of a login's cost.
// The connection must keep the setting even after the pool replaces it.
func TestWriterKeepsSavepointJournalInMemory(t *testing.T) {
	db := openTest(t, filepath.Join(t.TempDir(), "test.db"))
	tempStore := func() int {
		var v int
		err := db.Writer.Do(context.Background(), func(ctx context.Context, tx *ent.Client) error {
			rows, err := tx.QueryContext(ctx, "PRAGMA temp_store")
			if err != nil {
				return err
			}
			defer rows.Close()
			if !rows.Next() {
				return errors.New("PRAGMA temp_store returned no row")
			}
			return rows.Scan(&v)
		})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	const memory = 2
	if got := tempStore(); got != memory {
		t.Fatalf("writer temp_store = %d, want %d (MEMORY)", got, memory)
	}
	// A new connection (the old one closed as after a driver error) gets it too.
	db.Write.ExecContext(context.Background(), "SELECT 1") // the pool's one connection exists
	sqlDB := db.SQL
	sqlDB.SetMaxIdleConns(0)
	sqlDB.SetMaxIdleConns(1)
	if got := tempStore(); got != memory {
		t.Fatalf("writer temp_store on a new connection = %d, want %d (MEMORY)", got, memory)
	}
}
