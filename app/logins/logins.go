// Package logins is how a person gets a session: a mini program login
// (wx.login's code, or with the phone button), a login through an
// Official Account or a mobile app, a browser's web session, and
// refreshing tokens. It finds or creates the user and opens the
// session; the profile a login fills is app/profiles'.
package logins

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/miniauth/miniauth/app/clienttext"
	"github.com/miniauth/miniauth/app/clock"
	"github.com/miniauth/miniauth/app/database"
	"github.com/miniauth/miniauth/app/keys"
	"github.com/miniauth/miniauth/app/profiles"
	"github.com/miniauth/miniauth/app/sessions"
	"github.com/miniauth/miniauth/app/tokens"
	"github.com/miniauth/miniauth/app/wechat"
	"github.com/miniauth/miniauth/ent"
	"github.com/miniauth/miniauth/ent/refreshtoken"
	"github.com/miniauth/miniauth/ent/session"
	"github.com/miniauth/miniauth/ent/user"
)

// ReasonRefreshReuse is the revocation reason of a session whose rotated
// refresh token came back, kept on the session for the admin panel.
const ReasonRefreshReuse = "refresh_token_reuse"

// Service logs users in and opens their sessions.
type Service struct {
	DB *database.DB
	// MiniPrograms are the mini programs' WeChat clients (apps.go).
	MiniPrograms *wechat.Clients
	// Keys seals the WeChat session keys a login brings.
	Keys       *keys.Set
	Access     *tokens.Signer
	RefreshTTL time.Duration
	Log        *slog.Logger
	// Sessions checks, ends and purges sessions; every write here that
	// ends a session or changes a user runs in Sessions.Write and
	// declares it, so every instance's session cache follows.
	Sessions *sessions.Service
	Now      clock.Clock
	// Profiles is where a login's profile goes: its nickname's content
	// check, its avatar's owner, the phone number a phone login binds,
	// and the sign-up risk gate's settings (Profiles.Guard).
	Profiles *profiles.Service

	// afterRead, set by tests only (export_test.go), runs between a
	// login's read of its identity and its writes, where another
	// transaction may change it on PostgreSQL.
	afterRead func()
}

// Client describes the device a session (a user's or an admin's) was
// opened from.
type Client struct {
	IP        string
	UserAgent string
}

// Grant is what a login or refresh answers.
type Grant struct {
	AccessToken  string
	ExpiresIn    int
	RefreshToken string
	User         *ent.User
	IsNewUser    bool
}

var errUnauthorized = sessions.ErrUnauthorized

// Login exchanges a wx.login code of the mini program appID ("" with a
// single app) for a session. The profile, already validated, fills the
// user's empty fields.
func (s *Service) Login(ctx context.Context, appID, code string, p profiles.Profile, c Client) (*Grant, error) {
	li, err := s.code2Session(ctx, appID, code)
	if err != nil {
		return nil, err
	}
	if err := s.screenSignUp(ctx, &li, c.IP); err != nil {
		return nil, err
	}
	if err := s.checkLoginNickname(ctx, li, &p); err != nil {
		return nil, err
	}
	return s.login(ctx, li, p, c, nil)
}

// checkLoginNickname checks a login's nickname when it would be stored
// (a new user, or one without a nickname): risky refuses the login.
func (s *Service) checkLoginNickname(ctx context.Context, li loginIdentity, p *profiles.Profile) error {
	if check, err := s.nicknameToCheck(ctx, li, p); err != nil || !check {
		return err
	}
	app, err := s.PickMiniProgram(li.AppID)
	if err != nil {
		return err
	}
	return s.Profiles.CheckNickname(ctx, app, li.Session.OpenID, p)
}

// nicknameToCheck reports whether a login's nickname goes to the content
// check: there is a check, a nickname, and it would be stored (a new user,
// or one without a nickname). A returning user's set nickname is never
// changed by a login, so it is dropped from p unchecked.
func (s *Service) nicknameToCheck(ctx context.Context, li loginIdentity, p *profiles.Profile) (bool, error) {
	if s.Profiles.Content == nil || p.Nickname == nil {
		return false, nil
	}
	has, err := s.DB.Read.User.Query().Where(li.owner(), user.NicknameNEQ("")).Exist(ctx)
	if err != nil {
		return false, fmt.Errorf("find user of login: %w", err)
	}
	if has {
		p.Nickname = nil
		return false, nil
	}
	return true, nil
}

// code2Session is the WeChat half of a login.
func (s *Service) code2Session(ctx context.Context, appID, code string) (loginIdentity, error) {
	app, err := s.PickMiniProgram(appID)
	if err != nil {
		return loginIdentity{}, err
	}
	ws, err := app.Code2Session(ctx, code)
	if err != nil {
		if wechat.Misconfigured(err) {
			s.Log.Error("WeChat rejected our credentials: check the AppID and secret", "appid", app.AppID(), "err", err)
		} else {
			s.Log.Warn("code2session failed", "appid", app.AppID(), "err", err)
		}
		return loginIdentity{}, wechat.Problem(err)
	}
	return loginIdentity{AppID: app.AppID(), Session: ws, SealedKey: s.Keys.Seal([]byte(ws.SessionKey))}, nil
}

// login opens a session for a WeChat identity. extra, if set, runs in the
// same transaction once the user is known (phone-login binds the phone):
// its error undoes the whole login.
func (s *Service) login(ctx context.Context, li loginIdentity, p profiles.Profile, c Client,
	extra func(ctx context.Context, tx *ent.Client, u *ent.User, isNew bool) (*ent.User, error)) (*Grant, error) {
	var g Grant
	secret, secretHash := tokens.NewRefreshSecret()
	nonce := tokens.NewSessionNonce()
	var sessionID int
	var err error
	for attempt := 1; attempt <= loginAttempts; attempt++ {
		err = s.Sessions.Write(ctx, func(ctx context.Context, tx *ent.Client, ch *sessions.Changes) error {
			now := s.Now.Now()
			u, isNew, err := s.resolveUser(ctx, tx, li, p, now)
			if err != nil {
				return err
			}
			// A local avatar_url must be an upload of the user the login
			// resolved to (not of whoever else has the unionid: in a
			// recorded conflict that is another user). An error undoes
			// the whole login.
			if err := s.Profiles.CheckOwnAvatar(ctx, tx, p, user.ID(u.ID)); err != nil {
				return err
			}
			if extra != nil {
				if u, err = extra(ctx, tx, u, isNew); err != nil {
					return err
				}
			}
			if err := profiles.FlagNickname(ctx, tx, u, p, now); err != nil {
				return err
			}
			if !isNew && u.UpdatedAt.After(now.Add(-time.Second)) {
				// A returning login that filled the profile, attached a
				// unionid or bound a phone set updated_at: the user's
				// cached sessions must read it again. One that changed
				// none of that (the usual case) costs no notice. Within
				// the last second, not equal to now: the database may
				// round the stored time.
				ch.UserChanged(u.ID)
			}
			id, err := s.createSession(ctx, tx, u.ID, li.AppID, c, secretHash, nonce, now)
			if err != nil {
				return err
			}
			g.User, g.IsNewUser, sessionID = u, isNew, id
			return nil
		})
		if !errors.Is(err, errRaced) {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	return s.grant(&g, sessionID, nonce, li.AppID, secret)
}

// createSession is the one place a user's session is opened (a login of
// any kind, a web sign-in), inside the caller's transaction. nonce goes
// into the session and its access tokens (claim sno); secretHash is the
// hash of its refresh token's secret (tokens.NewRefreshSecret).
func (s *Service) createSession(ctx context.Context, tx *ent.Client, userID int, appID string, c Client, secretHash []byte, nonce string, now time.Time) (int, error) {
	var id int
	err := queryRow(ctx, tx, insertSessionSQL, []any{userID, appID, now, now.Add(s.RefreshTTL),
		c.IP, clienttext.Clip(c.UserAgent, 256), secretHash, nonce}, &id)
	if err != nil {
		return 0, fmt.Errorf("create session: %w", err)
	}
	return id, nil
}

// insertSessionSQL opens a session (see insertUserSQL). It leaves out
// revoked_at (a new session is live) and refresh_hash (the legacy form
// of refresh token).
const insertSessionSQL = `INSERT INTO sessions (
  user_id, appid, created_at, last_used_at, expires_at, revoke_reason, ip, user_agent, refresh_secret_hash, nonce
) VALUES ($1, $2, $3, $3, $4, '', $5, $6, $7, $8)
RETURNING id`

// grant signs the access token of a committed session, and names the
// session in its refresh token with the secret whose hash it keeps.
func (s *Service) grant(g *Grant, sessionID int, nonce, appID, refreshSecret string) (*Grant, error) {
	access, _, err := s.Access.SignWith(g.User.ID, sessionID, nonce, tokens.Extra{App: appID, Roles: profiles.Roles(g.User)})
	if err != nil {
		return nil, err
	}
	g.AccessToken, g.RefreshToken = access, tokens.RefreshToken(sessionID, refreshSecret)
	g.ExpiresIn = int(s.Access.TTL / time.Second)
	return g, nil
}

// Refresh rotates a refresh token. A token that was already rotated is
// evidence of theft: the whole session is revoked (OAuth 2.0 Security BCP,
// refresh token reuse detection).
func (s *Service) Refresh(ctx context.Context, token string, c Client) (*Grant, error) {
	if token == "" || len(token) > 128 {
		return nil, errUnauthorized
	}
	// A token names its session; a legacy one is found by its hash.
	namedID, hash, named := tokens.ParseRefreshToken(token)
	if !named {
		hash = tokens.LegacyRefreshHash(token)
	}
	next, nextHash := tokens.NewRefreshSecret()
	var g Grant
	var sessionID int
	var reused bool
	var appID, nonce string
	err := s.Sessions.Write(ctx, func(ctx context.Context, tx *ent.Client, ch *sessions.Changes) error {
		now := s.Now.Now()
		reused = false
		revoke := func(userID, id int) error {
			// Commit the revocation, then refuse: returning an error here
			// would roll it back.
			reused, sessionID = true, id
			ch.SessionEnded(userID, id)
			return tx.Session.UpdateOneID(id).SetRevokedAt(now).SetRevokeReason(ReasonRefreshReuse).Exec(ctx)
		}
		// current is the predicate that the token is its session's
		// current one, checked again by the rotating UPDATE.
		current := session.RefreshSecretHash(hash)
		var sess *ent.Session
		var err error
		if named {
			sess, err = tx.Session.Query().Where(session.ID(namedID)).WithUser().Only(ctx)
			if err == nil && (sess.RefreshSecretHash == nil || subtle.ConstantTimeCompare(*sess.RefreshSecretHash, hash) != 1) {
				err = errNotCurrent
			}
		} else {
			current = session.RefreshHash(hash)
			sess, err = tx.Session.Query().Where(current).WithUser().Only(ctx)
		}
		if ent.IsNotFound(err) || errors.Is(err, errNotCurrent) {
			// Not a current token. A rotated one is evidence of theft.
			rotated := tx.RefreshToken.Query().Where(refreshtoken.Hash(hash))
			if named {
				rotated.Where(refreshtoken.SessionID(namedID))
			}
			rt, err := rotated.WithSession().Only(ctx)
			if ent.IsNotFound(err) {
				return errUnauthorized
			}
			if err != nil {
				return fmt.Errorf("find rotated refresh token: %w", err)
			}
			if rt.Edges.Session.RevokedAt != nil {
				return errUnauthorized
			}
			return revoke(rt.Edges.Session.UserID, rt.SessionID)
		}
		if err != nil {
			return fmt.Errorf("find refresh token: %w", err)
		}
		if sess.RevokedAt != nil || !sess.ExpiresAt.After(now) || sess.Edges.User.Disabled {
			return errUnauthorized
		}
		// Rotate only if still current: on PostgreSQL concurrent refreshes
		// all read the same token, and an unconditional update would let
		// each of them fork the session. The row lock makes exactly one
		// win; the others are reuse. Sessions slide: each refresh extends
		// them by the refresh TTL. A legacy session moves to the current
		// form of token here.
		update := tx.Session.Update().Where(session.ID(sess.ID), current).
			SetRefreshSecretHash(nextHash).ClearRefreshHash().
			SetLastUsedAt(now).SetExpiresAt(now.Add(s.RefreshTTL))
		if c.IP != "" {
			update.SetIP(c.IP)
		}
		nonce = sess.Nonce
		if nonce == "" { // a session from before nonces: it gets one now
			nonce = tokens.NewSessionNonce()
			update.SetNonce(nonce)
		}
		n, err := update.Save(ctx)
		if err != nil {
			return fmt.Errorf("rotate refresh token: %w", err)
		}
		if n == 0 {
			return revoke(sess.UserID, sess.ID)
		}
		// Keep the rotated token's hash, to recognise it if it comes back.
		if err := tx.RefreshToken.Create().SetHash(hash).SetSessionID(sess.ID).SetCreatedAt(sess.LastUsedAt).SetRotatedAt(now).Exec(ctx); err != nil {
			return fmt.Errorf("keep rotated refresh token: %w", err)
		}
		g.User, sessionID, appID = sess.Edges.User, sess.ID, sess.Appid
		return nil
	})
	if err != nil {
		return nil, err
	}
	if reused {
		s.Log.Warn("refresh token reused: session revoked", "session_id", sessionID)
		return nil, errUnauthorized
	}
	return s.grant(&g, sessionID, nonce, appID, next)
}

// errNotCurrent: the session a refresh token names has another current
// token.
var errNotCurrent = errors.New("not the session's current refresh token")
