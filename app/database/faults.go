package database

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"entgo.io/ent/dialect"

	"github.com/miniauth/miniauth/app/clock"
	"github.com/miniauth/miniauth/app/quietlog"
	"github.com/miniauth/miniauth/ent"
)

// Readiness timings.
const (
	// ProbeInterval is how often a database that failed a write is tried
	// again, and how long Check reuses a probe's answer.
	ProbeInterval = time.Second
	// probeTimeout bounds one probe.
	probeTimeout = 5 * time.Second
	// recheckEvery bounds how often requests probe a database that is
	// down, on top of the background probe: the first request after the
	// database came back finds it writable, without waiting for the
	// background probe's next turn. recheckTimeout bounds the wait of the
	// one request that probes.
	recheckEvery   = 250 * time.Millisecond
	recheckTimeout = 2 * time.Second
	// RetryAfter is what a client is told to wait before trying again
	// while the database cannot take writes.
	RetryAfter = 5 * time.Second
	// minFreeBytes is the free space below which SQLite's filesystem is
	// taken as full: a login writes a few pages to the WAL, and a
	// checkpoint needs room to grow the database file.
	minFreeBytes = 1 << 20
)

// Migrating is the readiness reason while start-up migrations run.
const Migrating = "migrating"

// Faults knows whether the database takes writes. A write that fails
// with a fault (Classify) marks it down at once; from then on a probe
// tries every ProbeInterval and marks it up again when it passes, so it
// recovers without a restart. Login asks Writable before it spends a
// WeChat code; GET /readyz asks Check. Every fault is counted, and logged
// quietly: one line per cause per quietlog window, naming the cause and
// the remedy, with the number of faults the window swallowed.
type Faults struct {
	db *DB

	mu        sync.Mutex
	log       *slog.Logger
	quiet     *quietlog.Log
	now       clock.Clock
	migrating bool
	cause     Cause // "" while writes work
	err       error // the fault that marked it down
	since     time.Time
	probing   bool
	checked   time.Time // when Check last probed
	// rechecking: a request is probing now; rechecked: when one last did.
	rechecking bool
	rechecked  time.Time
	counts     map[Cause]uint64
	stop       chan struct{}
	stopped    bool
}

func newFaults(db *DB) *Faults {
	return &Faults{db: db, quiet: quietlog.New(quietlog.DefaultWindow, nil), counts: map[Cause]uint64{}, stop: make(chan struct{})}
}

// SetLogger sets where faults are logged (nowhere until it is set: the
// command-line tools report their errors themselves).
func (f *Faults) SetLogger(l *slog.Logger) {
	f.mu.Lock()
	f.log = l
	f.mu.Unlock()
}

// SetClock replaces the clock of the log's quiet window, for tests that
// move time instead of sleeping through it.
func (f *Faults) SetClock(c clock.Clock) {
	f.mu.Lock()
	f.now = c
	f.mu.Unlock()
	f.quiet.SetClock(c)
}

// Writable says whether the database takes writes, as far as the last
// write or probe knows; it costs no query. cause says why not.
func (f *Faults) Writable() (cause Cause, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cause, f.cause == ""
}

func (f *Faults) currentCause() Cause {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cause
}

// Recheck is Writable for a request about to need a write: while the
// database is down, one request in recheckEvery probes it first (the
// others are answered from the flag at once), so that writes resume with
// the first request after the database came back.
func (f *Faults) Recheck(ctx context.Context) (Cause, bool) {
	f.mu.Lock()
	if f.cause == "" {
		f.mu.Unlock()
		return "", true
	}
	if f.rechecking || f.stopped || time.Since(f.rechecked) < recheckEvery {
		c := f.cause
		f.mu.Unlock()
		return c, false
	}
	f.rechecking, f.rechecked = true, time.Now()
	f.mu.Unlock()
	f.tryProbe(ctx, recheckTimeout)
	f.mu.Lock()
	f.rechecking = false
	f.mu.Unlock()
	return f.Writable()
}

// Reason is why the server is not ready ("" when it is): Migrating, or
// the cause of the database's fault.
func (f *Faults) Reason() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.migrating {
		return Migrating
	}
	return string(f.cause)
}

// Counts is how many faults of each cause were seen since start-up.
func (f *Faults) Counts() map[Cause]uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[Cause]uint64, len(f.counts))
	for c, n := range f.counts {
		out[c] = n
	}
	return out
}

func (f *Faults) setMigrating(on bool) {
	f.mu.Lock()
	f.migrating = on
	f.mu.Unlock()
}

// Report classifies err. A fault is counted, logged quietly and marks
// the database down (until a probe passes); the answer is its cause. An
// error Report has seen already (a *Fault) is not counted twice.
func (f *Faults) Report(err error) (Cause, bool) {
	var seen *Fault
	if errors.As(err, &seen) {
		return seen.Cause, true
	}
	cause, ok := Classify(err)
	if !ok {
		return "", false
	}
	f.fault(cause, err)
	return cause, true
}

// fault counts and logs one fault and marks the database down.
func (f *Faults) fault(cause Cause, err error) { f.note(cause, err, true) }

// note marks the database down for cause (the latest fault names it) and
// logs it quietly; count is false for a probe's findings, which are not
// failures anyone met.
func (f *Faults) note(cause Cause, err error, count bool) {
	f.mu.Lock()
	if count {
		f.counts[cause]++
	}
	log := f.log
	if cause != ShuttingDown {
		if f.cause == "" {
			f.since = time.Now()
		}
		f.cause, f.err = cause, err
		f.startProbing()
	}
	f.mu.Unlock()
	if log == nil {
		return
	}
	if write, suppressed := f.quiet.Allow(string(cause)); write {
		args := []any{"cause", string(cause), "err", err.Error()}
		if suppressed > 0 {
			args = append(args, "suppressed", suppressed, "window", quietlog.DefaultWindow.String())
		}
		log.Error(f.db.Remedy(cause), args...)
	}
}

// startProbing runs the probe loop unless it runs already; f.mu is held.
func (f *Faults) startProbing() {
	if f.probing || f.stopped {
		return
	}
	f.probing = true
	go f.probeLoop()
}

func (f *Faults) probeLoop() {
	t := time.NewTicker(ProbeInterval)
	defer t.Stop()
	for {
		select {
		case <-f.stop:
			return
		case <-t.C:
		}
		if f.tryProbe(context.Background(), probeTimeout) {
			return
		}
	}
}

// tryProbe probes once and marks the database up if it passed; it says
// whether it did.
func (f *Faults) tryProbe(ctx context.Context, timeout time.Duration) bool {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	err := f.db.probe(ctx)
	cancel()
	if err != nil {
		// The fault may have changed (PostgreSQL came back read-only):
		// readiness names the current one.
		if cause, ok := Classify(err); ok && cause != f.currentCause() {
			f.note(cause, err, false)
		}
		return false
	}
	f.up()
	return true
}

// up marks the database writable again and logs it once.
func (f *Faults) up() {
	f.mu.Lock()
	cause, since, log := f.cause, f.since, f.log
	f.cause, f.err, f.probing = "", nil, false
	f.mu.Unlock()
	if cause == "" {
		return
	}
	// Every cause's run ends: the next fault is news again.
	suppressed := f.quiet.TakeAll()
	if log != nil {
		log.Info("database takes writes again", "cause", string(cause), "down_for", time.Since(since).Round(time.Millisecond).String(),
			"suppressed", suppressed)
	}
}

// Check is the readiness check: "" when the server can serve and write,
// else the reason it cannot (Reason). While the database is up it probes
// it, at most once per ProbeInterval, so that a full disk or a read-only
// database shows before a write fails on it.
func (f *Faults) Check(ctx context.Context) string {
	f.mu.Lock()
	if !f.migrating && f.cause != "" {
		f.mu.Unlock()
		f.Recheck(ctx)
		return f.Reason()
	}
	if f.migrating || time.Since(f.checked) < ProbeInterval {
		f.mu.Unlock()
		return f.Reason()
	}
	f.checked = time.Now()
	f.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	if err := f.db.probe(ctx); err != nil {
		if _, ok := f.Report(err); !ok {
			// Not a known fault (a probe that timed out, say): the
			// database did not answer in time.
			f.fault(Unreachable, err)
		}
	}
	return f.Reason()
}

func (f *Faults) close() {
	f.mu.Lock()
	if !f.stopped {
		f.stopped = true
		close(f.stop)
	}
	f.mu.Unlock()
}

// errProbed ends a probe's write: what it wrote is rolled back.
var errProbed = errors.New("probe done")

// probe tries whether the database takes writes, leaving nothing behind.
// SQLite: the filesystem has room, and the writer can create a table and
// fill 64 KiB in it (rolled back), which needs pages the way a login
// does. PostgreSQL: a connection can be had, and it is neither a standby
// nor read-only.
func (db *DB) probe(ctx context.Context) error {
	if db.Dialect == dialect.Postgres {
		conn, err := db.SQL.Conn(ctx)
		if err != nil {
			return err
		}
		defer conn.Close()
		var standby bool
		var readOnly string
		if err := conn.QueryRowContext(ctx, "SELECT pg_is_in_recovery(), current_setting('transaction_read_only')").Scan(&standby, &readOnly); err != nil {
			return err
		}
		if standby || readOnly == "on" {
			return &Fault{Cause: ReadOnly, Err: errors.New("PostgreSQL is read-only (standby or default_transaction_read_only)")}
		}
		return nil
	}
	if err := checkFreeSpace(db.Name); err != nil {
		return err
	}
	err := db.Writer.do(ctx, func(ctx context.Context, tx *ent.Client) error {
		if _, err := tx.ExecContext(ctx, "CREATE TABLE miniauth_write_probe (b BLOB)"); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO miniauth_write_probe VALUES (zeroblob(65536))"); err != nil {
			return err
		}
		return errProbed
	}, false)
	if errors.Is(err, errProbed) {
		return nil
	}
	return err
}
