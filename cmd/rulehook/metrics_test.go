package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

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

	resp, err := http.Get(s.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	got := string(b)
	for _, want := range []string{
		`rulehook_decisions_total{decision="promote"} 2`,
		`rulehook_decisions_total{decision="no_change"} 2`,
		`rulehook_mgmt_api_calls_total{class="2xx"} 1`,
		`rulehook_mgmt_api_calls_total{class="429"} 1`,
		`rulehook_mgmt_api_rate_limited_total 1`,
		`rulehook_mgmt_token_requests_total 1`,
		`rulehook_mgmt_writes_total{outcome="written"} 1`,
		`rulehook_mgmt_writes_total{outcome="queued"} 1`,
		`rulehook_mgmt_gate_closed 1`,
		`rulehook_mgmt_breaker_state 0`,
		`rulehook_queue_depth 1`,
		`rulehook_callout_duration_seconds_count 4`,
		`rulehook_build_info{`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if strings.Contains(got, "auth0|") {
		t.Errorf("/metrics carries a user id")
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", grepLines(got, "rulehook_"))
	}
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
