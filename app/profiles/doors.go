package profiles

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/miniauth/miniauth/app/wechat"
	"github.com/miniauth/miniauth/ent/identity"
	"github.com/miniauth/miniauth/ent/predicate"
	"github.com/miniauth/miniauth/ent/user"
)

// Identity kinds: the door a person came in through. Each (appid,
// openid) is an identity of one kind; a unionid links them to one user.
const (
	KindMiniProgram = "miniprogram"
	KindOA          = "oa"  // an Official Account's (公众号) H5 pages
	KindApp         = "app" // an open platform mobile app
)

// WebApp is the app of a session a browser opened by scanning a mini
// program code (app/weblogin): what the session list and the admin panel
// show for it, and its tokens' app claim.
const WebApp = "web"

// KindWeb is the door of a web session in the session list ("via").
const KindWeb = "web"

// Doors maps each appid the user has an identity of to that identity's
// kind, so that a session (which knows its appid) can say which door it
// came through.
func (s *Service) Doors(ctx context.Context, userID int) (map[string]string, error) {
	ids, err := s.DB.Read.Identity.Query().Where(identity.UserID(userID)).
		Select(identity.FieldAppid, identity.FieldKind).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("list identities of user %d: %w", userID, err)
	}
	out := make(map[string]string, len(ids))
	for _, id := range ids {
		out[id.Appid] = id.Kind
	}
	return out, nil
}

// doorOf is the kind of door a session of appid came through.
func doorOf(doors map[string]string, appID string) string {
	if appID == WebApp {
		return KindWeb // a browser that scanned a mini program code (websession.go)
	}
	if k, ok := doors[appID]; ok {
		return k
	}
	return KindMiniProgram
}

// MiniProgramIdentity is the most recently used identity, of a configured
// mini program, of the users owner selects: what msgSecCheck needs (nil
// app: there is none).
func (s *Service) MiniProgramIdentity(ctx context.Context, owner predicate.User) (*wechat.Client, string, error) {
	ids, err := s.DB.Read.Identity.Query().
		Where(identity.HasUserWith(owner), identity.Kind(KindMiniProgram)).
		Select(identity.FieldAppid, identity.FieldOpenid, identity.FieldLastLoginAt).All(ctx)
	if err != nil {
		return nil, "", fmt.Errorf("find mini program identities: %w", err)
	}
	var app *wechat.Client
	var openid string
	var last time.Time
	for _, id := range ids {
		c, ok := s.MiniPrograms.Get(id.Appid)
		if !ok {
			continue
		}
		var at time.Time
		if id.LastLoginAt != nil {
			at = *id.LastLoginAt
		}
		if app == nil || at.After(last) {
			app, openid, last = c, id.Openid, at
		}
	}
	return app, openid, nil
}

// checkProfileNickname checks a nickname PUT /api/me is about to store.
// A mini program session checks it with its own openid; a session of
// another door (an Official Account, an app, a web sign-in) with the
// user's most recently used mini program identity, and without one the
// check cannot be made (listed for review, or 502 failing closed).
func (s *Service) checkProfileNickname(ctx context.Context, userID, sessionID int, nickname string) (*reviewFlag, error) {
	appID, err := s.sessionAppID(ctx, userID, sessionID)
	if err != nil {
		return nil, err
	}
	otherDoor := appID == WebApp
	if !otherDoor {
		if _, ok := s.MiniPrograms.Get(appID); !ok {
			otherDoor, err = s.DB.Read.Identity.Query().Where(identity.UserID(userID), identity.Appid(appID),
				identity.KindNEQ(KindMiniProgram)).Exist(ctx)
			if err != nil {
				return nil, fmt.Errorf("find identity of session %d: %w", sessionID, err)
			}
		}
	}
	if !otherDoor {
		id, err := s.identityIn(ctx, userID, appID)
		if err != nil {
			return nil, err
		}
		return s.checkNickname(ctx, id.App, id.OpenID, nickname)
	}
	app, openid, err := s.MiniProgramIdentity(ctx, user.ID(userID))
	if err != nil {
		return nil, err
	}
	if app == nil {
		return s.uncheckedNickname(errors.New("the user has no mini program identity to check a nickname with"))
	}
	return s.checkNickname(ctx, app, openid, nickname)
}
