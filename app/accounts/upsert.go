package accounts

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/miniauth/miniauth/app/database"
	"github.com/miniauth/miniauth/app/problem"
	"github.com/miniauth/miniauth/app/wechat"
	"github.com/miniauth/miniauth/ent"
)

// upsertUserSQL creates or updates the user of a login in one statement
// and returns the row. It is written by hand because Ent's upsert cannot
// return the row, and a second query per login was a fifth of the
// single writer's time. A disabled user is left untouched and no row
// comes back. Portable: SQLite ≥ 3.35 and PostgreSQL both take it.
// SQLite numbers $n parameters in order of first appearance, not by n:
// keep their first appearances in increasing order.
const upsertUserSQL = `INSERT INTO users (openid, unionid, nickname, avatar_url, gender, phone, phone_country_code,
  disabled, session_key, login_count, last_login_at, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, '', '', $6, $7, 1, $8, $8, $8)
ON CONFLICT (openid) DO UPDATE SET
  session_key = excluded.session_key,
  login_count = users.login_count + 1,
  last_login_at = excluded.last_login_at,
  unionid = COALESCE(excluded.unionid, users.unionid),
  nickname = CASE WHEN $9 THEN excluded.nickname ELSE users.nickname END,
  avatar_url = CASE WHEN $10 THEN excluded.avatar_url ELSE users.avatar_url END,
  gender = CASE WHEN $11 THEN excluded.gender ELSE users.gender END,
  updated_at = CASE WHEN $12 THEN excluded.updated_at ELSE users.updated_at END
WHERE users.disabled = $6
RETURNING id, openid, unionid, nickname, avatar_url, gender, phone, phone_country_code, login_count,
  last_login_at, created_at, updated_at`

var errDisabled = problem.New(problem.UserDisabled, "this account has been disabled")

// upsertUser is the user half of a login.
func upsertUser(ctx context.Context, tx *ent.Client, ws *wechat.Session, sealedKey []byte, p Profile, now time.Time) (*ent.User, error) {
	unionid := sql.NullString{String: ws.UnionID, Valid: ws.UnionID != ""}
	nickname, avatarURL, gender := "", "", 0
	if p.Nickname != nil {
		nickname = *p.Nickname
	}
	if p.AvatarURL != nil {
		avatarURL = *p.AvatarURL
	}
	if p.Gender != nil {
		gender = *p.Gender
	}
	rows, err := tx.QueryContext(ctx, upsertUserSQL,
		ws.OpenID, unionid, nickname, avatarURL, gender, false, sealedKey, now,
		p.Nickname != nil, p.AvatarURL != nil, p.Gender != nil, !p.Empty())
	if err != nil {
		return nil, fmt.Errorf("upsert user: %w", err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("upsert user: %w", err)
		}
		return nil, errDisabled
	}
	var u ent.User
	var union sql.NullString
	var lastLogin, created, updated database.Time
	if err := rows.Scan(&u.ID, &u.Openid, &union, &u.Nickname, &u.AvatarURL, &u.Gender, &u.Phone,
		&u.PhoneCountryCode, &u.LoginCount, &lastLogin, &created, &updated); err != nil {
		return nil, fmt.Errorf("read upserted user: %w", err)
	}
	if union.Valid {
		u.Unionid = &union.String
	}
	if !lastLogin.IsZero() {
		u.LastLoginAt = &lastLogin.Time
	}
	u.CreatedAt, u.UpdatedAt = created.Time, updated.Time
	if err := rows.Close(); err != nil {
		return nil, fmt.Errorf("upsert user: %w", err)
	}
	return &u, nil
}
