package database

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/miniauth/miniauth/app/database/dburl"
)

// ServerAppName is the application_name of a miniauth server's
// PostgreSQL connections (unless the URL sets one), so that a command can
// tell whether a server is using the database (InUse).
const ServerAppName = "miniauth"

// inUseLooks and inUseGap: how often and how far apart InUse looks at
// PostgreSQL's connections before it calls the database in use.
const (
	inUseLooks = 5
	inUseGap   = 200 * time.Millisecond
)

// InUse says whether another process has the database open, so that a
// command that rewrites it wholesale (copy, import) can refuse to run
// under a live server: it returns a one-line description of who, or ""
// when nobody is. Call it before this process opens the database.
//
// SQLite: every connection to a WAL database holds a shared lock on one
// byte of the -shm file for as long as it is open; another process's
// lock is seen with F_GETLK (this process's own are not). PostgreSQL:
// connections of this database named like a miniauth server's (or not
// named at all, like older miniauth servers) in pg_stat_activity.
func InUse(ctx context.Context, rawURL string) (string, error) {
	loc, err := dburl.Parse(rawURL)
	if err != nil {
		return "", fmt.Errorf("database URL: %w", err)
	}
	if !loc.Postgres {
		pid, err := sqliteHolder(loc.Path)
		if err != nil || pid == 0 {
			return "", err
		}
		return fmt.Sprintf("process %d has %s open (a running miniauth server?)", pid, loc), nil
	}
	db, err := sql.Open("pgx", rawURL)
	if err != nil {
		return "", fmt.Errorf("open postgres: %w", err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var n int
	var names string
	// A server that has just stopped leaves its backends exiting for a
	// moment after its sockets closed: look again a few times before
	// calling the database in use.
	for try := 0; ; try++ {
		err = db.QueryRowContext(cctx, `SELECT count(*), COALESCE(string_agg(DISTINCT COALESCE(client_addr::text, 'local'), ', '), '')
FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'
  AND application_name IN ($1, $2, '')`, ServerAppName, ListenerAppName).Scan(&n, &names)
		if err != nil {
			return "", fmt.Errorf("list the connections to %s: %w", loc, err)
		}
		if n == 0 {
			return "", nil
		}
		if try == inUseLooks-1 {
			break
		}
		select {
		case <-cctx.Done():
			return "", fmt.Errorf("list the connections to %s: %w", loc, cctx.Err())
		case <-time.After(inUseGap):
		}
	}
	return fmt.Sprintf("%d connection(s) of a miniauth server (from %s) are using %s", n, strings.TrimSpace(names), loc), nil
}
