package webhook

import (
	"fmt"
	"runtime"
	"runtime/debug"

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

type metrics struct {
	logins      *prometheus.CounterVec
	decisions   *prometheus.CounterVec
	callout     prometheus.Histogram
	apiRequests *prometheus.CounterVec
	redisErrors prometheus.Counter
	buildInfo   *prometheus.GaugeVec

	promote, demote, defaultName, noChange prometheus.Counter
}

func newMetrics(reg *prometheus.Registry, version string) (*metrics, error) {
	m := &metrics{
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rulehook_logins_total",
			Help: "Post-login callouts by outcome (ok, rejected, degraded, error) and reason.",
		}, []string{"outcome", "reason"}),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rulehook_decisions_total",
			Help: "Decisions of the rules by kind; one login can promote and name by default.",
		}, []string{"decision"}),
		callout: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "rulehook_callout_duration_seconds",
			Help:    "Time to answer a post-login callout, rejections included.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}),
		apiRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rulehook_api_requests_total",
			Help: "HTTP requests by route pattern and status code.",
		}, []string{"route", "code"}),
		redisErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rulehook_redis_errors_total",
			Help: "Redis operations of the HTTP edge that failed (replays and missing keys are not errors).",
		}),
		buildInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "rulehook_build_info",
			Help: "Always 1; labels carry the build's version and Go version.",
		}, []string{"version", "goversion"}),
	}
	for _, c := range []prometheus.Collector{m.logins, m.decisions, m.callout, m.apiRequests, m.redisErrors, m.buildInfo} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("webhook metrics: %w", err)
		}
	}
	m.buildInfo.WithLabelValues(buildVersion(version), runtime.Version()).Set(1)
	m.promote = m.decisions.WithLabelValues(decisionPromote)
	m.demote = m.decisions.WithLabelValues(decisionDemote)
	m.defaultName = m.decisions.WithLabelValues(decisionDefaultName)
	m.noChange = m.decisions.WithLabelValues(decisionNoChange)
	for _, r := range []string{reasonWritten, reasonQueued, reasonAction, reasonUnchanged} {
		m.logins.WithLabelValues(outcomeOK, r)
	}
	return m, nil
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

func (m *metrics) apiRequest(route string, code int) {
	m.apiRequests.WithLabelValues(route, statusLabel(code)).Inc()
}
