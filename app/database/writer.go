package database

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/miniauth/miniauth/ent"
)

// maxBatch bounds how many writes share one transaction.
const maxBatch = 256

// ErrClosed is returned by Do after Close.
var ErrClosed = errors.New("database writer is closed")

// WriteFunc is one unit of work. It must only touch the database: it runs
// while the write lock is held.
type WriteFunc func(ctx context.Context, tx *ent.Client) error

// Writer runs writes. On SQLite it is group commit: one goroutine owns the
// single write connection, takes every write queued while the previous
// commit was syncing, and runs them in one transaction, each inside its own
// savepoint, so one fsync acknowledges many writes and a failing write
// rolls back alone. On PostgreSQL each write is simply its own transaction.
type Writer struct {
	client  *ent.Client
	batched bool
	// faults hears of every write that failed, to count, log and mark
	// the database down (faults.go).
	faults *Faults

	mu     sync.RWMutex
	closed bool
	queue  chan *writeOp
	done   chan struct{}
}

type writeOp struct {
	ctx    context.Context
	fn     WriteFunc
	result chan error
}

func newWriter(client *ent.Client, batched bool) *Writer {
	w := &Writer{client: client, batched: batched, done: make(chan struct{})}
	if batched {
		w.queue = make(chan *writeOp, maxBatch)
		go w.loop()
	} else {
		close(w.done)
	}
	return w
}

// Do runs fn in a transaction and returns once it is committed (or failed).
// fn's error rolls back fn's own changes and is returned as is, except
// that a database fault (the disk is full, PostgreSQL is away: Classify)
// comes wrapped in a *Fault, reported to Faults.
func (w *Writer) Do(ctx context.Context, fn WriteFunc) error {
	return w.do(ctx, fn, true)
}

// do is Do; report false keeps a failure to itself (a probe's).
func (w *Writer) do(ctx context.Context, fn WriteFunc, report bool) error {
	err := w.run(ctx, fn)
	if err != nil && report && w.faults != nil {
		if cause, ok := w.faults.Report(err); ok {
			var f *Fault
			if !errors.As(err, &f) {
				err = &Fault{Cause: cause, Err: err}
			}
		}
	}
	return err
}

func (w *Writer) run(ctx context.Context, fn WriteFunc) error {
	if !w.batched {
		return w.direct(ctx, fn)
	}
	op := &writeOp{ctx: ctx, fn: fn, result: make(chan error, 1)}
	w.mu.RLock()
	if w.closed {
		w.mu.RUnlock()
		return ErrClosed
	}
	select {
	case w.queue <- op:
	case <-ctx.Done():
		w.mu.RUnlock()
		return ctx.Err()
	}
	w.mu.RUnlock()
	// Once queued, the op is seen through: the caller learns whether it
	// was committed even if its context ends meanwhile.
	return <-op.result
}

func (w *Writer) direct(ctx context.Context, fn WriteFunc) error {
	tx, err := w.client.Tx(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := safeRun(ctx, fn, tx.Client()); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// Close waits for queued writes and stops the writer.
func (w *Writer) Close() {
	w.mu.Lock()
	if !w.closed {
		w.closed = true
		if w.batched {
			close(w.queue)
		}
	}
	w.mu.Unlock()
	<-w.done
}

func (w *Writer) loop() {
	defer close(w.done)
	for first := range w.queue {
		batch := []*writeOp{first}
	drain:
		for len(batch) < maxBatch {
			select {
			case op, ok := <-w.queue:
				if !ok {
					break drain
				}
				batch = append(batch, op)
			default:
				break drain
			}
		}
		w.commit(batch)
	}
}

// commit runs one batch in one transaction.
func (w *Writer) commit(batch []*writeOp) {
	// No deadline: a cancellable context costs two goroutines per
	// statement (database/sql's and the driver's watchers), and nothing
	// here waits on a network. Lock waits end at _busy_timeout.
	ctx := context.Background()
	results := make([]error, len(batch))
	fail := func(err error) {
		for _, op := range batch {
			op.result <- err
		}
	}
	tx, err := w.client.Tx(ctx)
	if err != nil {
		fail(fmt.Errorf("begin: %w", err))
		return
	}
	for i, op := range batch {
		if err := op.ctx.Err(); err != nil {
			results[i] = err
			continue
		}
		if _, err := tx.ExecContext(ctx, "SAVEPOINT write_op"); err != nil {
			tx.Rollback()
			fail(fmt.Errorf("savepoint: %w", err))
			return
		}
		opCtx := context.WithoutCancel(op.ctx)
		results[i] = safeRun(opCtx, op.fn, tx.Client())
		if results[i] != nil {
			if _, err := tx.ExecContext(ctx, "ROLLBACK TO write_op"); err != nil {
				tx.Rollback()
				fail(fmt.Errorf("rollback to savepoint: %w", err))
				return
			}
		}
		if _, err := tx.ExecContext(ctx, "RELEASE write_op"); err != nil {
			tx.Rollback()
			fail(fmt.Errorf("release savepoint: %w", err))
			return
		}
	}
	if err := tx.Commit(); err != nil {
		fail(fmt.Errorf("commit: %w", err))
		return
	}
	for i, op := range batch {
		op.result <- results[i]
	}
}

// safeRun turns a panic in fn into an error, so that one bad write cannot
// take the writer (and every request waiting on it) down.
func safeRun(ctx context.Context, fn WriteFunc, c *ent.Client) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("write panicked: %v", r)
		}
	}()
	return fn(ctx, c)
}
