package mgmttest_test

import (
	"net/http"
	"strconv"
	"testing"

	"github.com/rulehook/rulehook/metadata/mgmt/mgmttest"
)

// slow returns t with every bucket refilled at one token a minute, so that a test spends a
// bucket faster than it refills whatever the machine's load.
func slow(t mgmttest.Tier) mgmttest.Tier {
	for i := range t.Buckets {
		t.Buckets[i].PerSecond = 1.0 / 60
	}
	return t
}

func TestFreeTierSharesOneBucketForEveryCall(t *testing.T) {
	s := newServerWithUser(t, mgmttest.WithTier(slow(mgmttest.FreeTier())))
	tok := accessToken(t, s)
	read := do(t, "GET", s.URL()+"/api/v2/users/auth0%7C1", nil, tok)
	write := do(t, "PATCH", s.URL()+"/api/v2/users/auth0%7C1", map[string]any{"user_metadata": map[string]any{"a": 1}}, tok)
	action := do(t, "GET", s.URL()+"/api/v2/actions/actions", nil, tok)
	for i, tc := range []struct {
		resp                     rawResponse
		status, remaining, limit int
	}{{read, 200, 1, 2}, {write, 200, 0, 2}, {action, 429, 0, 2}} {
		h := tc.resp.Header
		if tc.resp.Status != tc.status || h.Get("X-RateLimit-Remaining") != strconv.Itoa(tc.remaining) ||
			h.Get("X-RateLimit-Limit") != strconv.Itoa(tc.limit) || h.Get("X-RateLimit-Reset") == "" {
			t.Errorf("call %d = %d with %v; want %d, Limit %d, Remaining %d and a Reset", i, tc.resp.Status, h,
				tc.status, tc.limit, tc.remaining)
		}
	}
	want := map[string]any{"statusCode": 429.0, "error": "Too Many Requests",
		"message": "Global limit has been reached", "errorCode": "too_many_requests"}
	for k, v := range want {
		if action.Body[k] != v {
			t.Errorf("429 body %s = %v; want %v (%s)", k, action.Body[k], v, action.Raw)
		}
	}
	// The token endpoint is the Authentication API: its own bucket.
	if resp := do(t, "POST", s.URL()+"/oauth/token", nil, ""); resp.Status == http.StatusTooManyRequests {
		t.Errorf("POST /oauth/token with the Management API bucket empty = 429; want its own bucket")
	}
}

func TestSelfServiceTierSplitsReadAndWriteBuckets(t *testing.T) {
	s := newServerWithUser(t, mgmttest.WithTier(slow(mgmttest.SelfServiceTier())))
	tok := accessToken(t, s)
	patch := func() rawResponse {
		return do(t, "PATCH", s.URL()+"/api/v2/users/auth0%7C1", map[string]any{"user_metadata": map[string]any{"a": 1}}, tok)
	}
	for i := range 20 {
		if resp := patch(); resp.Status != 200 || resp.Header.Get("X-RateLimit-Limit") != "20" {
			t.Fatalf("write %d within Write Users' burst = %d, Limit %q; want 200, 20", i, resp.Status, resp.Header.Get("X-RateLimit-Limit"))
		}
	}
	if resp := patch(); resp.Status != http.StatusTooManyRequests {
		t.Errorf("write 21 = %d; want 429", resp.Status)
	}
	read := do(t, "GET", s.URL()+"/api/v2/users/auth0%7C1", nil, tok)
	if read.Status != 200 || read.Header.Get("X-RateLimit-Limit") != "40" || read.Header.Get("X-RateLimit-Remaining") != "39" {
		t.Errorf("read with Write Users spent = %d with %v; want 200 from Read Users (Limit 40, Remaining 39)", read.Status, read.Header)
	}
	other := do(t, "GET", s.URL()+"/api/v2/actions/actions", nil, tok)
	if other.Status != 200 || other.Header.Get("X-RateLimit-Limit") != "10" {
		t.Errorf("an Actions call = %d with %v; want 200 from All other Endpoints Combined (Limit 10)", other.Status, other.Header)
	}
}
