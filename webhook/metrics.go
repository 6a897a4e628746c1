package webhook

import (
	"fmt"
	"net/http"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Values of the outcome label of rulehook_logins_total.
const (
	outcomeOK       = "ok"
	outcomeRejected = "rejected"
	outcomeDegraded = "degraded"
	outcomeError    = "error"
)

// Values of the reason label of rulehook_logins_total, by outcome.
const (
	// ok: what became of the decision.
	reasonWritten   = "written"
	reasonQueued    = "queued"
	reasonAction    = "action"
	reasonUnchanged = "unchanged"
	// rejected: why the callout was refused.
	reasonTooLarge = "too_large"
	reasonNoToken  = "missing_token"
	reasonBadToken = "invalid_token"
	reasonExpired  = "expired"
	reasonBodyHash = "body_hash"
	reasonBadEvent = "bad_event"
	reasonSubject  = "subject_mismatch"
	reasonReplay   = "replay"
	// degraded and error: what failed.
	reasonRedis         = "redis"
	reasonManagementAPI = "management_api"
	reasonBoth          = "redis_and_management_api"
	// error: the body memory budget is spent (MaxBodyMemoryBytes); answered 503 at once.
	reasonOverloaded = "overloaded"
)

// Values of the decision label of rulehook_decisions_total.
const (
	decisionPromote     = "promote"
	decisionDemote      = "demote"
	decisionDefaultName = "default_name"
	decisionNoChange    = "no_change"
)

// latencyBuckets span a fast Redis hit to the longest CALLOUT_DEADLINE worth having.
var latencyBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}

type metrics struct {
	logins      *prometheus.CounterVec
	decisions   *prometheus.CounterVec
	callout     prometheus.Histogram
	apiRequests *prometheus.CounterVec
	apiLatency  *prometheus.HistogramVec
	redisErrors prometheus.Counter
	buildInfo   *prometheus.GaugeVec

	promote, demote, defaultName, noChange prometheus.Counter

	shadow *shadowMetrics

	// byRoute holds each (route, method) pair's children, resolved once: a copy-on-write map so
	// the request path reads it without a lock or an allocation.
	byRoute   atomic.Pointer[map[routeKey]*routeChildren]
	byRouteMu sync.Mutex
}

type routeKey struct{ route, method string }

// routeChildren are one route and method's children of the API families.
type routeChildren struct {
	codes   *prometheus.CounterVec // curried with route and method; code is left
	ok      prometheus.Counter     // codes' child for 200, looked up once: nearly every answer
	latency prometheus.Observer    // nil for the callout, which has its own histogram
}

func newMetrics(reg *prometheus.Registry, version string) (*metrics, error) {
	m := &metrics{
		logins: counterVec("rulehook_logins_total",
			"Post-login callouts by outcome (ok, rejected, degraded, error) and reason.", "outcome", "reason"),
		decisions: counterVec("rulehook_decisions_total",
			"Decisions of the rules by kind; one login can promote and name by default.", "decision"),
		callout: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "rulehook_callout_duration_seconds",
			Help:    "Time to answer a post-login callout, rejections included.",
			Buckets: latencyBuckets,
		}),
		apiRequests: counterVec("rulehook_api_requests_total",
			"HTTP requests by route pattern, method and status code.", "route", "method", "code"),
		apiLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "rulehook_api_request_duration_seconds",
			Help:    "Time to answer an HTTP request by route pattern and method; the callout's is rulehook_callout_duration_seconds.",
			Buckets: latencyBuckets,
		}, []string{"route", "method"}),
		redisErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rulehook_redis_errors_total",
			Help: "Redis operations of the HTTP edge that failed (replays and missing keys are not errors).",
		}),
		buildInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "rulehook_build_info",
			Help: "Always 1; labels carry the build's version and Go version.",
		}, []string{"version", "goversion"}),
	}
	if err := register(reg, m.logins, m.decisions, m.callout, m.apiRequests, m.apiLatency, m.redisErrors, m.buildInfo); err != nil {
		return nil, err
	}
	var err error
	if m.shadow, err = newShadowMetrics(reg); err != nil {
		return nil, err
	}
	m.buildInfo.WithLabelValues(buildVersion(version), runtime.Version()).Set(1)
	m.promote = m.decisions.WithLabelValues(decisionPromote)
	m.demote = m.decisions.WithLabelValues(decisionDemote)
	m.defaultName = m.decisions.WithLabelValues(decisionDefaultName)
	m.noChange = m.decisions.WithLabelValues(decisionNoChange)
	for _, r := range []string{reasonWritten, reasonQueued, reasonAction, reasonUnchanged} {
		m.logins.WithLabelValues(outcomeOK, r)
	}
	m.byRoute.Store(&map[routeKey]*routeChildren{})
	return m, nil
}

// counterVec is a counter family with the given labels.
func counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
}

// register registers every collector with reg.
func register(reg *prometheus.Registry, cs ...prometheus.Collector) error {
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("webhook metrics: %w", err)
		}
	}
	return nil
}

func buildVersion(v string) string {
	if v != "" {
		return v
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "unknown"
}

func (m *metrics) login(outcome, reason string) { m.logins.WithLabelValues(outcome, reason).Inc() }

// apiRequest counts one answered request and, for routes other than the callout, observes how
// long it took since start.
func (m *metrics) apiRequest(route, method string, code int, start time.Time) {
	rm := m.route(route, methodLabel(method))
	if code == http.StatusOK {
		rm.ok.Inc()
	} else {
		rm.codes.WithLabelValues(statusLabel(code)).Inc()
	}
	if rm.latency != nil {
		rm.latency.Observe(time.Since(start).Seconds())
	}
}

// route returns the children of route and method, creating them on first use.
func (m *metrics) route(route, method string) *routeChildren {
	k := routeKey{route, method}
	if rm, ok := (*m.byRoute.Load())[k]; ok {
		return rm
	}
	m.byRouteMu.Lock()
	defer m.byRouteMu.Unlock()
	old := *m.byRoute.Load()
	if rm, ok := old[k]; ok {
		return rm
	}
	rm := &routeChildren{codes: m.apiRequests.MustCurryWith(prometheus.Labels{"route": route, "method": method})}
	rm.ok = rm.codes.WithLabelValues(statusLabel(http.StatusOK))
	if route != routePostLogin {
		rm.latency = m.apiLatency.WithLabelValues(route, method)
	}
	next := make(map[routeKey]*routeChildren, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	next[k] = rm
	m.byRoute.Store(&next)
	return rm
}

// methodLabel keeps the method label to the standard methods, so that a client cannot grow it.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions:
		return m
	}
	return "other"
}
