package profiles

import (
	"context"
	"fmt"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"

	"github.com/miniauth/miniauth/ent"
	"github.com/miniauth/miniauth/ent/phoneday"
	"github.com/miniauth/miniauth/ent/phonefetch"
	"github.com/miniauth/miniauth/ent/session"
	"github.com/miniauth/miniauth/ent/user"
)

// WeChat bills every successful tap on the phone-number button, when the
// mini program gets its callback, before the code reaches us. The only
// lever is when the button is shown: PhoneOffer tells the mini program,
// against daily caps kept in the database (so that every instance shares
// them). A code that does reach us is always redeemed and counted: it is
// paid for already.

// Reasons of a phone offer (GET /api/me/phone/offer).
const (
	OfferOK              = "ok"
	OfferAlreadyVerified = "already_verified"
	OfferCooldown        = "cooldown"
	OfferUserDailyCap    = "user_daily_cap"
	OfferIPDailyCap      = "ip_daily_cap"
	OfferBudgetExhausted = "budget_exhausted"
	OfferRisk            = "risk"
)

// PhoneHoldTTL is how long an offer holds its place in the day's caps:
// the button is on screen and may be tapped. Asking again within it
// answers the same offer without taking another place.
const PhoneHoldTTL = 10 * time.Minute

// PhoneFetchRetention is how long offers and fetches are kept for the
// caps (the day's counts need today only; the rest is for a look back).
const PhoneFetchRetention = 72 * time.Hour

// phoneLockKey serializes the caps' check-then-take on PostgreSQL, across
// instances (SQLite has one writer).
const phoneCountsLock = int64(0x6d6e6170686f6e65) // "mnaphone"

// PhoneOffer is whether the mini program should show its phone button now.
type PhoneOffer struct {
	Offer  bool
	Reason string
}

// PhoneOffer decides whether the user's mini program (that of the
// session) should show the phone-number button now. An offer takes a
// place in the day's caps for PhoneHoldTTL, so that concurrent callers
// cannot all be offered the last place.
func (s *Service) PhoneOffer(ctx context.Context, u *ent.User, sessionID int, ip string) (PhoneOffer, error) {
	if u.Phone != "" {
		return s.offered(PhoneOffer{Reason: OfferAlreadyVerified}), nil
	}
	appID, err := s.sessionApp(ctx, u.ID, sessionID)
	if err != nil {
		return PhoneOffer{}, err
	}
	var out PhoneOffer
	err = s.DB.Writer.Do(ctx, func(ctx context.Context, tx *ent.Client) error {
		if err := s.lockPhoneCounts(ctx, tx); err != nil {
			return err
		}
		now := s.Now.Now()
		reason, held, err := s.offerReason(ctx, tx, u.ID, appID, ip, now)
		out = PhoneOffer{Offer: reason == OfferOK, Reason: reason}
		if err != nil || !out.Offer || held {
			return err
		}
		return tx.PhoneFetch.Create().SetAppid(appID).SetUserID(u.ID).SetIP(ip).SetDay(s.Guard.Day(now)).
			SetCreatedAt(now).SetExpiresAt(now.Add(PhoneHoldTTL)).Exec(ctx)
	})
	if err != nil {
		return PhoneOffer{}, fmt.Errorf("phone offer for user %d: %w", u.ID, err)
	}
	return s.offered(out), nil
}

func (s *Service) offered(o PhoneOffer) PhoneOffer {
	if s.Guard.ObserveOffer != nil {
		s.Guard.ObserveOffer(o.Reason)
	}
	return o
}

// offerReason checks the caps in order; held: the user already holds an
// offer of this app.
func (s *Service) offerReason(ctx context.Context, tx *ent.Client, userID int, appID, ip string, now time.Time) (string, bool, error) {
	g := &s.Guard
	u, err := tx.User.Query().Where(user.ID(userID)).Select(user.FieldPhone, user.FieldRiskRank).Only(ctx)
	if ent.IsNotFound(err) {
		return "", false, errUnauthorized
	}
	if err != nil {
		return "", false, err
	}
	switch {
	case u.Phone != "":
		return OfferAlreadyVerified, false, nil
	case g.RiskMaxRank != nil && u.RiskRank != nil && *u.RiskRank > *g.RiskMaxRank:
		return OfferRisk, false, nil
	}
	held, err := tx.PhoneFetch.Query().Where(phonefetch.UserID(userID), phonefetch.Appid(appID),
		phonefetch.FetchedAtIsNil(), phonefetch.ExpiresAtGT(now)).Exist(ctx)
	if err != nil || held {
		return OfferOK, held, err
	}
	if g.PhoneCooldown > 0 {
		recent, err := tx.PhoneFetch.Query().Where(phonefetch.UserID(userID), phonefetch.FetchedAtGT(now.Add(-g.PhoneCooldown))).Exist(ctx)
		if err != nil || recent {
			return OfferCooldown, false, err
		}
	}
	day := g.Day(now)
	live := phonefetch.Or(phonefetch.FetchedAtNotNil(), phonefetch.ExpiresAtGT(now))
	caps := []struct {
		limit  int
		where  *ent.PhoneFetchQuery
		reason string
	}{
		{g.PhoneUserDaily, tx.PhoneFetch.Query().Where(phonefetch.UserID(userID)), OfferUserDailyCap},
		{g.PhoneIPDaily, tx.PhoneFetch.Query().Where(phonefetch.IP(ip)), OfferIPDailyCap},
		{g.PhoneDailyBudget, tx.PhoneFetch.Query().Where(phonefetch.Appid(appID)), OfferBudgetExhausted},
	}
	for _, c := range caps {
		if c.limit <= 0 || c.reason == OfferIPDailyCap && ip == "" {
			continue
		}
		n, err := c.where.Where(phonefetch.Day(day), live).Count(ctx)
		if err != nil || n >= c.limit {
			return c.reason, false, err
		}
	}
	return OfferOK, false, nil
}

// sessionApp is the app id of a session ("" sessions belong to the default app).
func (s *Service) sessionApp(ctx context.Context, userID, sessionID int) (string, error) {
	sess, err := s.DB.Read.Session.Query().Where(session.ID(sessionID), session.UserID(userID)).
		Select(session.FieldAppid).Only(ctx)
	if ent.IsNotFound(err) {
		return "", errUnauthorized
	}
	if err != nil {
		return "", fmt.Errorf("load session %d: %w", sessionID, err)
	}
	if app, ok := s.MiniPrograms.Get(sess.Appid); ok {
		return app.AppID(), nil
	}
	return sess.Appid, nil
}

func (s *Service) lockPhoneCounts(ctx context.Context, tx *ent.Client) error {
	if s.DB.Dialect != dialect.Postgres {
		return nil
	}
	if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", phoneCountsLock); err != nil {
		return fmt.Errorf("lock phone counts: %w", err)
	}
	return nil
}

// countPhoneFetch records a number fetched from WeChat for appID: the
// user's offer becomes the fetch (or a fetch is added), and the day's
// count of the app goes up. userID is nil for a sign-up by phone-login.
// A failure is logged, not answered: the number is paid for and fetched,
// and the binding goes on.
func (s *Service) countPhoneFetch(ctx context.Context, appID string, userID *int, ip string) {
	err := s.DB.Writer.Do(ctx, func(ctx context.Context, tx *ent.Client) error {
		if err := s.lockPhoneCounts(ctx, tx); err != nil {
			return err
		}
		now := s.Now.Now()
		day := s.Guard.Day(now)
		n := 0
		if userID != nil {
			var err error
			n, err = tx.PhoneFetch.Update().Where(phonefetch.UserID(*userID), phonefetch.Appid(appID),
				phonefetch.FetchedAtIsNil(), phonefetch.ExpiresAtGT(now)).SetFetchedAt(now).SetDay(day).Save(ctx)
			if err != nil {
				return err
			}
		}
		if n == 0 {
			if err := tx.PhoneFetch.Create().SetAppid(appID).SetNillableUserID(userID).SetIP(ip).SetDay(day).
				SetCreatedAt(now).SetFetchedAt(now).Exec(ctx); err != nil {
				return err
			}
		}
		return tx.PhoneDay.Create().SetAppid(appID).SetDay(day).SetFetched(1).
			OnConflict(entsql.ConflictColumns(phoneday.FieldAppid, phoneday.FieldDay)).
			AddFetched(1).Exec(ctx)
	})
	if err != nil {
		s.Log.Error("count a fetched phone number", "appid", appID, "err", err)
		return
	}
	if s.Guard.ObserveFetch != nil {
		s.Guard.ObserveFetch(appID)
	}
}

// PurgePhoneFetches deletes offers and fetches created before before.
func (s *Service) PurgePhoneFetches(ctx context.Context, before time.Time) (int, error) {
	var n int
	err := s.DB.Writer.Do(ctx, func(ctx context.Context, tx *ent.Client) error {
		var err error
		n, err = tx.PhoneFetch.Delete().Where(phonefetch.CreatedAtLT(before)).Exec(ctx)
		return err
	})
	return n, err
}
