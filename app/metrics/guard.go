package metrics

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// Guard holds the metrics of the sign-up risk gate and of the phone-number
// cost guard.
type Guard struct {
	signups    *prometheus.CounterVec
	fetched    *prometheus.CounterVec
	offers     *prometheus.CounterVec
	remaining  *prometheus.GaugeVec
	billed     *prometheus.GaugeVec
	average    *prometheus.GaugeVec
	unredeemed *prometheus.GaugeVec
}

// NewGuard registers the guard's collectors on m's registry.
func NewGuard(m *Metrics) *Guard {
	g := &Guard{
		signups: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "miniauth_signup_risk_total",
			Help: "Sign-ups screened by the risk gate, by app, outcome (allowed, rejected, unknown: WeChat could not say) and getUserRiskRank (\"\" when unknown).",
		}, []string{"appid", "outcome", "rank"}),
		fetched: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "miniauth_phone_numbers_fetched_total",
			Help: "Phone numbers fetched from WeChat (getuserphonenumber succeeded; each one is billed), by app.",
		}, []string{"appid"}),
		offers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "miniauth_phone_offers_total",
			Help: "Answers of GET /api/me/phone/offer by reason (ok: the phone button may be shown).",
		}, []string{"reason"}),
		remaining: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "miniauth_phone_quota_remaining",
			Help: "Phone-number calls left in the app's WeChat packages at the last billing reading.",
		}, []string{"appid"}),
		billed: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "miniauth_phone_billed_calls",
			Help: "Phone-number calls WeChat billed to the app (effectiveUse) at the last billing reading.",
		}, []string{"appid"}),
		average: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "miniauth_phone_billed_daily_average",
			Help: "Phone-number calls WeChat billed per day over the last week of billing readings.",
		}, []string{"appid"}),
		unredeemed: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "miniauth_phone_unredeemed_calls",
			Help: "Taps WeChat billed since the first billing reading whose code never reached miniauth (billed minus redeemed).",
		}, []string{"appid"}),
	}
	m.Registry.MustRegister(g.signups, g.fetched, g.offers, g.remaining, g.billed, g.average, g.unredeemed)
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

// PhoneBilling is one app's billing reading, as the metrics need it.
type PhoneBilling struct {
	AppID                       string
	Remaining, Used, Unredeemed int64
	DailyAverage                float64 // negative: unknown
}

// ObservePhoneFetch counts one phone number fetched for appID.
func (g *Guard) ObservePhoneFetch(appID string) { g.fetched.WithLabelValues(appID).Inc() }

// ObservePhoneOffer counts one answer of GET /api/me/phone/offer.
func (g *Guard) ObservePhoneOffer(reason string) { g.offers.WithLabelValues(reason).Inc() }

// ObservePhoneBilling sets the gauges of WeChat's phone billing of an app.
func (g *Guard) ObservePhoneBilling(b PhoneBilling) {
	g.remaining.WithLabelValues(b.AppID).Set(float64(b.Remaining))
	g.billed.WithLabelValues(b.AppID).Set(float64(b.Used))
	g.unredeemed.WithLabelValues(b.AppID).Set(float64(b.Unredeemed))
	if b.DailyAverage >= 0 {
		g.average.WithLabelValues(b.AppID).Set(b.DailyAverage)
	}
}
