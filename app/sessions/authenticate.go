package sessions

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/miniauth/miniauth/app/sessioncache"
	"github.com/miniauth/miniauth/ent"
)

// authenticateSQL finds the user of a live session in one indexed lookup.
// It is the one statement an authenticated request runs when the session
// is not cached, so it is prepared once rather than built and parsed by
// Ent each time. It is portable: $n placeholders and plain SQL work on
// SQLite and PostgreSQL alike.
//
// SQLite numbers $n parameters in order of first appearance, not by n:
// keep their first appearances in increasing order.
//
// It reads what requests use (the API's user object, the openid for WeChat
// calls, the session's end for the cache) and leaves out the rest.
const authenticateSQL = `SELECT u.id, u.openid, u.unionid, u.nickname, u.avatar_url, u.gender, u.phone,
 u.phone_country_code, u.created_at, u.updated_at, u.roles, s.expires_at
FROM sessions s JOIN users u ON u.id = s.user_id
WHERE s.id = $1 AND u.id = $2 AND s.revoked_at IS NULL AND s.expires_at > $3 AND u.disabled = $4 AND s.nonce = $5`

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
// last_login_at, which no request needs). The answer comes from the
// session cache when it holds the session; every write that ends a
// session or changes a user forgets it there before answering (and tells
// other instances), so logout and disabling still take effect at once.
// nonce is the token's session nonce: a session with the same id but
// another nonce (ids reused after a restore) is not the token's.
func (s *Service) Authenticate(ctx context.Context, userID, sessionID int, nonce string) (*ent.User, error) {
	if cu := s.Cache.Get(userID, sessionID, nonce); cu != nil {
		return entUser(cu), nil
	}
	// The ticket comes before the read: if a write forgets this user
	// between the two, Fill stores nothing.
	ticket := s.Cache.Ticket(userID)
	cu, expires, err := s.loadSession(ctx, userID, sessionID, nonce)
	if err != nil {
		return nil, err
	}
	s.Cache.Fill(ticket, sessionID, nonce, expires, cu)
	return entUser(cu), nil
}

func (s *Service) loadSession(ctx context.Context, userID, sessionID int, nonce string) (*sessioncache.User, time.Time, error) {
	stmt, err := s.authStmt.get(s.DB.ReadSQL, authenticateSQL)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("prepare authenticate: %w", err)
	}
	var u sessioncache.User
	var unionid sql.NullString
	var expires time.Time
	err = stmt.QueryRowContext(ctx, sessionID, userID, s.Now.Now(), false, nonce).Scan(
		&u.ID, &u.Openid, &unionid, &u.Nickname, &u.AvatarURL, &u.Gender, &u.Phone,
		&u.PhoneCountryCode, &u.CreatedAt, &u.UpdatedAt, &u.Roles, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, time.Time{}, ErrUnauthorized
	}
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("authenticate session %d: %w", sessionID, err)
	}
	if unionid.Valid {
		u.Unionid = &unionid.String
	}
	return &u, expires, nil
}

// entUser is a fresh copy: handlers may keep or change what they get
// without touching the cache.
func entUser(cu *sessioncache.User) *ent.User {
	return &ent.User{
		ID: cu.ID, Openid: cu.Openid, Unionid: cu.Unionid, Nickname: cu.Nickname, AvatarURL: cu.AvatarURL,
		Gender: cu.Gender, Phone: cu.Phone, PhoneCountryCode: cu.PhoneCountryCode,
		CreatedAt: cu.CreatedAt, UpdatedAt: cu.UpdatedAt, Roles: cu.Roles,
	}
}

// cacheUser is the cache's view of a user a write returned.
func cacheUser(u *ent.User) *sessioncache.User {
	return &sessioncache.User{
		ID: u.ID, Openid: u.Openid, Unionid: u.Unionid, Nickname: u.Nickname, AvatarURL: u.AvatarURL,
		Gender: u.Gender, Phone: u.Phone, PhoneCountryCode: u.PhoneCountryCode,
		CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt, Roles: u.Roles,
	}
}
