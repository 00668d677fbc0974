// Package dburl reads a database location (MINIAUTH_DATABASE_URL, copy's
// --from and --to): which forms miniauth accepts, and how to name one in
// output without its password.
//
// It depends on nothing, so that config can check the variable at start-up
// and the database package can open what it names.
package dburl

import (
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
)

// Location is a parsed database location.
type Location struct {
	// Postgres is true for a PostgreSQL URL, false for a SQLite file.
	Postgres bool
	// URL is the PostgreSQL connection URL as given (it may hold a
	// password: never print it; print String()).
	URL string
	// Path is the SQLite file, relative or absolute as given.
	Path string
}

// Accepted is the one-line list of accepted forms, for error messages.
const Accepted = "use postgres://user:pass@host/db, postgresql://…, sqlite:///path/to/file.db, sqlite3://… or a plain file path"

// scheme matches a URL scheme (RFC 3986) at the start of a location. A
// plain path never matches: its first ':' comes after a '/' or a '.'.
var scheme = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9+.\-]*):`)

// keywordForm matches libpq's "host=… dbname=…" form, which would
// otherwise become a strangely named SQLite file.
var keywordForm = regexp.MustCompile(`(^|\s)(host|hostaddr|dbname|user|password|port|sslmode)=`)

// Parse reads raw. An unknown scheme is an error, not a file name: before,
// mysql://u:p@h/db became the SQLite file ./mysql:/u:p@h/db. Errors never
// repeat raw, which may hold a password.
func Parse(raw string) (Location, error) {
	if strings.TrimSpace(raw) == "" {
		return Location{}, errors.New("empty: " + Accepted)
	}
	m := scheme.FindStringSubmatch(raw)
	if m == nil {
		if keywordForm.MatchString(raw) {
			return Location{}, errors.New("looks like a PostgreSQL keyword/value string: write it as a postgres:// URL")
		}
		return Location{Path: raw}, nil
	}
	switch name := m[1]; name {
	case "postgres", "postgresql":
		u, err := url.Parse(raw)
		if err != nil || !strings.HasPrefix(raw, name+"://") {
			// url's error quotes the whole URL, password included.
			return Location{}, fmt.Errorf("not a valid %s:// URL (postgres://user:pass@host:5432/db?sslmode=disable)", name)
		}
		if u.Opaque != "" {
			return Location{}, fmt.Errorf("not a valid %s:// URL", name)
		}
		return Location{Postgres: true, URL: raw}, nil
	case "sqlite", "sqlite3":
		rest, ok := strings.CutPrefix(raw, name+"://")
		if !ok {
			return Location{}, fmt.Errorf("write %s:///absolute/path.db or %s://relative/path.db", name, name)
		}
		// Query parameters are SQLite's to set (the DSN pragmas), not the
		// operator's: they are dropped, as before.
		if i := strings.IndexByte(rest, '?'); i >= 0 {
			rest = rest[:i]
		}
		if rest == "" {
			return Location{}, fmt.Errorf("%s:// names no file: write %s:///path/to/file.db", name, name)
		}
		return Location{Path: rest}, nil
	default:
		return Location{}, fmt.Errorf("unsupported scheme %q: %s", name, Accepted)
	}
}

// String names the database for people: the absolute SQLite path, or the
// PostgreSQL URL without its password and query (which may carry
// password=…).
func (l Location) String() string {
	if !l.Postgres {
		if abs, err := filepath.Abs(l.Path); err == nil {
			return abs
		}
		return l.Path
	}
	u, err := url.Parse(l.URL)
	if err != nil {
		return "postgres (unparsable URL)"
	}
	user := ""
	if u.User != nil && u.User.Username() != "" {
		user = u.User.Username() + "@"
	}
	shown := "postgres://" + user + u.Host + u.EscapedPath()
	if u.Host == "" && u.Query().Get("host") != "" {
		shown += " (host " + u.Query().Get("host") + ")" // a Unix socket directory
	}
	return shown
}

// Describe is Parse(raw).String(), or a placeholder for an invalid raw.
func Describe(raw string) string {
	l, err := Parse(raw)
	if err != nil {
		return "(invalid database location)"
	}
	return l.String()
}
