package database

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"entgo.io/ent/dialect"
)

// BackupResult describes a finished backup.
type BackupResult struct {
	Path      string
	Bytes     int64
	Users     int
	Integrity string // "ok" from PRAGMA integrity_check
}

// Backup writes a consistent online copy of a SQLite database to path with
// VACUUM INTO (one read transaction, so it sees one committed state while
// the server keeps writing), checks the copy with PRAGMA integrity_check,
// and only then moves it into place, mode 0600 like the database. A file
// copy of a live WAL database could tear; this cannot.
func (db *DB) Backup(ctx context.Context, path string) (*BackupResult, error) {
	if db.Dialect != dialect.SQLite {
		return nil, errors.New("backup is for SQLite; back PostgreSQL up with pg_dump or your provider's snapshots")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(abs); err == nil {
		return nil, fmt.Errorf("%s already exists: choose a new file name", path)
	}
	tmp := abs + ".partial"
	os.Remove(tmp)
	// VACUUM INTO would create the file 0644; it writes into an existing
	// empty file instead, which keeps the backup as private as the
	// database.
	if err := createPrivate(tmp); err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	if _, err := db.SQL.ExecContext(ctx, "VACUUM INTO ?", tmp); err != nil {
		os.Remove(tmp)
		return nil, fmt.Errorf("vacuum into %s: %w", tmp, err)
	}
	res, err := checkCopy(ctx, tmp)
	if err != nil {
		os.Remove(tmp)
		return nil, err
	}
	if err := os.Rename(tmp, abs); err != nil {
		os.Remove(tmp)
		return nil, err
	}
	res.Path = abs
	return res, nil
}

// checkCopy opens a database file read-only and runs integrity_check.
func checkCopy(ctx context.Context, path string) (*BackupResult, error) {
	c, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
	if err != nil {
		return nil, err
	}
	defer c.Close()
	res := &BackupResult{}
	if err := c.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&res.Integrity); err != nil {
		return nil, fmt.Errorf("integrity check of the copy: %w", err)
	}
	if res.Integrity != "ok" {
		return nil, fmt.Errorf("integrity check of the copy failed: %s", res.Integrity)
	}
	if err := c.QueryRowContext(ctx, "SELECT COUNT(*) FROM users").Scan(&res.Users); err != nil {
		return nil, fmt.Errorf("count users in the copy: %w", err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	res.Bytes = fi.Size()
	return res, nil
}
