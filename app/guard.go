package app

import (
	"github.com/miniauth/miniauth/app/accounts"
	"github.com/miniauth/miniauth/app/metrics"
)

// guard is the accounts service's risk gate and phone cost guard, from
// the configuration, reporting to the metrics when they are on.
func (s *Server) guard() accounts.Guard {
	g := accounts.Guard{RiskMaxRank: s.Config.Guard.RiskMaxRank}
	if s.Metrics != nil {
		m := metrics.NewGuard(s.Metrics)
		g.ObserveRisk = m.ObserveRisk
	}
	return g
}
