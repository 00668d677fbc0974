// Package metrics exposes miniauth's Prometheus metrics: requests by route
// and status, logins by outcome, WeChat calls by endpoint and errcode, and
// active sessions. They are served on their own listener
// (MINIAUTH_METRICS_ADDR), never on the public one, so they cannot be
// exposed by accident.
package metrics

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds the collectors of one server.
type Metrics struct {
	Registry *prometheus.Registry

	requests     *prometheus.CounterVec
	latency      *prometheus.HistogramVec
	logins       *prometheus.CounterVec
	wechatCalls  *prometheus.HistogramVec
	wechatErrors *prometheus.CounterVec
	pushEvents   *prometheus.CounterVec
	// requestSeries caches the series of each (route, method, status):
	// requestKey → *requestSeries.
	requestSeries sync.Map
}

// New registers every collector. activeSessions counts live sessions; it
// is called at most every activeSessionsTTL.
func New(activeSessions func(context.Context) (int, error)) *Metrics {
	r := prometheus.NewRegistry()
	m := &Metrics{
		Registry: r,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "miniauth_http_requests_total",
			Help: "HTTP requests by route pattern, method and status.",
		}, []string{"route", "method", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "miniauth_http_request_duration_seconds",
			Help:    "HTTP request latency by route pattern and method.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "method"}),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "miniauth_logins_total",
			Help: "Logins by outcome: success, or the error code answered.",
		}, []string{"outcome"}),
		wechatCalls: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "miniauth_wechat_call_duration_seconds",
			Help:    "Latency of calls to WeChat's server API by endpoint.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2, 5},
		}, []string{"endpoint"}),
		wechatErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "miniauth_wechat_errors_total",
			Help: "Failed WeChat calls by endpoint and errcode (\"unavailable\" for network errors, timeouts and bad answers).",
		}, []string{"endpoint", "errcode"}),
		pushEvents: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "miniauth_wechat_push_events_total",
			Help: "Events WeChat pushed (消息推送) by event and outcome (done, unknown_user, duplicate, ignored, failed, refused).",
		}, []string{"event", "outcome"}),
	}
	r.MustRegister(m.requests, m.latency, m.logins, m.wechatCalls, m.wechatErrors, m.pushEvents,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if activeSessions != nil {
		r.MustRegister(newSessionGauge(activeSessions))
	}
	return m
}

// ObserveRequest records one answered request by its route pattern (not
// its raw path, which would make a label per user id).
// The route and method must come from bounded sets (route patterns, a
// list of method names): each new pair is kept for good.
func (m *Metrics) ObserveRequest(route, method string, status int, took time.Duration) {
	key := requestKey{route, method, status}
	s, ok := m.requestSeries.Load(key)
	if !ok {
		// WithLabelValues hashes the labels on every call; the pair of
		// series is looked up once per key instead.
		s, _ = m.requestSeries.LoadOrStore(key, &requestSeries{
			count:   m.requests.WithLabelValues(route, method, strconv.Itoa(status)),
			latency: m.latency.WithLabelValues(route, method),
		})
	}
	rs := s.(*requestSeries)
	rs.count.Inc()
	rs.latency.Observe(took.Seconds())
}

type requestKey struct {
	route, method string
	status        int
}

type requestSeries struct {
	count   prometheus.Counter
	latency prometheus.Observer
}

// ObserveLogin counts one login by its outcome: "success", or what went
// wrong (the contract's error code).
func (m *Metrics) ObserveLogin(outcome string) { m.logins.WithLabelValues(outcome).Inc() }

// ObserveWeChat records one WeChat call; errcode is "" on success.
func (m *Metrics) ObserveWeChat(endpoint string, d time.Duration, errcode string) {
	m.wechatCalls.WithLabelValues(endpoint).Observe(d.Seconds())
	if errcode != "" {
		m.wechatErrors.WithLabelValues(endpoint, errcode).Inc()
	}
}

// ObservePushEvent counts one pushed event by its name ("other" for the
// events miniauth ignores) and what became of it.
func (m *Metrics) ObservePushEvent(event, outcome string) {
	m.pushEvents.WithLabelValues(event, outcome).Inc()
}

// Handler serves the metrics in Prometheus' text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{})
}

// activeSessionsTTL bounds how often a scrape counts sessions.
const activeSessionsTTL = 15 * time.Second

// sessionGauge reports live sessions, counted on scrape and cached.
type sessionGauge struct {
	desc  *prometheus.Desc
	count func(context.Context) (int, error)

	mu   sync.Mutex
	at   time.Time
	last float64
}

func newSessionGauge(count func(context.Context) (int, error)) *sessionGauge {
	return &sessionGauge{
		desc:  prometheus.NewDesc("miniauth_active_sessions", "Sessions neither revoked nor expired (all instances).", nil, nil),
		count: count,
	}
}

func (g *sessionGauge) Describe(ch chan<- *prometheus.Desc) { ch <- g.desc }

func (g *sessionGauge) Collect(ch chan<- prometheus.Metric) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if time.Since(g.at) > activeSessionsTTL {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		n, err := g.count(ctx)
		cancel()
		if err == nil {
			g.last, g.at = float64(n), time.Now()
		}
	}
	ch <- prometheus.MustNewConstMetric(g.desc, prometheus.GaugeValue, g.last)
}

// WatchReadiness exports the readiness check's state, read on each
// scrape: miniauth_ready (1 or 0), miniauth_unready_reason{reason} (1 for
// the current reason among reasons, 0 for the others) and
// miniauth_database_faults_total{cause} (faults seen since start-up).
func (m *Metrics) WatchReadiness(reason func() string, reasons []string, faults func() map[string]uint64) {
	m.Registry.MustRegister(&readiness{
		ready:   prometheus.NewDesc("miniauth_ready", "1 when the server can serve and write (GET /readyz answers 200), else 0.", nil, nil),
		why:     prometheus.NewDesc("miniauth_unready_reason", "1 for the reason GET /readyz answers 503 (migrating, disk_full, read_only, database_unreachable, …), 0 for the others.", []string{"reason"}, nil),
		faults:  prometheus.NewDesc("miniauth_database_faults_total", "Database errors by cause that made a request or a write fail with 503 unavailable.", []string{"cause"}, nil),
		reason:  reason,
		reasons: reasons,
		counts:  faults,
	})
}

type readiness struct {
	ready, why, faults *prometheus.Desc
	reason             func() string
	reasons            []string
	counts             func() map[string]uint64
}

func (r *readiness) Describe(ch chan<- *prometheus.Desc) { ch <- r.ready; ch <- r.why; ch <- r.faults }

func (r *readiness) Collect(ch chan<- prometheus.Metric) {
	now := r.reason()
	ready := 0.0
	if now == "" {
		ready = 1
	}
	ch <- prometheus.MustNewConstMetric(r.ready, prometheus.GaugeValue, ready)
	for _, reason := range r.reasons {
		v := 0.0
		if reason == now {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(r.why, prometheus.GaugeValue, v, reason)
	}
	for cause, n := range r.counts() {
		ch <- prometheus.MustNewConstMetric(r.faults, prometheus.CounterValue, float64(n), cause)
	}
}
