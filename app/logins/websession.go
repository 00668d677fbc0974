package logins

import (
	"context"
	"fmt"

	"github.com/miniauth/miniauth/app/problem"
	"github.com/miniauth/miniauth/app/profiles"
	"github.com/miniauth/miniauth/app/tokens"
	"github.com/miniauth/miniauth/ent"
	"github.com/miniauth/miniauth/ent/session"
	"github.com/miniauth/miniauth/ent/user"
)

// WebSession is a web session opened inside a transaction that has not
// committed yet; Grant makes its tokens once it has.
type WebSession struct {
	user          *ent.User
	sessionID     int
	nonce         string
	refreshSecret string
}

// OpenWebSession opens a session of userID for a browser, inside tx, the
// way a login opens one (createSession): a sign-in the user confirmed in
// the mini program. A disabled user gets none (user_disabled); a user
// who is gone, none either (not_found).
func (s *Service) OpenWebSession(ctx context.Context, tx *ent.Client, userID int, c Client) (*WebSession, error) {
	u, err := tx.User.Query().Where(user.ID(userID)).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, problem.New(problem.NotFound, "the user who confirmed this sign-in is gone")
	}
	if err != nil {
		return nil, fmt.Errorf("load user %d: %w", userID, err)
	}
	if u.Disabled {
		return nil, errDisabled
	}
	secret, hash := tokens.NewRefreshSecret()
	nonce := tokens.NewSessionNonce()
	id, err := s.createSession(ctx, tx, userID, profiles.WebApp, c, hash, nonce, s.Now.Now())
	if err != nil {
		return nil, err
	}
	return &WebSession{user: u, sessionID: id, nonce: nonce, refreshSecret: secret}, nil
}

// Grant is the login answer of a committed web session.
func (w *WebSession) Grant(s *Service) (*Grant, error) {
	return s.grant(&Grant{User: w.user}, w.sessionID, w.nonce, profiles.WebApp, w.refreshSecret)
}

// IsWebSession reports whether sessionID was opened by a web sign-in: such
// a session cannot confirm another one (a stolen browser session must not
// breed more).
func (s *Service) IsWebSession(ctx context.Context, tx *ent.Client, sessionID int) (bool, error) {
	app, err := tx.Session.Query().Where(session.ID(sessionID)).Select(session.FieldAppid).String(ctx)
	if ent.IsNotFound(err) {
		return false, errUnauthorized
	}
	if err != nil {
		return false, fmt.Errorf("load session %d: %w", sessionID, err)
	}
	return app == profiles.WebApp, nil
}

// CheckEnabled refuses a user who is gone (unauthorized) or disabled
// (user_disabled), as seen inside tx.
func (s *Service) CheckEnabled(ctx context.Context, tx *ent.Client, userID int) error {
	u, err := tx.User.Query().Where(user.ID(userID)).Select(user.FieldDisabled).Only(ctx)
	if ent.IsNotFound(err) {
		return errUnauthorized
	}
	if err != nil {
		return fmt.Errorf("load user %d: %w", userID, err)
	}
	if u.Disabled {
		return errDisabled
	}
	return nil
}
