package main

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rulehook/rulehook/metadata/mgmt"
)

// mgmtCollector exposes a Writer's counters and state, read at scrape time, so that package mgmt
// stays free of Prometheus.
type mgmtCollector struct {
	w *mgmt.Writer

	calls, rateLimited, tokens, tokenErrors, writes, entries *prometheus.Desc
	gateClosed, gateRemaining, breaker, depth                *prometheus.Desc
	configErrors, configParked                               *prometheus.Desc
}

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
		rateLimited:   d("rulehook_mgmt_api_rate_limited_total", "Management API answers with status 429."),
		tokens:        d("rulehook_mgmt_token_requests_total", "Requests for a Management API token."),
		tokenErrors:   d("rulehook_mgmt_token_errors_total", "Calls that could not get a Management API token."),
		writes:        d("rulehook_mgmt_writes_total", "Metadata writes by outcome (written, queued, failed).", "outcome"),
		entries:       d("rulehook_queue_entries_total", "Retry-queue entries handled by the worker, by outcome.", "outcome"),
		gateClosed:    d("rulehook_mgmt_gate_closed", "1 while a 429's reset is ahead and no Management API call is made."),
		gateRemaining: d("rulehook_mgmt_rate_limit_remaining", "The last X-RateLimit-Remaining seen (-1 before any)."),
		breaker:       d("rulehook_mgmt_breaker_state", "Circuit breaker state: 0 closed, 1 half-open, 2 open."),
		depth:         d("rulehook_queue_depth", "Users with a metadata write waiting in the retry queue (-1 when Redis cannot be read)."),
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
	gauge := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v)
	}
	counter(c.calls, s.Calls2xx, "2xx")
	counter(c.calls, s.Calls4xx, "4xx")
	counter(c.calls, s.Calls429, "429")
	counter(c.calls, s.Calls5xx, "5xx")
	counter(c.calls, s.CallsNoAnswer, "no_answer")
	counter(c.rateLimited, s.Calls429)
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
	gauge(c.gateRemaining, float64(s.Gate.Remaining))
	gauge(c.breaker, float64(s.Breaker))
	counter(c.configErrors, s.ConfigErrors)
	gauge(c.configParked, boolFloat(s.ConfigParked))

	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	depth, err := c.w.QueueDepth(ctx)
	if err != nil {
		depth = -1
	}
	gauge(c.depth, float64(depth))
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
