package profiles

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"

	"entgo.io/ent/dialect"

	"github.com/miniauth/miniauth/app/problem"
	"github.com/miniauth/miniauth/app/sessions"
	"github.com/miniauth/miniauth/app/wechat"
	"github.com/miniauth/miniauth/ent"
	"github.com/miniauth/miniauth/ent/user"
)

// BindPhone exchanges a code from <button open-type="getPhoneNumber"> for
// the user's number (WeChat checks the code against the user's openid)
// and stores it, without the country code, with the country code apart.
// A number another user has is refused (account_conflict), nothing changed.
// It asks the session's mini program, with that app's access token.
// The number fetched is counted against the day's caps (phonecost.go),
// whatever happens next: WeChat billed it already.
func (s *Service) BindPhone(ctx context.Context, u *ent.User, sessionID int, code, ip string) (*ent.User, error) {
	id, err := s.identityOfSession(ctx, u.ID, sessionID)
	if err != nil {
		return nil, err
	}
	p, err := s.PhoneNumber(ctx, id.App, code, id.OpenID, u.ID, ip)
	if err != nil {
		return nil, err
	}
	var out *ent.User
	ticket := s.Sessions.Cache.Ticket(u.ID)
	err = s.Sessions.Write(ctx, func(ctx context.Context, tx *ent.Client, ch *sessions.Changes) error {
		if err := s.ClaimPhone(ctx, tx, u.ID, p); err != nil {
			return err
		}
		ch.UserChanged(u.ID)
		out, err = tx.User.UpdateOneID(u.ID).
			SetPhone(p.PurePhoneNumber).
			SetPhoneCountryCode(p.CountryCode).
			SetUpdatedAt(s.Now.Now()).
			Save(ctx)
		if ent.IsNotFound(err) {
			return errUnauthorized
		}
		if err != nil {
			return fmt.Errorf("store phone of user %d: %w", u.ID, err)
		}
		ch.UserReplaced(ticket, out)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

var errPhoneCodeMismatch = problem.New(problem.PhoneCodeMismatch,
	"this phone code was obtained by another WeChat user; tap the phone button again")

// PhoneNumber calls getuserphonenumber for app, logging what went wrong,
// and counts the number fetched for userID (0: a sign-up by phone-login)
// from ip.
// openid always goes along: WeChat then checks that the code was obtained
// by that user, so one user's code cannot be redeemed on another's
// session (WECHAT.md 5.8).
func (s *Service) PhoneNumber(ctx context.Context, app *wechat.Client, code, openid string, userID int, ip string) (*wechat.Phone, error) {
	p, err := app.PhoneNumber(ctx, code, openid)
	if err != nil {
		var we *wechat.Error
		switch {
		case openid != "" && errors.As(err, &we) && we.Code == wechat.CodeInvalidOpenID:
			s.Log.Warn("phone code obtained by another user: refused", "appid", app.AppID(), "user_id", userID)
			return nil, errPhoneCodeMismatch
		case wechat.Misconfigured(err):
			s.Log.Error("WeChat rejected our credentials: check the AppID and secret", "appid", app.AppID(), "err", err)
		case errors.Is(err, wechat.ErrWatermark):
			s.Log.Error("getuserphonenumber answered for another mini program; refusing it", "user_id", userID)
		default:
			s.Log.Warn("getuserphonenumber failed", "user_id", userID, "err", err)
		}
		return nil, wechat.Problem(err)
	}
	var owner *int
	if userID != 0 {
		owner = &userID
	}
	s.countPhoneFetch(ctx, app.AppID(), owner, ip)
	return p, nil
}

var errPhoneTaken = problem.New(problem.AccountConflict,
	"this phone number belongs to another account; log in with that account or ask an admin")

// ClaimPhone refuses, inside a write that is about to bind phone to
// userID, a number another user has (account_conflict): that user could
// no longer log in with it. One number's claims queue on a lock.
func (s *Service) ClaimPhone(ctx context.Context, tx *ent.Client, userID int, phone *wechat.Phone) error {
	if s.DB.Dialect == dialect.Postgres {
		// Concurrent transactions would each see the number free and
		// each bind it: one number's bindings queue on a lock held to
		// the end of the transaction. (SQLite has one writer.)
		if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", phoneLockKey(phone)); err != nil {
			return fmt.Errorf("lock phone number: %w", err)
		}
	}
	taken, err := tx.User.Query().Where(user.Phone(phone.PurePhoneNumber), user.PhoneCountryCode(phone.CountryCode),
		user.IDNEQ(userID)).Exist(ctx)
	if err != nil {
		return fmt.Errorf("find owner of phone: %w", err)
	}
	if taken {
		return errPhoneTaken
	}
	return nil
}

// phoneLockKey is the advisory lock of one phone number.
func phoneLockKey(p *wechat.Phone) int64 {
	h := fnv.New64a()
	h.Write([]byte("miniauth-phone:" + p.CountryCode + ":" + p.PurePhoneNumber))
	return int64(h.Sum64())
}
