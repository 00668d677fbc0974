package app

import (
	"context"
	"time"

	"github.com/miniauth/miniauth/app/metrics"
	"github.com/miniauth/miniauth/app/profiles"
)

// guard is the sign-up risk gate and the phone cost guard
// (profiles.Guard), from the configuration, reporting to the metrics when
// they are on.
func (s *Server) guard() profiles.Guard {
	c := s.Config.Guard
	g := profiles.Guard{
		RiskMaxRank:      c.RiskMaxRank,
		PhoneDailyBudget: c.PhoneDailyBudget,
		PhoneUserDaily:   c.PhoneUserDaily,
		PhoneIPDaily:     c.PhoneIPDaily,
		PhoneCooldown:    c.PhoneCooldown,
		Location:         s.Config.Timezone,
	}
	if s.Metrics != nil {
		m := metrics.NewGuard(s.Metrics)
		g.ObserveRisk = m.ObserveRisk
		g.ObserveOffer = m.ObservePhoneOffer
		g.ObserveFetch = m.ObservePhoneFetch
		g.ObserveBilling = func(b *profiles.PhoneBilling) {
			m.ObservePhoneBilling(metrics.PhoneBilling{AppID: b.AppID, Remaining: b.Remaining, Used: b.Used,
				Unredeemed: b.Unredeemed, DailyAverage: b.DailyAverage})
		}
	}
	return g
}

// watchPhoneCosts reads WeChat's phone billing every
// MINIAUTH_PHONE_BILLING_POLL (the first reading one interval after
// start; until then the metrics show the last reading kept in the
// database) and purges old phone offers and fetches hourly, until ctx
// ends. Every instance reads: the readings are idempotent and WeChat
// allows plenty.
func (s *Server) watchPhoneCosts(ctx context.Context) {
	for _, id := range s.Profiles.MiniPrograms.IDs() {
		if b, err := s.Profiles.PhoneBillingOf(ctx, id); err == nil && b != nil && s.Profiles.Guard.ObserveBilling != nil {
			s.Profiles.Guard.ObserveBilling(b)
		}
	}
	purge := time.NewTicker(purgeInterval)
	defer purge.Stop()
	var poll <-chan time.Time
	if d := s.Config.Guard.PhoneBillingPoll; d > 0 {
		t := time.NewTicker(d)
		defer t.Stop()
		poll = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-poll:
			s.PollPhoneBilling(ctx)
		case <-purge.C:
			if _, err := s.Profiles.PurgePhoneFetches(ctx, time.Now().Add(-profiles.PhoneFetchRetention)); err != nil && ctx.Err() == nil {
				s.Log.Warn("purge phone offers and fetches", "err", err)
			}
		}
	}
}

// PollPhoneBilling reads WeChat's phone billing of every configured mini
// program now and keeps it (the poller calls it; tests too).
func (s *Server) PollPhoneBilling(ctx context.Context) {
	for _, id := range s.Profiles.MiniPrograms.IDs() {
		app, ok := s.Profiles.MiniPrograms.Get(id)
		if !ok {
			continue
		}
		u, err := app.PhoneUsage(ctx)
		if err != nil {
			s.Log.Warn("read WeChat's phone billing", "appid", id, "err", err)
			continue
		}
		if _, err := s.Profiles.RecordPhoneBilling(ctx, id, u.All, u.Used); err != nil && ctx.Err() == nil {
			s.Log.Warn("keep WeChat's phone billing", "appid", id, "err", err)
		}
	}
}
