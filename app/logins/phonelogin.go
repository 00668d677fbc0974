package logins

import (
	"context"
	"fmt"

	"github.com/miniauth/miniauth/app/profiles"
	"github.com/miniauth/miniauth/ent"
	"github.com/miniauth/miniauth/ent/identity"
	"github.com/miniauth/miniauth/ent/user"
)

// PhoneLogin logs in with a wx.login code and binds the phone from a
// getPhoneNumber code, in one call, for mini programs whose sign-up is the
// phone button. WeChat bills each successful phone call, so it is made
// only once the login part has succeeded (code accepted, user not
// disabled). A phone another user has makes the whole login fail with
// account_conflict: no user, identity, session or binding is written.
func (s *Service) PhoneLogin(ctx context.Context, appID, code, phoneCode string, c Client) (*Grant, error) {
	li, err := s.code2Session(ctx, appID, code)
	if err != nil {
		return nil, err
	}
	if err := s.checkLoginAllowed(ctx, li); err != nil {
		return nil, err
	}
	// A refused sign-up's phone code is not redeemed: nothing about the
	// person is fetched or kept.
	if err := s.screenSignUp(ctx, &li, c.IP); err != nil {
		return nil, err
	}
	app, _ := s.MiniPrograms.Get(li.AppID)
	owner, err := s.identityOwner(ctx, li)
	if err != nil {
		return nil, err
	}
	phone, err := s.Profiles.PhoneNumber(ctx, app, phoneCode, li.Session.OpenID, owner, c.IP)
	if err != nil {
		return nil, err
	}
	return s.login(ctx, li, profiles.Profile{}, c, func(ctx context.Context, tx *ent.Client, u *ent.User, _ bool) (*ent.User, error) {
		if err := s.Profiles.ClaimPhone(ctx, tx, u.ID, phone); err != nil {
			return nil, err
		}
		if u.Phone == phone.PurePhoneNumber && u.PhoneCountryCode == phone.CountryCode {
			return u, nil
		}
		bound, err := tx.User.UpdateOneID(u.ID).SetPhone(phone.PurePhoneNumber).SetPhoneCountryCode(phone.CountryCode).
			SetUpdatedAt(s.Now.Now()).Save(ctx)
		if err != nil {
			return nil, fmt.Errorf("store phone of user %d: %w", u.ID, err)
		}
		bound.LoginCount, bound.LastLoginAt = u.LoginCount, u.LastLoginAt
		return bound, nil
	})
}

// identityOwner is the user of a login's (appid, openid) identity, 0 if
// it has none yet.
func (s *Service) identityOwner(ctx context.Context, li loginIdentity) (int, error) {
	id, err := s.DB.Read.Identity.Query().Where(identity.Appid(li.AppID), identity.Openid(li.Session.OpenID)).
		Select(identity.FieldUserID).Only(ctx)
	switch {
	case ent.IsNotFound(err):
		return 0, nil
	case err != nil:
		return 0, fmt.Errorf("find identity: %w", err)
	}
	return id.UserID, nil
}

// checkLoginAllowed refuses, before any paid call, a login that would
// land on a disabled user.
func (s *Service) checkLoginAllowed(ctx context.Context, li loginIdentity) error {
	id, err := s.DB.Read.Identity.Query().Where(identity.Appid(li.AppID), identity.Openid(li.Session.OpenID)).
		WithUser(func(q *ent.UserQuery) { q.Select(user.FieldDisabled) }).Only(ctx)
	switch {
	case err == nil && id.Edges.User.Disabled:
		return errDisabled
	case err == nil:
		return nil
	case !ent.IsNotFound(err):
		return fmt.Errorf("find identity: %w", err)
	}
	if li.Session.UnionID == "" {
		return nil
	}
	disabled, err := s.DB.Read.User.Query().Where(user.Unionid(li.Session.UnionID), user.Disabled(true)).Exist(ctx)
	if err != nil {
		return fmt.Errorf("find user by unionid: %w", err)
	}
	if disabled {
		return errDisabled
	}
	return nil
}
