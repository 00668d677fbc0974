package database

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"path/filepath"
	"strings"
	"syscall"

	"entgo.io/ent/dialect"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/mattn/go-sqlite3"
)

// Cause is why the database cannot take writes (or answer at all): the
// one classification of driver errors, which the HTTP layer answers 503
// unavailable, readiness reports and the log names with a remedy.
type Cause string

// Causes of a database fault. Their names are what GET /readyz reports as
// "reason" and the metrics' label: keep them stable.
const (
	// DiskFull: SQLite's file or PostgreSQL's disk cannot grow.
	DiskFull Cause = "disk_full"
	// ReadOnly: the database refuses writes (a read-only file, directory
	// or mount; a PostgreSQL standby or default_transaction_read_only).
	ReadOnly Cause = "read_only"
	// DiskError: the operating system failed a read or write (EIO).
	DiskError Cause = "disk_error"
	// Busy: another process holds SQLite's write lock past the busy
	// timeout (a second server on the same file, a long backup).
	Busy Cause = "database_busy"
	// Unreachable: PostgreSQL does not answer, refuses connections, or
	// is shutting down or starting up.
	Unreachable Cause = "database_unreachable"
	// TooManyConnections: PostgreSQL has no free connection slot.
	TooManyConnections Cause = "too_many_connections"
	// ShuttingDown: this server is stopping.
	ShuttingDown Cause = "shutting_down"
)

// Reasons are every reason GET /readyz may give: Migrating and the causes.
var Reasons = []string{Migrating, string(DiskFull), string(ReadOnly), string(DiskError), string(Busy),
	string(Unreachable), string(TooManyConnections), string(ShuttingDown)}

// Fault is a database error classified by Classify. Writer returns its
// faults wrapped in one (errors.As finds it), already counted and logged
// by Faults; the error it wraps stays reachable with errors.Is/As.
type Fault struct {
	Cause Cause
	Err   error
}

func (f *Fault) Error() string { return string(f.Cause) + ": " + f.Err.Error() }
func (f *Fault) Unwrap() error { return f.Err }

// Classify says whether err means the database cannot take writes (or
// cannot be reached), and why. Anything else (a constraint, a bug, a
// canceled request) is not a fault: it is the caller's to handle.
func Classify(err error) (Cause, bool) {
	if err == nil {
		return "", false
	}
	var f *Fault
	if errors.As(err, &f) {
		return f.Cause, true
	}
	if errors.Is(err, context.Canceled) {
		// The caller gave up; that says nothing about the database.
		return "", false
	}
	if errors.Is(err, ErrClosed) {
		return ShuttingDown, true
	}
	var se sqlite3.Error
	if errors.As(err, &se) {
		switch se.Code {
		case sqlite3.ErrFull:
			return DiskFull, true
		case sqlite3.ErrReadonly, sqlite3.ErrPerm, sqlite3.ErrCantOpen:
			return ReadOnly, true
		case sqlite3.ErrIoErr:
			if errors.Is(se.SystemErrno, syscall.ENOSPC) {
				return DiskFull, true
			}
			if errors.Is(se.SystemErrno, syscall.EROFS) || errors.Is(se.SystemErrno, syscall.EACCES) || errors.Is(se.SystemErrno, syscall.EPERM) {
				return ReadOnly, true
			}
			return DiskError, true
		case sqlite3.ErrBusy, sqlite3.ErrLocked:
			return Busy, true
		}
		return "", false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == "53100": // disk_full
			return DiskFull, true
		case pe.Code == "25006": // read_only_sql_transaction
			return ReadOnly, true
		case pe.Code == "53300": // too_many_connections (also "remaining slots are reserved")
			return TooManyConnections, true
		case strings.HasPrefix(pe.Code, "08"), // connection_exception
			pe.Code == "57P01", pe.Code == "57P02", pe.Code == "57P03": // admin or crash shutdown, cannot connect now
			return Unreachable, true
		}
		return "", false
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	if errors.As(err, &ce) || errors.As(err, &ne) ||
		errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) {
		return Unreachable, true
	}
	// pgx reports a connection it closed after a failure as "conn closed".
	if msg := err.Error(); strings.Contains(msg, "conn closed") || strings.Contains(msg, "conn busy") {
		return Unreachable, true
	}
	return "", false
}

// IsFault reports whether err is a database fault (Classify).
func IsFault(err error) bool {
	_, ok := Classify(err)
	return ok
}

// Remedy is what an operator should do about cause, for the log line:
// "database or disk is full: free space in /var/lib/miniauth".
func (db *DB) Remedy(c Cause) string {
	sqlite := db.Dialect != dialect.Postgres
	dir := filepath.Dir(db.Name)
	switch c {
	case DiskFull:
		if sqlite {
			return "database or disk is full: free space in " + dir
		}
		return "PostgreSQL's disk is full: free space on the database server (" + db.Name + ")"
	case ReadOnly:
		if sqlite {
			return "database is read-only: make " + db.Name + " and " + dir +
				" writable by the user miniauth runs as, and check that the filesystem is mounted read-write"
		}
		return "PostgreSQL refuses writes (a standby, or default_transaction_read_only is on): point MINIAUTH_DATABASE_URL at the primary, or turn read-only mode off"
	case DiskError:
		return "disk I/O error under " + dir + ": check the disk and the kernel log (dmesg)"
	case Busy:
		return "the database file is locked by another process: is a second miniauth, a backup or a sqlite3 shell holding " + db.Name + "?"
	case Unreachable:
		return "PostgreSQL is unreachable: check that it runs and accepts connections at " + db.Name
	case TooManyConnections:
		return "PostgreSQL has no free connection slots: raise max_connections, or lower MINIAUTH_DB_MAX_OPEN_CONNS times the number of instances"
	case ShuttingDown:
		return "the server is shutting down"
	}
	return string(c)
}
