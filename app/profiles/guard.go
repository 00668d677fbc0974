package profiles

import "time"

// Guard holds the settings and hooks of the sign-up risk gate (risk.go)
// and the phone-number cost guard (phonecost.go, phonebilling.go).
type Guard struct {
	// RiskMaxRank is the highest getUserRiskRank a new user may have; nil:
	// the gate is off and WeChat is not asked.
	RiskMaxRank *int
	// The phone button's caps (config.Guard): numbers per app per day
	// (the budget), per user and per client IP per day (0: none), and the
	// pause after a user's fetch.
	PhoneDailyBudget int
	PhoneUserDaily   int
	PhoneIPDaily     int
	PhoneCooldown    time.Duration
	// Location is where days start and end (MINIAUTH_TIMEZONE; nil: UTC).
	Location *time.Location

	// Hooks for the metrics, each optional: a screened sign-up (its app,
	// outcome RiskAllowed, RiskRejected or RiskUnknown, and rank, -1 when
	// unknown); a phone offer's reason; a number fetched; a billing
	// reading.
	ObserveRisk    func(appID, outcome string, rank int)
	ObserveOffer   func(reason string)
	ObserveFetch   func(appID string)
	ObserveBilling func(*PhoneBilling)
}

// Day is the calendar day of t that the daily caps count in, YYYY-MM-DD.
func (g *Guard) Day(t time.Time) string {
	loc := g.Location
	if loc == nil {
		loc = time.UTC
	}
	return t.In(loc).Format(time.DateOnly)
}
