package mgmttest_test

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/auth0/go-auth0/v3/management"

	"github.com/rulehook/rulehook/metadata/mgmt/mgmttest"
	"github.com/rulehook/rulehook/metadata/testkit"
)

func TestWriteRateLimit(t *testing.T) {
	s := newServerWithUser(t, mgmttest.WithWriteRate(20, 2))
	m := newClient(t, s, 2*time.Second)
	ctx := context.Background()
	patch := func() (*management.UpdateUserResponseContent, http.Header, error) {
		resp, err := m.Users.WithRawResponse.Update(ctx, "auth0|1", &management.UpdateUserRequestContent{
			UserMetadata: &obj{"n": time.Now().UnixNano()}})
		if err != nil {
			return nil, nil, err
		}
		return resp.Body, resp.Header, nil
	}
	for i := range 2 {
		_, h, err := patch()
		if err != nil {
			t.Fatalf("write %d within the burst: %v", i, err)
		}
		if got, want := h.Get("X-RateLimit-Limit"), "2"; got != want {
			t.Errorf("write %d: X-RateLimit-Limit = %q; want %q (the burst)", i, got, want)
		}
		if got, want := h.Get("X-RateLimit-Remaining"), strconv.Itoa(1-i); got != want {
			t.Errorf("write %d: X-RateLimit-Remaining = %q; want %q", i, got, want)
		}
	}
	_, _, err := patch()
	var limited *statusError
	if !errors.As(err, &limited) || limited.StatusCode != 429 {
		t.Fatalf("write over the limit: %v; want 429", err)
	}
	reset, _ := strconv.ParseInt(limited.Header.Get("X-RateLimit-Reset"), 10, 64)
	// The next write is allowed within 50 ms; rounded up to a whole second that is at most now+2.
	if now := time.Now().Unix(); limited.Header.Get("X-RateLimit-Remaining") != "0" || reset < now || reset > now+2 {
		t.Errorf("429 headers = %v; want Remaining 0 and Reset at most two seconds on", limited.Header)
	}
	if _, err := m.Users.Get(ctx, "auth0|1", nil); err != nil {
		t.Errorf("a read while writes are limited: %v", err)
	}
	testkit.WaitUntil(t, "the bucket to refill", func() bool { _, _, err := patch(); return err == nil })
}

// TestWriteRateLimitHoldsOverTime sends writes as fast as the limit lets them through for a
// while: the accepted ones never exceed burst + rate × elapsed.
func TestWriteRateLimitHoldsOverTime(t *testing.T) {
	const rate, burst = 50.0, 5
	s := newServerWithUser(t, mgmttest.WithWriteRate(rate, burst))
	tok := accessToken(t, s)
	begin := time.Now()
	for time.Since(begin) < 300*time.Millisecond {
		do(t, "PATCH", s.URL()+"/api/v2/users/auth0%7C1", map[string]any{"user_metadata": map[string]any{"a": 1}}, tok)
	}
	elapsed := time.Since(begin).Seconds()
	accepted := s.CountStatus(200)
	if limit := burst + rate*elapsed; float64(accepted) > limit+1 {
		t.Errorf("accepted %d writes in %.2fs; want at most %.0f", accepted, elapsed, limit)
	}
	if s.CountStatus(429) == 0 {
		t.Errorf("no write was refused; the test did not reach the limit")
	}
}
