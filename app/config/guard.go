package config

import (
	"fmt"
	"strconv"
	"time"
)

// Defaults of the phone-number cost guard (docs/phone-and-risk.md).
const (
	DefaultPhoneUserDaily = 3
	DefaultPhoneIPDaily   = 20
	DefaultPhoneCooldown  = time.Minute
	// DefaultPhoneBillingPoll is how often WeChat's phone billing
	// (/wxa/charge/usage/get) is read for the metrics and the dashboard.
	DefaultPhoneBillingPoll = 15 * time.Minute
)

// Guard is the sign-up risk gate and the phone-number cost guard.
type Guard struct {
	// RiskMaxRank is the highest getUserRiskRank (0–4) a new user may
	// have; nil: the gate is off and WeChat is not asked.
	RiskMaxRank *int
	// PhoneDailyBudget caps the numbers fetched per mini program per day
	// (0: no budget); PhoneUserDaily and PhoneIPDaily per user and per
	// client IP (0: no cap); PhoneCooldown is the pause after a user's
	// fetch (0: none).
	PhoneDailyBudget int
	PhoneUserDaily   int
	PhoneIPDaily     int
	PhoneCooldown    time.Duration
	// PhoneBillingPoll is how often WeChat's billing is read (0: never).
	PhoneBillingPoll time.Duration
}

func (c *Config) loadGuardSettings(get func(string, string) string) error {
	if raw := get("MINIAUTH_RISK_MAX_RANK", ""); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 0 || n > 4 {
			return fmt.Errorf("MINIAUTH_RISK_MAX_RANK: %q is not a rank from 0 to 4 (empty turns the risk gate off)", raw)
		}
		c.Guard.RiskMaxRank = &n
	}
	var err error
	g := &c.Guard
	if g.PhoneDailyBudget, err = intAtLeast(get, "MINIAUTH_PHONE_DAILY_BUDGET", 0, 0, "non-negative"); err != nil {
		return err
	}
	if g.PhoneUserDaily, err = intAtLeast(get, "MINIAUTH_PHONE_USER_DAILY", DefaultPhoneUserDaily, 0, "non-negative"); err != nil {
		return err
	}
	if g.PhoneIPDaily, err = intAtLeast(get, "MINIAUTH_PHONE_IP_DAILY", DefaultPhoneIPDaily, 0, "non-negative"); err != nil {
		return err
	}
	if g.PhoneCooldown, err = durationOrZero(get, "MINIAUTH_PHONE_COOLDOWN", DefaultPhoneCooldown); err != nil {
		return err
	}
	if g.PhoneBillingPoll, err = durationOrZero(get, "MINIAUTH_PHONE_BILLING_POLL", DefaultPhoneBillingPoll); err != nil {
		return err
	}
	if g.PhoneBillingPoll > 0 && g.PhoneBillingPoll < time.Minute {
		return fmt.Errorf("MINIAUTH_PHONE_BILLING_POLL: %s is too often (at least 1m, or 0 to turn polling off)", g.PhoneBillingPoll)
	}
	return nil
}

// durationOrZero reads a duration where 0 turns the thing off.
func durationOrZero(get func(string, string) string, name string, def time.Duration) (time.Duration, error) {
	raw := get(name, "")
	if raw == "" {
		return def, nil
	}
	d, err := time.ParseDuration(raw)
	if raw == "0" {
		d, err = 0, nil
	}
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%s: %q is not a duration like 1m or 0", name, raw)
	}
	return d, nil
}
