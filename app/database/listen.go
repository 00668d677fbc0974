package database

import (
	"context"
	"fmt"
	"strings"
	"time"

	"entgo.io/ent/dialect"
	"github.com/jackc/pgx/v5"
)

// listenSpec is one dedicated LISTEN connection: the change feed's
// (Listen) or a channel of its own (ListenOn).
type listenSpec struct {
	appName  string   // application_name of the connection
	channels []string // what it LISTENs on
	up       func(conn *pgx.Conn)
	gone     func() // the connection that was up is closing (optional)
	down     func(err error)
	notify   func(ctx context.Context, conn *pgx.Conn, channel, payload string) error
}

// keepListening runs s's connection until ctx ends, reconnecting with
// backoff (50 ms doubling to 5 s, back to 50 ms after a connection that
// was up). It returns at once on SQLite.
func (db *DB) keepListening(ctx context.Context, s listenSpec) {
	if db.Dialect != dialect.Postgres {
		return
	}
	backoff := 50 * time.Millisecond
	for ctx.Err() == nil {
		wasUp, err := db.listenOnce(ctx, s)
		if ctx.Err() != nil {
			return
		}
		s.down(err)
		if wasUp {
			backoff = 50 * time.Millisecond
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// listenOnce runs one connection: LISTEN, up, then notifications until
// the connection fails. wasUp says whether it got as far as up.
func (db *DB) listenOnce(ctx context.Context, s listenSpec) (wasUp bool, err error) {
	cfg, err := pgx.ParseConfig(db.url)
	if err != nil {
		return false, fmt.Errorf("listener config: %w", err)
	}
	cfg.RuntimeParams["application_name"] = s.appName
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	conn, err := pgx.ConnectConfig(cctx, cfg)
	cancel()
	if err != nil {
		return false, fmt.Errorf("listener connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	listen := make([]string, len(s.channels))
	for i, name := range s.channels {
		listen[i] = "LISTEN " + pgx.Identifier{name}.Sanitize()
	}
	if _, err := conn.Exec(ctx, strings.Join(listen, "; ")); err != nil {
		return false, fmt.Errorf("listen %s: %w", strings.Join(s.channels, ", "), err)
	}
	s.up(conn)
	if s.gone != nil {
		defer s.gone()
	}
	for {
		wctx, cancel := context.WithTimeout(ctx, listenPing)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		if ctx.Err() != nil {
			return true, nil
		}
		if err != nil {
			if wctx.Err() == nil || conn.IsClosed() {
				return true, fmt.Errorf("listener connection lost: %w", err)
			}
			// Idle for listenPing: make sure the connection still answers.
			pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			err = conn.Ping(pctx)
			cancel()
			if err != nil {
				return true, fmt.Errorf("listener connection does not answer: %w", err)
			}
			continue
		}
		if err := s.notify(ctx, conn, n.Channel, n.Payload); err != nil {
			return true, err
		}
	}
}
