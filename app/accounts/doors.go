package accounts

import (
	"context"
	"fmt"

	"github.com/miniauth/miniauth/app/wechat"
	"github.com/miniauth/miniauth/ent/identity"
)

// Identity kinds: the door a person came in through. Each (appid,
// openid) is an identity of one kind; a unionid links them to one user.
const (
	KindMiniProgram = "miniprogram"
	KindOA          = "oa"  // an Official Account's (公众号) H5 pages
	KindApp         = "app" // an open platform mobile app
)

// Person is who WeChat said logged in through a door other than a mini
// program's wx.login: no session key comes with it.
type Person struct {
	Kind    string // KindOA or KindApp
	AppID   string
	OpenID  string
	UnionID string
}

// LoginPerson opens a session for a person WeChat vouched for through an
// Official Account or a mobile app. It finds or creates the user exactly
// as a mini program login does: the (appid, openid) identity, else the
// user with the unionid, else a new user; conflicts are recorded, never
// merged. The profile (from /sns/userinfo, validated) fills empty fields.
func (s *Service) LoginPerson(ctx context.Context, who Person, p Profile, c Client) (*Grant, error) {
	li := loginIdentity{AppID: who.AppID, Kind: who.Kind,
		Session: &wechat.Session{OpenID: who.OpenID, UnionID: who.UnionID}}
	return s.login(ctx, li, p, c, nil)
}

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
	if k, ok := doors[appID]; ok {
		return k
	}
	return KindMiniProgram
}
