package database

import (
	"context"
	"fmt"
)

// legacyIdentitiesSQL gives every user without an identity one made from
// the openid, unionid and session key a single-app release kept on the
// user row. Idempotent: it runs on every start-up, so a database a single-
// app binary wrote to meanwhile is caught up too.
const legacyIdentitiesSQL = `INSERT INTO identities (user_id, appid, openid, unionid, session_key, created_at, last_login_at)
SELECT u.id, CAST($1 AS TEXT), u.openid, u.unionid, u.session_key, u.created_at, u.last_login_at FROM users u
WHERE NOT EXISTS (SELECT 1 FROM identities i WHERE i.user_id = u.id)
ON CONFLICT DO NOTHING`

// legacySessionsSQL marks the sessions a single-app release opened as
// that app's.
const legacySessionsSQL = `UPDATE sessions SET appid = CAST($1 AS TEXT) WHERE appid = ''`

// migrateIdentities moves a single-app database to identities. appID is
// the app the old rows belong to; without it nothing moves (a command
// that does not know the app leaves it to the server's start-up).
func (db *DB) migrateIdentities(ctx context.Context, appID string) error {
	if appID == "" {
		return nil
	}
	tx, err := db.SQL.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate identities: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, legacyIdentitiesSQL, appID); err != nil {
		return fmt.Errorf("migrate identities from users: %w", err)
	}
	if _, err := tx.ExecContext(ctx, legacySessionsSQL, appID); err != nil {
		return fmt.Errorf("migrate sessions to app %s: %w", appID, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrate identities: %w", err)
	}
	return nil
}
