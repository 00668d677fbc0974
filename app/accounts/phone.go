package accounts

import (
	"context"
	"errors"
	"fmt"

	"github.com/miniauth/miniauth/app/wechat"
	"github.com/miniauth/miniauth/ent"
)

// BindPhone exchanges a code from <button open-type="getPhoneNumber"> for
// the user's number (WeChat checks the code against the user's openid)
// and stores it, without the country code, with the country code apart.
func (s *Service) BindPhone(ctx context.Context, u *ent.User, code string) (*ent.User, error) {
	p, err := s.WeChat.PhoneNumber(ctx, code, u.Openid)
	if err != nil {
		switch {
		case wechat.Misconfigured(err):
			s.Log.Error("WeChat rejected our credentials: check MINIAUTH_WECHAT_APPID and MINIAUTH_WECHAT_SECRET", "err", err)
		case errors.Is(err, wechat.ErrWatermark):
			s.Log.Error("getuserphonenumber answered for another mini program; refusing it", "user_id", u.ID)
		default:
			s.Log.Warn("getuserphonenumber failed", "user_id", u.ID, "err", err)
		}
		return nil, wechat.Problem(err)
	}
	var out *ent.User
	var rc *receipt
	ticket := s.Sessions.Ticket(u.ID)
	err = s.DB.Writer.Do(ctx, func(ctx context.Context, tx *ent.Client) error {
		if rc, err = s.announce(ctx, tx, userChanged(u.ID)); err != nil {
			return err
		}
		out, err = tx.User.UpdateOneID(u.ID).
			SetPhone(p.PurePhoneNumber).
			SetPhoneCountryCode(p.CountryCode).
			SetUpdatedAt(s.now()).
			Save(ctx)
		if ent.IsNotFound(err) {
			return errUnauthorized
		}
		if err != nil {
			return fmt.Errorf("store phone of user %d: %w", u.ID, err)
		}
		return nil
	})
	if err != nil {
		s.settle(userChanged(u.ID), rc, false)
		return nil, err
	}
	s.Sessions.ReplaceUser(ticket, cacheUser(out))
	s.settle(change{}, rc, true)
	return out, nil
}
