package logins

import (
	"context"

	"github.com/miniauth/miniauth/app/profiles"
	"github.com/miniauth/miniauth/app/wechat"
)

// Person is who WeChat said logged in through a door other than a mini
// program's wx.login: no session key comes with it.
type Person struct {
	Kind    string // profiles.KindOA or profiles.KindApp
	AppID   string
	OpenID  string
	UnionID string
}

// LoginPerson opens a session for a person WeChat vouched for through an
// Official Account or a mobile app. It finds or creates the user exactly
// as a mini program login does: the (appid, openid) identity, else the
// user with the unionid, else a new user; conflicts are recorded, never
// merged. The profile (from /sns/userinfo, validated) fills empty fields;
// its nickname passes the content check first, as a mini program login's
// does: risky refuses the login (422 content_rejected).
func (s *Service) LoginPerson(ctx context.Context, who Person, p profiles.Profile, c Client) (*Grant, error) {
	li := loginIdentity{AppID: who.AppID, Kind: who.Kind,
		Session: &wechat.Session{OpenID: who.OpenID, UnionID: who.UnionID}}
	if err := s.checkPersonNickname(ctx, li, &p); err != nil {
		return nil, err
	}
	return s.login(ctx, li, p, c, nil)
}

// checkPersonNickname checks a nickname from WeChat's userinfo when it
// would be stored (a new user, or one without a nickname), with the rules
// of checkLoginNickname. msgSecCheck is a mini program API: it needs a
// configured mini program and the person's openid there (WeChat also wants
// them to have used it in the last 2 hours), so the check is made with
// the user's most recently used mini program identity. A person without
// one (new, or known only through Official Accounts and apps) cannot be
// checked: the nickname is stored and listed for review, or, when the
// check fails closed, left out. Refusing that login instead would shut
// the person out for good: WeChat, not they, chose the nickname.
func (s *Service) checkPersonNickname(ctx context.Context, li loginIdentity, p *profiles.Profile) error {
	if check, err := s.nicknameToCheck(ctx, li, p); err != nil || !check {
		return err
	}
	app, openid, err := s.Profiles.MiniProgramIdentity(ctx, li.owner())
	if err != nil {
		return err
	}
	if app == nil {
		if s.Profiles.Content.FailClosed {
			s.Log.Info("nickname from WeChat left out: no mini program identity to check it with (MINIAUTH_CONTENT_CHECK_FAIL=closed)",
				"appid", li.AppID, "door", li.Kind)
			p.Nickname = nil
			return nil
		}
		s.Log.Info("nickname from WeChat not checked: no mini program identity to check it with; stored for review",
			"appid", li.AppID, "door", li.Kind)
		p.MarkUnchecked()
		return nil
	}
	return s.Profiles.CheckNickname(ctx, app, openid, p)
}
