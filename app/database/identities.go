package database

import (
	"context"
	"fmt"
)

// legacyIdentitiesSQL gives every user without an identity, among the
// users of one id range, one made from the openid, unionid and session key
// a single-app release kept on the user row. Idempotent: it runs on every
// start-up, so a database a single-app binary wrote to meanwhile is caught
// up too.
const legacyIdentitiesSQL = `INSERT INTO identities (user_id, appid, openid, unionid, session_key, created_at, last_login_at)
SELECT u.id, CAST($1 AS TEXT), u.openid, u.unionid, u.session_key, u.created_at, u.last_login_at FROM users u
WHERE u.id > $2 AND u.id <= $3 AND NOT EXISTS (SELECT 1 FROM identities i WHERE i.user_id = u.id)
ON CONFLICT DO NOTHING`

// usersWithoutIdentitySQL counts the users legacyIdentitiesSQL will give
// an identity, and the range of their ids.
const usersWithoutIdentitySQL = `SELECT COUNT(*), COALESCE(MIN(u.id), 0), COALESCE(MAX(u.id), 0) FROM users u
WHERE NOT EXISTS (SELECT 1 FROM identities i WHERE i.user_id = u.id)`

// legacySessionsSQL marks the sessions a single-app release opened as
// that app's.
const legacySessionsSQL = `UPDATE sessions SET appid = CAST($1 AS TEXT) WHERE appid = ''`

// identitiesChunk is how many user ids one transaction of the identities
// migration covers: a million users move in a few seconds either way,
// and in chunks the migration can tell how far it is, a crash keeps what
// was done, and other connections are not locked out for all of it.
const identitiesChunk = 20000

// migrateIdentities moves a single-app database to identities. appID is
// the app the old rows belong to; without it nothing moves (a command
// that does not know the app leaves it to the server's start-up).
func (db *DB) migrateIdentities(ctx context.Context, appID string) error {
	if appID == "" {
		return nil
	}
	var total, lo, hi int
	if err := db.SQL.QueryRowContext(ctx, usersWithoutIdentitySQL).Scan(&total, &lo, &hi); err != nil {
		return fmt.Errorf("migrate identities: count users without one: %w", err)
	}
	if total > 0 {
		p := newProgress(db.logger(), "identities of app "+appID+" for the users of a single-app release", total, db.pace.every)
		for from := lo - 1; from < hi; from += db.pace.chunk {
			res, err := db.SQL.ExecContext(ctx, legacyIdentitiesSQL, appID, from, from+db.pace.chunk)
			if err != nil {
				return fmt.Errorf("migrate identities from users: %w", err)
			}
			n, _ := res.RowsAffected()
			p.add(int(n))
		}
		p.finish()
	}
	if _, err := db.SQL.ExecContext(ctx, legacySessionsSQL, appID); err != nil {
		return fmt.Errorf("migrate sessions to app %s: %w", appID, err)
	}
	return nil
}
