package accounts

// Guard holds the settings and hooks of the sign-up risk gate (risk.go)
// and the phone-number cost guard.
type Guard struct {
	// RiskMaxRank is the highest getUserRiskRank a new user may have; nil:
	// the gate is off and WeChat is not asked.
	RiskMaxRank *int
	// ObserveRisk, if set, is told of each sign-up the gate screened:
	// its app, outcome (RiskAllowed, RiskRejected, RiskUnknown) and rank
	// (-1 when unknown). It feeds the metrics.
	ObserveRisk func(appID, outcome string, rank int)
}

func (g *Guard) observeRisk(appID, outcome string, rank int) {
	if g.ObserveRisk != nil {
		g.ObserveRisk(appID, outcome, rank)
	}
}
