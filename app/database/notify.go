package database

import (
	"context"
	"fmt"
	"time"

	"entgo.io/ent/dialect"
	"github.com/jackc/pgx/v5"

	"github.com/miniauth/miniauth/ent"
)

// ChangeChannel is the PostgreSQL channel on which instances announce
// ended sessions and changed users to each other (app/logins and app/profiles send,
// app wires the listener to the session cache).
const ChangeChannel = "miniauth_changes"

// AckChannel carries instances' receipts for announcements that ask for
// one (see Listener.Notify).
const AckChannel = "miniauth_acks"

// ListenerAppName is the application_name of the listening connection, so
// that an operator (or a test) can find it in pg_stat_activity.
const ListenerAppName = "miniauth-change-listener"

// Notify announces payload on ChangeChannel inside tx, so that it is
// delivered if and only if tx commits, and only after it commits. On
// SQLite it does nothing: there, every write goes through this process.
func (db *DB) Notify(ctx context.Context, tx *ent.Client, payload string) error {
	if db.Dialect != dialect.Postgres {
		return nil
	}
	if _, err := tx.ExecContext(ctx, "SELECT pg_notify($1, $2)", ChangeChannel, payload); err != nil {
		return fmt.Errorf("notify %s: %w", ChangeChannel, err)
	}
	return nil
}

// Listener receives a LISTEN connection's life and messages. Up is called
// once LISTEN has succeeded; Down whenever a connection is lost or could
// not be made (possibly several times in a row); Notify only between an Up
// and the next Down, for ChangeChannel and AckChannel. A non-empty ack
// from Notify is sent on AckChannel once Notify has returned.
type Listener struct {
	Up     func()
	Down   func(err error)
	Notify func(channel, payload string) (ack string)
}

// OtherListeners counts the connections listening for changes on this
// database other than this process's own, as seen inside tx (PostgreSQL;
// 0 on SQLite).
func (db *DB) OtherListeners(ctx context.Context, tx *ent.Client) (int, error) {
	if db.Dialect != dialect.Postgres {
		return 0, nil
	}
	rows, err := tx.QueryContext(ctx, `SELECT count(*) FROM pg_stat_activity
WHERE datname = current_database() AND application_name = $1 AND pid <> $2`, ListenerAppName, db.listenerPID.Load())
	if err != nil {
		return 0, fmt.Errorf("count listeners: %w", err)
	}
	defer rows.Close()
	n := 0
	if rows.Next() {
		if err := rows.Scan(&n); err != nil {
			return 0, fmt.Errorf("count listeners: %w", err)
		}
	}
	return n, rows.Err()
}

// listenPing is how long the listener waits idle before checking that its
// connection still answers: a connection that died silently (no reset,
// e.g. a network partition) is noticed within about this time plus the
// ping timeout. A terminated backend or a closed socket is noticed at once.
const listenPing = 15 * time.Second

// Listen keeps one dedicated connection listening on ChangeChannel (and
// AckChannel) until ctx ends, reconnecting with backoff. It returns at
// once on SQLite.
func (db *DB) Listen(ctx context.Context, l Listener) {
	db.keepListening(ctx, listenSpec{
		appName:  ListenerAppName,
		channels: []string{ChangeChannel, AckChannel},
		up: func(conn *pgx.Conn) {
			db.listenerPID.Store(int64(conn.PgConn().PID()))
			l.Up()
		},
		gone: func() { db.listenerPID.Store(0) },
		down: l.Down,
		notify: func(ctx context.Context, conn *pgx.Conn, channel, payload string) error {
			if ack := l.Notify(channel, payload); ack != "" {
				if _, err := conn.Exec(ctx, "SELECT pg_notify($1, $2)", AckChannel, ack); err != nil {
					return fmt.Errorf("listener ack: %w", err)
				}
			}
			return nil
		},
	})
}
