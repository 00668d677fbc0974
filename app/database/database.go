// Package database opens miniauth's store: SQLite by default, PostgreSQL
// when MINIAUTH_DATABASE_URL says so, both through Ent.
package database

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // PostgreSQL driver "pgx"
	"github.com/mattn/go-sqlite3"      // SQLite drivers "sqlite3" and writerDriver

	"github.com/miniauth/miniauth/app/database/dburl"
	"github.com/miniauth/miniauth/ent"
	// Ent keeps the schema's defaults and hooks (the audit log's
	// append-only guard) in ent/runtime: every client needs it loaded.
	_ "github.com/miniauth/miniauth/ent/runtime"
)

// writerDriver is SQLite for the write connection: its group commit runs
// each write in a savepoint, and SQLite copies every page a savepoint
// changes into a statement journal first. In a temporary file (the
// default) that was one pwrite per page, twenty per login, half the
// login's CPU; in memory it is a copy, dropped at each RELEASE.
const writerDriver = "sqlite3_miniauth_writer"

func init() {
	sql.Register(writerDriver, &sqlite3.SQLiteDriver{
		ConnectHook: func(c *sqlite3.SQLiteConn) error {
			_, err := c.Exec("PRAGMA temp_store=MEMORY", nil)
			return err
		},
	})
}

// Options select and tune the database.
type Options struct {
	URL          string // see dburl.Parse: postgres://…, sqlite:///path or a plain file path
	MaxOpenConns int    // PostgreSQL pool size
	MaxIdleConns int
	Sync         string // SQLite synchronous: "full" or "normal"
	// LegacyAppID is the mini program the rows of a single-app release
	// belong to (identities.go); empty: they are left for later.
	LegacyAppID string
	// Need is what must already be there; the zero value creates a
	// missing database.
	Need Need
	// Log hears what migrations do and how far long ones are, and the
	// database's faults (Faults); nil: nothing is logged.
	Log *slog.Logger
	// AppName is the application_name of PostgreSQL connections, unless
	// the URL sets one: the server's (ServerAppName, the default) is how
	// InUse finds a live server; commands name themselves otherwise.
	AppName string
}

// DB is an open store. Reads go through Read; every write goes through
// Writer, which on SQLite funnels them into one connection and commits
// concurrent writes together.
type DB struct {
	Dialect string
	// Name says which database this is, for people: the absolute SQLite
	// path, or the PostgreSQL URL without password.
	Name   string
	Read   *ent.Client
	Writer *Writer
	// Write is the client behind Writer, for migrations and command-line
	// tools that run alone.
	Write *ent.Client
	SQL   *sql.DB // the write pool (the only pool on PostgreSQL)
	// ReadSQL is the pool behind Read, for the few hot-path statements
	// that are prepared once instead of built by Ent per request.
	ReadSQL *sql.DB
	closer  []func() error
	url     string // PostgreSQL only: for the listener's own connection
	// listenerPID is the backend pid of this process's change listener
	// while it is up (0 otherwise).
	listenerPID atomic.Int64
	// legacyAppID: see Options.LegacyAppID.
	legacyAppID string
	// Faults knows whether the database takes writes (faults.go).
	Faults *Faults
	log    *slog.Logger
	// pace is how migrations chunk their work and report it.
	pace struct {
		chunk int
		every time.Duration
	}
}

// logger is where migrations log: Options.Log, or nowhere.
func (db *DB) logger() *slog.Logger {
	if db.log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return db.log
}

// Open opens the database and migrates its schema.
func Open(ctx context.Context, o Options) (*DB, error) {
	db, err := OpenNoMigrate(o)
	if err != nil {
		return nil, err
	}
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// OpenNoMigrate opens the database without touching its schema.
func OpenNoMigrate(o Options) (*DB, error) {
	loc, err := dburl.Parse(o.URL)
	if err != nil {
		return nil, fmt.Errorf("database URL: %w", err)
	}
	var db *DB
	if loc.Postgres {
		db, err = openPostgres(o, loc)
	} else {
		db, err = openSQLite(o, loc)
	}
	if err != nil {
		return nil, err
	}
	db.Name = loc.String()
	db.legacyAppID = o.LegacyAppID
	db.Faults = newFaults(db)
	db.Writer.faults = db.Faults
	db.log = o.Log
	if o.Log != nil {
		db.Faults.SetLogger(o.Log)
	}
	db.pace.chunk, db.pace.every = identitiesChunk, progressEvery
	if o.Need == MustHaveSchema {
		if err := hasSchema(context.Background(), db.Dialect, db.SQL); err != nil {
			db.Close()
			return nil, named(db.Name, err)
		}
	}
	return db, nil
}

func openSQLite(o Options, loc dburl.Location) (*DB, error) {
	path := loc.Path
	if o.Need == MayCreate {
		if dir := filepath.Dir(path); dir != "" {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return nil, fmt.Errorf("create database directory: %w", err)
			}
		}
		if err := createPrivate(path); err != nil {
			return nil, err
		}
	} else if err := checkSQLiteFile(loc, o.Need); err != nil {
		return nil, err
	}
	makePrivate(path)
	sync := "FULL"
	if o.Sync == "normal" {
		sync = "NORMAL"
	}
	// Pragmas go in the DSN so every pooled connection gets them, and
	// _busy_timeout comes first so the others can wait for a lock too.
	// synchronous=FULL: a 200 means the write survived a power cut.
	// _stmt_cache_size keeps each connection's prepared statements: Ent
	// sends the same SQL text for the same query shape, and parsing it
	// anew each time was a third of a login's cost.
	// _cache_size is per connection (KiB when negative), C memory that
	// grows with the tables up to the size: 8 MiB for the writer, 4 MiB
	// for each reader (most reads of a busy server are answered by the
	// session cache). Pages beyond it are still in the kernel's page
	// cache. The writer's 16 MiB of before cost 5–8 MiB of peak RSS in
	// the bench and bought no login speed (its CPU per login was the
	// same): the pages a login touches at random (openid and refresh
	// hash indexes) miss either size once the tables are large.
	base := "file:" + (&url.URL{Path: path}).EscapedPath() +
		"?_busy_timeout=10000&_journal_mode=WAL&_foreign_keys=1&_synchronous=" + sync +
		"&_stmt_cache_size=128"
	// One writer connection whose transactions take the write lock at
	// BEGIN (IMMEDIATE), so they queue instead of failing with "database
	// is locked" when they upgrade from a read.
	w, err := sql.Open(writerDriver, base+"&_cache_size=-8000&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	if err := w.Ping(); err != nil {
		w.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	r, err := sql.Open("sqlite3", base+"&_cache_size=-4000&_query_only=1")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	readers := max(4, 2*runtime.NumCPU())
	r.SetMaxOpenConns(readers)
	r.SetMaxIdleConns(readers)
	write := ent.NewClient(ent.Driver(entsql.OpenDB(dialect.SQLite, w)))
	read := ent.NewClient(ent.Driver(entsql.OpenDB(dialect.SQLite, r)))
	db := &DB{
		Dialect: dialect.SQLite,
		Read:    read,
		Write:   write,
		SQL:     w,
		ReadSQL: r,
		Writer:  newWriter(write, true),
	}
	db.closer = []func() error{r.Close, w.Close}
	return db, nil
}

func openPostgres(o Options, loc dburl.Location) (*DB, error) {
	p, err := sql.Open("pgx", withAppName(o.URL, o.AppName))
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	p.SetMaxOpenConns(max(1, o.MaxOpenConns))
	p.SetMaxIdleConns(max(0, o.MaxIdleConns))
	p.SetConnMaxIdleTime(5 * time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.PingContext(ctx); err != nil {
		p.Close()
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "3D000" { // invalid_catalog_name
			return nil, fmt.Errorf("%s does not exist: create the database with createdb first", loc)
		}
		return nil, fmt.Errorf("connect to postgres: %w", err)
	}
	client := ent.NewClient(ent.Driver(entsql.OpenDB(dialect.Postgres, p)))
	db := &DB{
		Dialect: dialect.Postgres,
		Read:    client,
		Write:   client,
		SQL:     p,
		ReadSQL: p,
		Writer:  newWriter(client, false),
		url:     o.URL,
	}
	db.closer = []func() error{p.Close}
	return db, nil
}

// withAppName sets application_name in a postgres:// URL that does not
// set it.
func withAppName(raw, name string) string {
	if name == "" {
		name = ServerAppName
	}
	u, err := url.Parse(raw)
	if err != nil {
		return raw // sql.Open reports it
	}
	q := u.Query()
	if q.Get("application_name") != "" {
		return raw
	}
	q.Set("application_name", name)
	u.RawQuery = q.Encode()
	return u.String()
}

// MigrationLockID is the PostgreSQL advisory lock that serialises
// migrations of instances starting at the same time.
const MigrationLockID = 0x6d696e6961757468 // "miniauth"

// migrateMu serialises migrations within one process: Ent's migration
// rewrites the package-level table descriptions as it goes.
var migrateMu sync.Mutex

// Migrate brings the schema up to date.
func (db *DB) Migrate(ctx context.Context) error {
	migrateMu.Lock()
	defer migrateMu.Unlock()
	db.Faults.setMigrating(true)
	defer db.Faults.setMigrating(false)
	log := db.logger()
	start := time.Now()
	if db.Dialect == dialect.Postgres {
		conn, err := db.SQL.Conn(ctx)
		if err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		defer conn.Close()
		var got bool
		if err := conn.QueryRowContext(ctx, "SELECT pg_try_advisory_lock($1)", MigrationLockID).Scan(&got); err != nil {
			return fmt.Errorf("migrate: take the migration lock: %w", err)
		}
		if !got {
			log.Info("migrating: another instance is migrating this database; waiting for it to finish")
			if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", MigrationLockID); err != nil {
				return fmt.Errorf("migrate: take the migration lock: %w", err)
			}
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", MigrationLockID)
	}
	if err := db.Write.Schema.Create(ctx); err != nil {
		return fmt.Errorf("migrate schema: %w", err)
	}
	// Ent adds indexes but never drops one: the indexes a release
	// replaced go here, after their replacement exists.
	for _, name := range replacedIndexes {
		if _, err := db.SQL.ExecContext(ctx, "DROP INDEX IF EXISTS "+name); err != nil {
			return fmt.Errorf("migrate schema: drop replaced index %s: %w", name, err)
		}
	}
	if err := db.migrateIdentities(ctx, db.legacyAppID); err != nil {
		return err
	}
	log.Info("database schema up to date", "took", time.Since(start).Round(time.Millisecond).String())
	return nil
}

// replacedIndexes are indexes of earlier releases that the schema no
// longer has. Each spared every new user's login an index page at a
// random place:
//   - identities' unique (appid, openid) and (openid) became one unique
//     (openid, appid), which serves both the login's lookup and the
//     search by any openid;
//   - sessions' unique refresh_hash became a partial index of the legacy
//     refresh tokens only: a token names its session now (app/tokens).
var replacedIndexes = []string{"identity_appid_openid", "identity_openid", "sessions_refresh_hash_key"}

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	return db.SQL.PingContext(ctx)
}

// Close stops the writer and closes every pool.
func (db *DB) Close() error {
	db.Faults.close()
	db.Writer.Close()
	var first error
	for _, c := range db.closer {
		if err := c(); err != nil && first == nil {
			first = err
		}
	}
	return first
}
