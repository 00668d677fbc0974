package accounts

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"

	"github.com/miniauth/miniauth/ent"
)

// authenticateSQL finds the user of a live session in one indexed lookup.
// It is the one statement every authenticated request runs, so it is
// prepared once rather than built and parsed by Ent each time (which cost
// more than the rest of the request). It is portable: $n placeholders
// and plain SQL work on SQLite and PostgreSQL alike.
//
// SQLite numbers $n parameters in order of first appearance, not by n:
// keep their first appearances in increasing order.
//
// It reads what requests use (the API's user object, the openid for WeChat
// calls) and leaves out the rest: every timestamp costs a parse.
const authenticateSQL = `SELECT u.id, u.openid, u.unionid, u.nickname, u.avatar_url, u.gender, u.phone,
 u.phone_country_code, u.created_at, u.updated_at
FROM sessions s JOIN users u ON u.id = s.user_id
WHERE s.id = $1 AND u.id = $2 AND s.revoked_at IS NULL AND s.expires_at > $3 AND u.disabled = $4`

type preparedStmt struct {
	once sync.Once
	stmt *sql.Stmt
	err  error
}

func (p *preparedStmt) get(db *sql.DB, query string) (*sql.Stmt, error) {
	p.once.Do(func() { p.stmt, p.err = db.Prepare(query) })
	return p.stmt, p.err
}

// Authenticate checks that an access token's session is still live and
// its user enabled, and returns the user (without login_count and
// last_login_at, which no request needs). One indexed query per request is
// what makes logout and disabling take effect at once, on every instance.
func (s *Service) Authenticate(ctx context.Context, userID, sessionID int) (*ent.User, error) {
	stmt, err := s.authStmt.get(s.DB.ReadSQL, authenticateSQL)
	if err != nil {
		return nil, fmt.Errorf("prepare authenticate: %w", err)
	}
	var u ent.User
	var unionid sql.NullString
	err = stmt.QueryRowContext(ctx, sessionID, userID, s.Now.Now(), false).Scan(
		&u.ID, &u.Openid, &unionid, &u.Nickname, &u.AvatarURL, &u.Gender, &u.Phone,
		&u.PhoneCountryCode, &u.CreatedAt, &u.UpdatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errUnauthorized
	}
	if err != nil {
		return nil, fmt.Errorf("authenticate session %d: %w", sessionID, err)
	}
	if unionid.Valid {
		u.Unionid = &unionid.String
	}
	return &u, nil
}
