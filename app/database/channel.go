package database

import (
	"context"
	"fmt"

	"entgo.io/ent/dialect"
	"github.com/jackc/pgx/v5"

	"github.com/miniauth/miniauth/ent"
)

// A Channel is a PostgreSQL notification channel of its own, for news
// other than the session cache's (ChangeChannel): its listener is a
// separate connection with its own application_name, so it never counts
// among the change listeners that session writes wait for.
type Channel struct {
	Name    string // the NOTIFY channel
	AppName string // application_name of its listening connection
}

// NotifyOn announces payload on ch inside tx: delivered if and only if tx
// commits, after it commits. On SQLite it does nothing (every write is
// this process's own).
func (db *DB) NotifyOn(ctx context.Context, tx *ent.Client, ch Channel, payload string) error {
	if db.Dialect != dialect.Postgres {
		return nil
	}
	if _, err := tx.ExecContext(ctx, "SELECT pg_notify($1, $2)", ch.Name, payload); err != nil {
		return fmt.Errorf("notify %s: %w", ch.Name, err)
	}
	return nil
}

// ChannelListener is told of a channel listener's life: Up once LISTEN
// has succeeded (notifications sent before may have been missed), Down
// when the connection is lost or cannot be made, Notify for each payload
// in between.
type ChannelListener struct {
	Up     func()
	Down   func(err error)
	Notify func(payload string)
}

// ListenOn keeps one dedicated connection listening on ch until ctx ends,
// reconnecting with backoff. It returns at once on SQLite.
func (db *DB) ListenOn(ctx context.Context, ch Channel, l ChannelListener) {
	db.keepListening(ctx, listenSpec{
		appName:  ch.AppName,
		channels: []string{ch.Name},
		up:       func(*pgx.Conn) { l.Up() },
		down:     l.Down,
		notify: func(_ context.Context, _ *pgx.Conn, _, payload string) error {
			l.Notify(payload)
			return nil
		},
	})
}
