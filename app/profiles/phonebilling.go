package profiles

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	entsql "entgo.io/ent/dialect/sql"

	"github.com/miniauth/miniauth/ent"
	"github.com/miniauth/miniauth/ent/phoneday"
)

// PhoneBilling is WeChat's billing of one app's phone numbers as last
// read (/wxa/charge/usage/get), and what it says next to our counts.
type PhoneBilling struct {
	AppID     string
	All, Used int64 // calls the packages hold, and those billed so far
	Remaining int64 // All - Used
	// DailyAverage is the calls billed per day over the readings of the
	// last week; negative: less than an hour of readings yet.
	DailyAverage float64
	// Unredeemed is the taps WeChat billed since the first reading whose
	// code never reached us: billed minus redeemed over the same time.
	Unredeemed int64
	PolledAt   time.Time
}

// billingWindow is the look-back of the daily average.
const billingWindow = 7 * 24 * time.Hour

// RecordPhoneBilling keeps a reading of WeChat's phone billing of appID
// next to our all-time count of fetched numbers, and reports it. The
// taps billed but never redeemed add up from one reading to the next (a
// day's row holds its last reading).
func (s *Service) RecordPhoneBilling(ctx context.Context, appID string, all, used int64) (*PhoneBilling, error) {
	var b *PhoneBilling
	err := s.DB.Writer.Do(ctx, func(ctx context.Context, tx *ent.Client) error {
		if err := s.lockPhoneCounts(ctx, tx); err != nil {
			return err
		}
		now := s.Now.Now()
		var sums []struct {
			Sum sql.NullInt64 `json:"sum"` // NULL: no day counted yet
		}
		if err := tx.PhoneDay.Query().Where(phoneday.Appid(appID)).Aggregate(ent.Sum(phoneday.FieldFetched)).Scan(ctx, &sums); err != nil {
			return fmt.Errorf("count redeemed phone numbers: %w", err)
		}
		var total int64
		if len(sums) > 0 {
			total = sums[0].Sum.Int64
		}
		unredeemed := int64(0)
		prev, err := tx.PhoneDay.Query().Where(phoneday.Appid(appID), phoneday.PolledAtNotNil()).
			Order(ent.Desc(phoneday.FieldDay)).First(ctx)
		switch {
		case err == nil:
			unredeemed = *prev.Unredeemed + (used - *prev.BilledUsed) - (total - *prev.RedeemedTotal)
		case !ent.IsNotFound(err):
			return fmt.Errorf("read phone billing: %w", err)
		}
		err = tx.PhoneDay.Create().SetAppid(appID).SetDay(s.Guard.Day(now)).
			SetBilledAll(all).SetBilledUsed(used).SetRedeemedTotal(total).SetUnredeemed(unredeemed).SetPolledAt(now).
			OnConflict(entsql.ConflictColumns(phoneday.FieldAppid, phoneday.FieldDay)).
			Update(func(u *ent.PhoneDayUpsert) {
				u.SetBilledAll(all).SetBilledUsed(used).SetRedeemedTotal(total).SetUnredeemed(unredeemed).SetPolledAt(now)
			}).Exec(ctx)
		if err != nil {
			return fmt.Errorf("keep phone billing: %w", err)
		}
		b, err = phoneBillingOf(ctx, tx, appID)
		return err
	})
	if err != nil {
		return nil, err
	}
	if b != nil && s.Guard.ObserveBilling != nil {
		s.Guard.ObserveBilling(b)
	}
	return b, nil
}

// PhoneBillingOf is the latest billing reading of appID (nil: none yet).
func (s *Service) PhoneBillingOf(ctx context.Context, appID string) (*PhoneBilling, error) {
	return phoneBillingOf(ctx, s.DB.Read, appID)
}

func phoneBillingOf(ctx context.Context, db *ent.Client, appID string) (*PhoneBilling, error) {
	polled := db.PhoneDay.Query().Where(phoneday.Appid(appID), phoneday.PolledAtNotNil())
	last, err := polled.Clone().Order(ent.Desc(phoneday.FieldDay)).First(ctx)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read phone billing: %w", err)
	}
	weekAgo, err := polled.Clone().Where(phoneday.PolledAtGTE(last.PolledAt.Add(-billingWindow))).
		Order(ent.Asc(phoneday.FieldDay)).First(ctx)
	if err != nil {
		return nil, fmt.Errorf("read phone billing: %w", err)
	}
	b := &PhoneBilling{AppID: appID, All: *last.BilledAll, Used: *last.BilledUsed, PolledAt: *last.PolledAt, DailyAverage: -1}
	b.Remaining = max(b.All-b.Used, 0)
	b.Unredeemed = *last.Unredeemed
	if span := last.PolledAt.Sub(*weekAgo.PolledAt); span >= time.Hour {
		b.DailyAverage = float64(*last.BilledUsed-*weekAgo.BilledUsed) / (span.Hours() / 24)
	}
	return b, nil
}

// PhoneToday is the dashboard's phone-number card: today's fetches of
// every app, the budget, and WeChat's remaining quota.
type PhoneToday struct {
	Fetched int
	Budget  int // per app per day; 0: none
	// Remaining is the quota left in every app that was read; Read
	// reports whether any was, ReadAt when the oldest reading was made.
	Remaining int
	Read      bool
	ReadAt    time.Time
}

// PhoneToday reads the dashboard's phone-number numbers.
func (s *Service) PhoneToday(ctx context.Context) (*PhoneToday, error) {
	out := &PhoneToday{Budget: s.Guard.PhoneDailyBudget}
	today := s.Guard.Day(s.Now.Now())
	days, err := s.DB.Read.PhoneDay.Query().Where(phoneday.Day(today)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("read today's phone numbers: %w", err)
	}
	for _, d := range days {
		out.Fetched += int(d.Fetched)
	}
	for _, id := range s.MiniPrograms.IDs() {
		b, err := s.PhoneBillingOf(ctx, id)
		if err != nil {
			return nil, err
		}
		if b == nil {
			continue
		}
		out.Remaining += int(b.Remaining)
		if !out.Read || b.PolledAt.Before(out.ReadAt) {
			out.ReadAt = b.PolledAt
		}
		out.Read = true
	}
	return out, nil
}
