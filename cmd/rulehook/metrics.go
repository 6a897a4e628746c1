package main

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/rulehook/rulehook/metadata/mgmt"
)

// registerServeMetrics adds the Go runtime's and the process's own families (go_*, process_*)
// and the settings alerts compare with (rulehook_callout_deadline_seconds).
func registerServeMetrics(reg prometheus.Registerer, cfg config) {
	deadline := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "rulehook_callout_deadline_seconds",
		Help: "CALLOUT_DEADLINE: the callout is answered within this time.",
	})
	deadline.Set(cfg.CalloutDeadline.Seconds())
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), deadline)
}

// mgmtCollector exposes a Writer's counters and state, read at scrape time, so that package mgmt
// stays free of Prometheus.
type mgmtCollector struct {
	w *mgmt.Writer

	calls, tokens, tokenErrors, writes, entries *prometheus.Desc
	gateClosed, gateRemaining, breaker          *prometheus.Desc
	depth, overdue, queueError                  *prometheus.Desc
	configErrors, configParked                  *prometheus.Desc
}

// breakerStates are the values of rulehook_mgmt_breaker_state's state label.
var breakerStates = []struct {
	s     mgmt.BreakerState
	label string
}{{mgmt.BreakerClosed, "closed"}, {mgmt.BreakerHalfOpen, "half_open"}, {mgmt.BreakerOpen, "open"}}

func registerMgmtMetrics(reg prometheus.Registerer, w *mgmt.Writer) {
	if w == nil {
		return
	}
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, labels, nil)
	}
	reg.MustRegister(&mgmtCollector{
		w:             w,
		calls:         d("rulehook_mgmt_api_calls_total", "Management API calls by answer class (2xx, 4xx, 429, 5xx, no_answer).", "class"),
		tokens:        d("rulehook_mgmt_token_requests_total", "Requests for a Management API token."),
		tokenErrors:   d("rulehook_mgmt_token_errors_total", "Calls that could not get a Management API token."),
		writes:        d("rulehook_mgmt_writes_total", "Metadata writes by outcome (written, queued, failed).", "outcome"),
		entries:       d("rulehook_queue_entries_total", "Retry-queue entries handled by the worker, by outcome.", "outcome"),
		gateClosed:    d("rulehook_mgmt_gate_closed", "1 while a 429's reset is ahead and no Management API call is made."),
		gateRemaining: d("rulehook_mgmt_rate_limit_remaining", "The last X-RateLimit-Remaining seen (absent before any)."),
		breaker:       d("rulehook_mgmt_breaker_state", "1 for the circuit breaker's current state (closed, half_open, open), 0 for the others.", "state"),
		depth:         d("rulehook_queue_depth", "Users with a metadata write waiting in the retry queue (absent when Redis cannot be read)."),
		overdue:       d("rulehook_queue_overdue_seconds", "How long the most overdue retry-queue entry has waited for a worker (absent when Redis cannot be read)."),
		queueError:    d("rulehook_queue_scrape_error", "1 when this scrape could not read the retry queue from Redis, else 0."),
		configErrors:  d("rulehook_mgmt_config_errors_total", "Management API answers that are configuration errors (403, or a 401 a fresh token did not cure)."),
		configParked:  d("rulehook_mgmt_config_error", "1 while a Management API configuration error is unresolved: writes wait in the queue (see the ERROR log line for the missing scope)."),
	})
}

func (c *mgmtCollector) Describe(ch chan<- *prometheus.Desc) { prometheus.DescribeByCollect(c, ch) }

func (c *mgmtCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.w.Stats()
	counter := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter(c.calls, s.Calls2xx, "2xx")
	counter(c.calls, s.Calls4xx, "4xx")
	counter(c.calls, s.Calls429, "429")
	counter(c.calls, s.Calls5xx, "5xx")
	counter(c.calls, s.CallsNoAnswer, "no_answer")
	counter(c.tokens, s.TokenRequests)
	counter(c.tokenErrors, s.TokenErrors)
	counter(c.writes, s.Written, "written")
	counter(c.writes, s.Queued, "queued")
	counter(c.writes, s.Failed, "failed")
	counter(c.entries, s.Applied, "applied")
	counter(c.entries, s.Unchanged, "unchanged")
	counter(c.entries, s.Dropped, "dropped")
	counter(c.entries, s.Retried, "retried")
	gauge(c.gateClosed, boolFloat(s.Gate.Closed))
	if s.Gate.Remaining >= 0 {
		gauge(c.gateRemaining, float64(s.Gate.Remaining))
	}
	for _, b := range breakerStates {
		gauge(c.breaker, boolFloat(s.Breaker == b.s), b.label)
	}
	counter(c.configErrors, s.ConfigErrors)
	gauge(c.configParked, boolFloat(s.ConfigParked))
	c.collectQueue(gauge)
}

// collectQueue reads the queue from Redis; when it cannot, the queue's gauges are left out and
// rulehook_queue_scrape_error says so, rather than a made-up value.
func (c *mgmtCollector) collectQueue(gauge func(*prometheus.Desc, float64, ...string)) {
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	depth, err := c.w.QueueDepth(ctx)
	if err != nil {
		gauge(c.queueError, 1)
		return
	}
	overdue, known, err := c.w.QueueOverdue(ctx)
	if err != nil {
		gauge(c.queueError, 1)
		return
	}
	gauge(c.queueError, 0)
	gauge(c.depth, float64(depth))
	if known {
		gauge(c.overdue, overdue.Seconds())
	}
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
