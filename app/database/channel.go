package database

import (
	"context"
	"fmt"
	"time"

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
	if db.Dialect != dialect.Postgres {
		return
	}
	backoff := 50 * time.Millisecond
	for ctx.Err() == nil {
		wasUp, err := db.listenChannelOnce(ctx, ch, l)
		if ctx.Err() != nil {
			return
		}
		l.Down(err)
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

func (db *DB) listenChannelOnce(ctx context.Context, ch Channel, l ChannelListener) (wasUp bool, err error) {
	cfg, err := pgx.ParseConfig(db.url)
	if err != nil {
		return false, fmt.Errorf("listener config: %w", err)
	}
	cfg.RuntimeParams["application_name"] = ch.AppName
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	conn, err := pgx.ConnectConfig(cctx, cfg)
	cancel()
	if err != nil {
		return false, fmt.Errorf("listener connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{ch.Name}.Sanitize()); err != nil {
		return false, fmt.Errorf("listen %s: %w", ch.Name, err)
	}
	l.Up()
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
		l.Notify(n.Payload)
	}
}
