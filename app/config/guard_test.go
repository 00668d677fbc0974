package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/miniauth/miniauth/app/config"
)

func TestGuardSettings(t *testing.T) {
	load := func(vars map[string]string) (*config.Config, error) {
		return config.Load(func(k string) string { return vars[k] })
	}
	c, err := load(nil)
	if err != nil {
		t.Fatal(err)
	}
	g := c.Guard
	if g.RiskMaxRank != nil || g.PhoneDailyBudget != 0 || g.PhoneUserDaily != 3 || g.PhoneIPDaily != 20 ||
		g.PhoneCooldown != time.Minute || g.PhoneBillingPoll != 15*time.Minute {
		t.Fatalf("defaults: %+v", g)
	}
	c, err = load(map[string]string{"MINIAUTH_RISK_MAX_RANK": "0", "MINIAUTH_PHONE_DAILY_BUDGET": "300",
		"MINIAUTH_PHONE_USER_DAILY": "0", "MINIAUTH_PHONE_IP_DAILY": "5", "MINIAUTH_PHONE_COOLDOWN": "0",
		"MINIAUTH_PHONE_BILLING_POLL": "0"})
	if err != nil {
		t.Fatal(err)
	}
	g = c.Guard
	if g.RiskMaxRank == nil || *g.RiskMaxRank != 0 || g.PhoneDailyBudget != 300 || g.PhoneUserDaily != 0 ||
		g.PhoneIPDaily != 5 || g.PhoneCooldown != 0 || g.PhoneBillingPoll != 0 {
		t.Fatalf("set: %+v", g)
	}
	for name, bad := range map[string]string{
		"MINIAUTH_RISK_MAX_RANK":      "5",
		"MINIAUTH_PHONE_DAILY_BUDGET": "-1",
		"MINIAUTH_PHONE_USER_DAILY":   "three",
		"MINIAUTH_PHONE_IP_DAILY":     "1.5",
		"MINIAUTH_PHONE_COOLDOWN":     "-1m",
		"MINIAUTH_PHONE_BILLING_POLL": "10s",
	} {
		_, err := load(map[string]string{name: bad})
		if err == nil || !strings.HasPrefix(err.Error(), name+":") {
			t.Errorf("%s=%s: %v, want an error naming the variable", name, bad, err)
		}
	}
	if _, err := load(map[string]string{"MINIAUTH_RISK_MAX_RANK": "x"}); err == nil {
		t.Error("rank x accepted")
	}
}
