package profiles

import (
	"context"
	"fmt"

	"github.com/miniauth/miniauth/app/problem"
	"github.com/miniauth/miniauth/app/wechat"
	"github.com/miniauth/miniauth/ent"
	"github.com/miniauth/miniauth/ent/identity"
	"github.com/miniauth/miniauth/ent/session"
)

// sessionIdentity is the mini program a session belongs to and the
// user's identity there: its openid and latest sealed session key.
type sessionIdentity struct {
	App        *wechat.Client
	OpenID     string
	SessionKey []byte
}

// sessionAppID is the app a live session of userID was opened from
// (WebApp for a web sign-in); errUnauthorized when there is none.
func (s *Service) sessionAppID(ctx context.Context, userID, sessionID int) (string, error) {
	sess, err := s.DB.Read.Session.Query().Where(session.ID(sessionID), session.UserID(userID)).
		Select(session.FieldAppid).Only(ctx)
	if ent.IsNotFound(err) {
		return "", errUnauthorized
	}
	if err != nil {
		return "", fmt.Errorf("load session %d: %w", sessionID, err)
	}
	return sess.Appid, nil
}

// identityOfSession finds the app of a session and the user's identity
// in it: /api/me/phone and /api/wechat/decrypt act for that app.
func (s *Service) identityOfSession(ctx context.Context, userID, sessionID int) (*sessionIdentity, error) {
	appID, err := s.sessionAppID(ctx, userID, sessionID)
	if err != nil {
		return nil, err
	}
	return s.identityIn(ctx, userID, appID)
}

// identityIn is identityOfSession for a session opened from appID.
func (s *Service) identityIn(ctx context.Context, userID int, appID string) (*sessionIdentity, error) {
	if appID == WebApp {
		return nil, problem.New(problem.InvalidRequest, "this is a web session, which belongs to no mini program: call this from the mini program")
	}
	app, ok := s.MiniPrograms.Get(appID)
	if !ok {
		return nil, problem.New(problem.Unauthorized, "this session's mini program is no longer configured; log in again")
	}
	id, err := s.DB.Read.Identity.Query().Where(identity.UserID(userID), identity.Appid(app.AppID())).Only(ctx)
	if ent.IsNotFound(err) {
		return &sessionIdentity{App: app}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load identity of user %d: %w", userID, err)
	}
	out := &sessionIdentity{App: app, OpenID: id.Openid}
	if id.SessionKey != nil {
		out.SessionKey = *id.SessionKey
	}
	return out, nil
}
