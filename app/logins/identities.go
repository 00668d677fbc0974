package logins

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"entgo.io/ent/dialect/sql/sqlgraph"

	"github.com/miniauth/miniauth/app/database"
	"github.com/miniauth/miniauth/app/problem"
	"github.com/miniauth/miniauth/app/profiles"
	"github.com/miniauth/miniauth/app/wechat"
	"github.com/miniauth/miniauth/ent"
	"github.com/miniauth/miniauth/ent/identity"
	"github.com/miniauth/miniauth/ent/identityconflict"
	"github.com/miniauth/miniauth/ent/predicate"
	"github.com/miniauth/miniauth/ent/user"
)

// A login finds its user in this order: the (appid, openid) identity;
// else the user with the login's unionid (the new identity joins them:
// one account across the mini programs); else a new user. A unionid that
// arrives later for an identity attaches to its user, unless another user
// has it already: then nothing is merged, the login goes on as the
// identity's own user and the conflict is recorded for the admin.

var errDisabled = problem.New(problem.UserDisabled, "this account has been disabled")

// errRaced means a concurrent transaction wrote a row this login read or
// was about to write, on PostgreSQL: the same first login twice, first
// logins from two apps sharing a unionid, or the identity's user deleted
// since the read. The login runs again and reads what is there now.
var errRaced = errors.New("concurrent login")

// loginAttempts bounds the reruns after errRaced.
const loginAttempts = 3

// findIdentitySQL is a login's one lookup: always one row, with the
// identity and its user when they exist (indexed joins), and otherwise
// whether a user already has the openid as users.openid (firstLogin). A
// first login used to ask that in a statement of its own. Arguments:
// openid, appid.
//
// The arguments enter once, as the columns of k, and the joins compare
// columns: SQLite re-prepares a statement at every run when a join's ON
// clause compares an argument with a constant row's column, as
// "FROM (SELECT 1) LEFT JOIN identities i ON i.openid = $1" did (a tenth
// of a login's CPU). TestLoginStatementsStayPrepared checks it.
const findIdentitySQL = `SELECT i.id, i.unionid, u.id, u.unionid, u.disabled,
  CASE WHEN i.id IS NULL THEN EXISTS (SELECT 1 FROM users WHERE openid = k.openid) ELSE FALSE END
FROM (SELECT CAST($1 AS TEXT) AS openid, CAST($2 AS TEXT) AS appid) AS k
LEFT JOIN identities i ON i.openid = k.openid AND i.appid = k.appid
LEFT JOIN users u ON u.id = i.user_id`

// returningLoginSQL counts a login and fills the user's empty profile
// fields from the login's: changing a set field is PUT /api/me's job, so
// a login that sends the WeChat nickname every time does not undo the
// user's edit. SET expressions see the old row on both databases.
// SQLite numbers $n by first appearance: keep them in increasing order.
const returningLoginSQL = `UPDATE users SET
  login_count = login_count + 1,
  last_login_at = $1,
  nickname = CASE WHEN $2 AND nickname = '' THEN $3 ELSE nickname END,
  avatar_url = CASE WHEN $4 AND avatar_url = '' THEN $5 ELSE avatar_url END,
  gender = CASE WHEN $6 AND gender = 0 THEN $7 ELSE gender END,
  updated_at = CASE WHEN ($2 AND nickname = '') OR ($4 AND avatar_url = '') OR ($6 AND gender = 0) THEN $1 ELSE updated_at END
WHERE id = $8 AND disabled = $9
RETURNING id, openid, unionid, nickname, avatar_url, gender, phone, phone_country_code, login_count,
  last_login_at, created_at, updated_at, roles`

// A login's inserts are written out rather than built by Ent: building
// them was about a tenth of a login's CPU (docs/benchmarks.md). Columns
// left out are NULL or their schema default; columns_test.go holds each
// list to the schema. SQLite numbers $n by first appearance: keep them in
// increasing order.

// insertUserSQL creates a first login's user.
const insertUserSQL = `INSERT INTO users (
  openid, unionid, nickname, avatar_url, gender, phone, phone_country_code, disabled, roles,
  login_count, risk_rank, risk_flagged, last_login_at, created_at, updated_at
) VALUES ($1, $2, $3, $4, $5, '', '', FALSE, '', 1, $6, $7, $8, $8, $8)
RETURNING id`

// insertIdentitySQL records a first login's identity.
const insertIdentitySQL = `INSERT INTO identities (
  user_id, appid, openid, kind, unionid, session_key, created_at, last_login_at
) VALUES ($1, $2, $3, $4, $5, $6, $7, $7)`

// loginIdentity is who a login is, as code2Session said.
type loginIdentity struct {
	AppID string
	// Kind is the identity's door (profiles.KindMiniProgram when empty).
	Kind      string
	Session   *wechat.Session
	SealedKey []byte // nil: the door has no session key (Official Accounts, apps)
	// RiskRank and RiskFlagged are what the sign-up risk gate found
	// (risk.go); a new user keeps them.
	RiskRank    *int
	RiskFlagged bool
}

// kind is the identity kind a login records.
func (li loginIdentity) kind() string {
	if li.Kind == "" {
		return profiles.KindMiniProgram
	}
	return li.Kind
}

// owner selects the users this identity may log in as: the holder of
// the (appid, openid) identity or of the unionid (two of them in a
// recorded conflict, so use it for Exist, never Only).
func (li loginIdentity) owner() predicate.User {
	own := user.HasIdentitiesWith(identity.Appid(li.AppID), identity.Openid(li.Session.OpenID))
	if li.Session.UnionID == "" {
		return own
	}
	return user.Or(own, user.Unionid(li.Session.UnionID))
}

// identityRow is what findIdentitySQL says of a login's identity.
type identityRow struct {
	identID, userID       sql.NullInt64
	identUnion, userUnion sql.NullString
	disabled              sql.NullBool
	openidTaken           bool
}

// findIdentity reads what findIdentitySQL says of li's identity in the
// login's transaction.
func findIdentity(ctx context.Context, c *ent.Client, li loginIdentity) (*identityRow, error) {
	var r identityRow
	err := queryRow(ctx, c, findIdentitySQL, []any{li.Session.OpenID, li.AppID},
		&r.identID, &r.identUnion, &r.userID, &r.userUnion, &r.disabled, &r.openidTaken)
	if err != nil {
		return nil, fmt.Errorf("find identity: %w", err)
	}
	return &r, nil
}

// resolveUser is the user half of a login, inside the login's
// transaction: it finds or creates the user and identity, records the
// session key, and reports whether the user is new.
//
// The identity is read here, on the writer, and not before on a reader:
// a reader's page cache starts cold after every commit (SQLite drops it
// when the WAL has changed), the writer's stays warm (docs/benchmarks.md). On PostgreSQL another
// transaction may still change the identity between this read and the
// writes; they check it (errRaced).
func (s *Service) resolveUser(ctx context.Context, tx *ent.Client, li loginIdentity, p profiles.Profile, now time.Time) (*ent.User, bool, error) {
	r, err := findIdentity(ctx, tx, li)
	if err != nil {
		return nil, false, err
	}
	if s.afterRead != nil {
		s.afterRead()
	}
	switch {
	case !r.identID.Valid:
		return s.firstLogin(ctx, tx, li, p, r.openidTaken, now)
	case r.disabled.Bool:
		return nil, false, errDisabled
	}
	u, err := s.returningIdentity(ctx, tx, li, p, r, now)
	return u, false, err
}

// returningIdentity is the login of a known identity: it records the
// login (and a new session key or unionid) and counts the user's login.
func (s *Service) returningIdentity(ctx context.Context, tx *ent.Client, li loginIdentity, p profiles.Profile, r *identityRow, now time.Time) (*ent.User, error) {
	ws := li.Session
	identID, userID := int(r.identID.Int64), int(r.userID.Int64)
	var err error
	// Bulk form: one UPDATE, without Ent's read-back; its count says
	// whether the identity is still the user's (on PostgreSQL another
	// transaction may have moved it since the read).
	update := tx.Identity.Update().Where(identity.ID(identID), identity.UserID(userID)).SetLastLoginAt(now)
	if li.SealedKey != nil {
		update.SetSessionKey(li.SealedKey)
	}
	if ws.UnionID != "" && r.identUnion.String != ws.UnionID {
		update.SetUnionid(ws.UnionID)
		if !r.userUnion.Valid {
			err = s.attachUnionID(ctx, tx, userID, li, now)
		} else if r.userUnion.String != ws.UnionID {
			err = s.recordConflict(ctx, tx, userID, li, now)
		}
		if err != nil {
			return nil, err
		}
	}
	n, err := update.Save(ctx)
	if err != nil {
		return nil, fmt.Errorf("update identity %d: %w", identID, err)
	}
	if n == 0 {
		return nil, errRaced
	}
	return returningLogin(ctx, tx, userID, p, now)
}

// firstLogin is a login of an identity seen for the first time: it joins
// the user with its unionid, or starts a new user.
// openidTaken says whether a user already has the identity's openid as
// users.openid (findIdentitySQL).
func (s *Service) firstLogin(ctx context.Context, tx *ent.Client, li loginIdentity, p profiles.Profile, openidTaken bool, now time.Time) (*ent.User, bool, error) {
	ws := li.Session
	if ws.UnionID != "" {
		owner, err := tx.User.Query().Where(user.Unionid(ws.UnionID)).Select(user.FieldID, user.FieldDisabled).Only(ctx)
		switch {
		case err == nil && owner.Disabled:
			return nil, false, errDisabled
		case err == nil:
			if err := createIdentity(ctx, tx, owner.ID, li, now); err != nil {
				return nil, false, err
			}
			u, err := returningLogin(ctx, tx, owner.ID, p, now)
			return u, false, err
		case !ent.IsNotFound(err):
			return nil, false, fmt.Errorf("find user by unionid: %w", err)
		}
	}
	// users.openid is the openid the user was created with (unique, from
	// the single-app schema). Openids of two apps never coincide in
	// WeChat; should they, the app id keeps the column unique.
	openid := ws.OpenID
	if openidTaken {
		openid = li.AppID + ":" + openid
	}
	u := &ent.User{Openid: openid, LoginCount: 1, LastLoginAt: &now, CreatedAt: now, UpdatedAt: now,
		RiskRank: li.RiskRank, RiskFlagged: li.RiskFlagged}
	if ws.UnionID != "" {
		u.Unionid = &ws.UnionID
	}
	if p.Nickname != nil {
		u.Nickname = *p.Nickname
	}
	if p.AvatarURL != nil {
		u.AvatarURL = *p.AvatarURL
	}
	if p.Gender != nil {
		u.Gender = *p.Gender
	}
	err := queryRow(ctx, tx, insertUserSQL, []any{u.Openid, nullString(ws.UnionID), u.Nickname, u.AvatarURL, u.Gender,
		nullInt(u.RiskRank), u.RiskFlagged, now}, &u.ID)
	if sqlgraph.IsUniqueConstraintError(err) {
		return nil, false, errRaced
	}
	if err != nil {
		return nil, false, fmt.Errorf("create user: %w", err)
	}
	if err := createIdentity(ctx, tx, u.ID, li, now); err != nil {
		return nil, false, err
	}
	return u, true, nil
}

func createIdentity(ctx context.Context, tx *ent.Client, userID int, li loginIdentity, now time.Time) error {
	_, err := tx.ExecContext(ctx, insertIdentitySQL, userID, li.AppID, li.Session.OpenID, li.kind(),
		nullString(li.Session.UnionID), li.SealedKey, now)
	if sqlgraph.IsUniqueConstraintError(err) {
		return errRaced
	}
	if err != nil {
		return fmt.Errorf("create identity: %w", err)
	}
	return nil
}

// attachUnionID gives a user without a unionid the one their identity
// just brought, unless another user has it.
func (s *Service) attachUnionID(ctx context.Context, tx *ent.Client, userID int, li loginIdentity, now time.Time) error {
	taken, err := tx.User.Query().Where(user.Unionid(li.Session.UnionID), user.IDNEQ(userID)).Exist(ctx)
	if err != nil {
		return fmt.Errorf("find user by unionid: %w", err)
	}
	if taken {
		return s.recordConflict(ctx, tx, userID, li, now)
	}
	err = tx.User.Update().Where(user.ID(userID)).SetUnionid(li.Session.UnionID).SetUpdatedAt(now).Exec(ctx)
	if ent.IsConstraintError(err) {
		return errRaced
	}
	if err != nil {
		return fmt.Errorf("attach unionid to user %d: %w", userID, err)
	}
	return nil
}

// recordConflict notes, once per identity and unionid, that the unionid
// an identity of userID brought belongs to another user.
func (s *Service) recordConflict(ctx context.Context, tx *ent.Client, userID int, li loginIdentity, now time.Time) error {
	ws := li.Session
	other, err := tx.User.Query().Where(user.Unionid(ws.UnionID), user.IDNEQ(userID)).OnlyID(ctx)
	if ent.IsNotFound(err) {
		return nil // the user has another unionid and nobody has this one: nothing to tell
	}
	if err != nil {
		return fmt.Errorf("find user by unionid: %w", err)
	}
	seen, err := tx.IdentityConflict.Query().Where(identityconflict.Appid(li.AppID), identityconflict.Openid(ws.OpenID),
		identityconflict.Unionid(ws.UnionID)).Exist(ctx)
	if err != nil || seen {
		return err
	}
	s.Log.Warn("unionid conflict: the login goes on as the identity's own user; nothing merged",
		"user_id", userID, "other_user_id", other, "appid", li.AppID)
	err = tx.IdentityConflict.Create().SetUserID(userID).SetOtherUserID(other).SetAppid(li.AppID).
		SetOpenid(ws.OpenID).SetUnionid(ws.UnionID).SetCreatedAt(now).Exec(ctx)
	if ent.IsConstraintError(err) {
		return errRaced
	}
	if err != nil {
		return fmt.Errorf("record unionid conflict: %w", err)
	}
	return nil
}

// returningLogin counts the login of an existing user and returns them.
func returningLogin(ctx context.Context, tx *ent.Client, userID int, p profiles.Profile, now time.Time) (*ent.User, error) {
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
	rows, err := tx.QueryContext(ctx, returningLoginSQL, now, p.Nickname != nil, nickname,
		p.AvatarURL != nil, avatarURL, p.Gender != nil, gender, userID, false)
	if err != nil {
		return nil, fmt.Errorf("count login of user %d: %w", userID, err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("count login of user %d: %w", userID, err)
		}
		return nil, errDisabled
	}
	var u ent.User
	var union sql.NullString
	var lastLogin, created, updated database.Time
	if err := rows.Scan(&u.ID, &u.Openid, &union, &u.Nickname, &u.AvatarURL, &u.Gender, &u.Phone,
		&u.PhoneCountryCode, &u.LoginCount, &lastLogin, &created, &updated, &u.Roles); err != nil {
		return nil, fmt.Errorf("read user %d: %w", userID, err)
	}
	if union.Valid {
		u.Unionid = &union.String
	}
	if !lastLogin.IsZero() {
		u.LastLoginAt = &lastLogin.Time
	}
	u.CreatedAt, u.UpdatedAt = created.Time, updated.Time
	return &u, rows.Close()
}

// nullString is s, or NULL when empty.
func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// nullInt is *n, or NULL.
func nullInt(n *int) any {
	if n == nil {
		return nil
	}
	return *n
}

// queryRow is QueryRow for an Ent transaction client: sql.ErrNoRows when
// nothing comes back.
func queryRow(ctx context.Context, tx *ent.Client, query string, args []any, dest ...any) error {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return err
		}
		return sql.ErrNoRows
	}
	if err := rows.Scan(dest...); err != nil {
		return err
	}
	return rows.Close()
}
