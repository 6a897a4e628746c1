package main

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"

	"github.com/rulehook/rulehook/metadata/mgmt/mgmttest"
)

// TestMetricsCountAScriptedSetOfLogins scrapes /metrics after logins whose effects are known.
func TestMetricsCountAScriptedSetOfLogins(t *testing.T) {
	s := startStack(t, map[string]string{"QUEUE_WORKERS": "0"}) // keep the queued write queued
	promote := s.seed(t, mgmttest.User{ID: "auth0|m1", UserMetadata: map[string]any{"displayName": "M"}}, 100)
	settled := s.seed(t, mgmttest.User{ID: "auth0|m2", UserMetadata: map[string]any{"displayName": "M"}}, 3)
	limited := s.seed(t, mgmttest.User{ID: "auth0|m3", UserMetadata: map[string]any{"displayName": "M"}}, 200)

	s.callout(t, promote) // written
	s.callout(t, settled) // no change
	s.callout(t, settled) // no change
	s.tenant.SetFault(http.MethodPatch, "/api/v2/users/*", mgmttest.Fault{Status: 429, Reset: time.Now().Add(time.Minute)})
	s.callout(t, limited) // 429: queued, gate closed
	s.appRequest(t, http.MethodGet, "/playlists/getPlays", "auth0|m1", nil)

	got := s.scrape(t)
	for _, want := range []string{
		`rulehook_decisions_total{decision="promote"} 2`,
		`rulehook_decisions_total{decision="no_change"} 2`,
		`rulehook_mgmt_api_calls_total{class="2xx"} 1`,
		`rulehook_mgmt_api_calls_total{class="429"} 1`,
		`rulehook_mgmt_token_requests_total 1`,
		`rulehook_mgmt_writes_total{outcome="written"} 1`,
		`rulehook_mgmt_writes_total{outcome="queued"} 1`,
		`rulehook_mgmt_gate_closed 1`,
		`rulehook_mgmt_breaker_state{state="closed"} 1`,
		`rulehook_mgmt_breaker_state{state="half_open"} 0`,
		`rulehook_mgmt_breaker_state{state="open"} 0`,
		`rulehook_queue_depth 1`,
		`rulehook_queue_overdue_seconds `,
		`rulehook_queue_scrape_error 0`,
		`rulehook_callout_duration_seconds_count 4`,
		`rulehook_api_requests_total{code="200",method="POST",route="/v1/post-login"} 4`,
		`rulehook_api_request_duration_seconds_count{method="GET",route="/playlists/getPlays"} 1`,
		`rulehook_build_info{`,
		fmt.Sprintf("rulehook_callout_deadline_seconds %g\n", stackDeadline.Seconds()),
		"go_goroutines ",
		"process_resident_memory_bytes ",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	for _, gone := range []string{"rulehook_mgmt_api_rate_limited_total", "auth0|"} {
		if strings.Contains(got, gone) {
			t.Errorf("/metrics carries %q", gone)
		}
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", grepLines(got, "rulehook_"))
	}
}

// TestMetricsPassPromlint runs the lint of `promtool check metrics` on a live /metrics that has
// every family of rulehook in it.
func TestMetricsPassPromlint(t *testing.T) {
	s := startStack(t, nil)
	u := s.seed(t, mgmttest.User{ID: "auth0|lint"}, 150)
	s.callout(t, u)
	s.appRequest(t, http.MethodGet, "/songs", "auth0|lint", nil)
	problems, err := promlint.New(strings.NewReader(s.scrape(t))).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
}

// TestQueueGaugesWhenRedisIsDown: the queue's gauges are left out, not made up, and
// rulehook_queue_scrape_error says why.
func TestQueueGaugesWhenRedisIsDown(t *testing.T) {
	s := startStack(t, nil)
	if got := s.scrape(t); !strings.Contains(got, "rulehook_queue_scrape_error 0") || !strings.Contains(got, "rulehook_queue_depth 0") {
		t.Fatalf("/metrics with Redis up lacks rulehook_queue_scrape_error 0 and rulehook_queue_depth 0:\n%s", grepLines(got, "rulehook_queue"))
	}
	s.redis.Stop()
	got := s.scrape(t)
	if !strings.Contains(got, "rulehook_queue_scrape_error 1") {
		t.Errorf("/metrics with Redis down lacks rulehook_queue_scrape_error 1:\n%s", grepLines(got, "rulehook_queue"))
	}
	for _, gone := range []string{"rulehook_queue_depth ", "rulehook_queue_overdue_seconds ", "rulehook_queue_depth -1"} {
		if strings.Contains(got, gone) {
			t.Errorf("/metrics with Redis down carries %q", gone)
		}
	}
}

// scrape returns the stack's /metrics.
func (s *testStack) scrape(t *testing.T) string {
	t.Helper()
	resp, err := s.client.Get(s.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics = %d, %v", resp.StatusCode, err)
	}
	return string(b)
}

func grepLines(s, prefix string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
