package metrics

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// Guard holds the metrics of the sign-up risk gate and of the phone-number
// cost guard.
type Guard struct {
	signups *prometheus.CounterVec
}

// NewGuard registers the guard's collectors on m's registry.
func NewGuard(m *Metrics) *Guard {
	g := &Guard{
		signups: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "miniauth_signup_risk_total",
			Help: "Sign-ups screened by the risk gate, by app, outcome (allowed, rejected, unknown: WeChat could not say) and getUserRiskRank (\"\" when unknown).",
		}, []string{"appid", "outcome", "rank"}),
	}
	m.Registry.MustRegister(g.signups)
	return g
}

// ObserveRisk counts one screened sign-up; rank < 0 is unknown.
func (g *Guard) ObserveRisk(appID, outcome string, rank int) {
	r := ""
	if rank >= 0 {
		r = strconv.Itoa(rank)
	}
	g.signups.WithLabelValues(appID, outcome, r).Inc()
}
