package database

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"strings"

	"entgo.io/ent/dialect"

	"github.com/miniauth/miniauth/app/database/dburl"
)

// Need says what must already be there before a command opens a
// database. Only the server's first start, migrate and copy's target may
// create one: any other command pointed at a mistyped path would
// otherwise carry on in a new, empty world.
type Need int

const (
	// MayCreate creates a missing SQLite file (and its directory), and
	// Open creates the schema.
	MayCreate Need = iota
	// MustExist wants the database itself, but not the schema (a dry run
	// of migrate shows the SQL that would create it).
	MustExist
	// MustHaveSchema wants a database that holds miniauth's schema.
	MustHaveSchema
)

// ErrNoDatabase matches (errors.Is) the error of a database that is
// missing or holds no miniauth schema.
var ErrNoDatabase = errors.New("no miniauth database")

// missing is such an error, with its own message.
type missing string

func (m missing) Error() string        { return string(m) }
func (m missing) Is(target error) bool { return target == ErrNoDatabase }

// checkSQLiteFile checks, creating and changing nothing, that the SQLite
// file exists and, for MustHaveSchema, holds miniauth's schema. The
// check opens the file read-only and without the server's pragmas, which
// would turn a foreign database into WAL mode.
func checkSQLiteFile(loc dburl.Location, need Need) error {
	fi, err := os.Stat(loc.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return missing(fmt.Sprintf("no miniauth database at %s (the file does not exist)", loc))
	}
	if err != nil {
		return fmt.Errorf("database %s: %w", loc, errors.Unwrap(err))
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("database %s is not a file", loc)
	}
	if need != MustHaveSchema {
		return nil
	}
	ro, err := sql.Open("sqlite3", "file:"+(&url.URL{Path: loc.Path}).EscapedPath()+"?mode=ro&_busy_timeout=10000")
	if err != nil {
		return fmt.Errorf("database %s: %w", loc, err)
	}
	defer ro.Close()
	if err := hasSchema(context.Background(), dialect.SQLite, ro); err != nil {
		return named(loc.String(), err)
	}
	return nil
}

// hasSchema returns nil when db holds miniauth's users table (with its
// openid column), the table every version of the schema has. The error
// reads after the database's name.
func hasSchema(ctx context.Context, dia string, db *sql.DB) error {
	q := "SELECT COUNT(*) FROM pragma_table_info('users') WHERE name = 'openid'"
	if dia == dialect.Postgres {
		q = `SELECT COUNT(*) FROM information_schema.columns
			WHERE table_schema = current_schema() AND table_name = 'users' AND column_name = 'openid'`
	}
	var n int
	if err := db.QueryRowContext(ctx, q).Scan(&n); err != nil {
		if strings.Contains(err.Error(), "not a database") {
			return errors.New("is not a SQLite database")
		}
		return fmt.Errorf("could not be read: %w", err)
	}
	if n == 0 {
		return missing("holds no miniauth schema (no users table with an openid column)")
	}
	return nil
}

// named puts the database's name before an error of hasSchema, keeping
// whether it is ErrNoDatabase.
func named(name string, err error) error {
	var m missing
	if errors.As(err, &m) {
		return missing(name + " " + string(m))
	}
	return fmt.Errorf("%s %w", name, err)
}
