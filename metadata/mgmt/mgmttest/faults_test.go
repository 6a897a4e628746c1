package mgmttest_test

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/auth0/go-auth0/v3/management"
	"github.com/auth0/go-auth0/v3/management/client"
	"github.com/auth0/go-auth0/v3/management/option"
	"golang.org/x/oauth2"

	"github.com/rulehook/rulehook/metadata/mgmt/mgmttest"
	"github.com/rulehook/rulehook/metadata/testkit"
)

func TestFault429CarriesRateLimitHeadersThenClears(t *testing.T) {
	s := newServerWithUser(t)
	m := newClient(t, s, 2*time.Second)
	ctx := context.Background()
	reset := time.Now().Add(30 * time.Second)
	s.SetFault(http.MethodPatch, "/api/v2/users/auth0|1", mgmttest.Fault{Status: 429, Reset: reset, Times: 1})
	req := &management.UpdateUserRequestContent{UserMetadata: &obj{"displayName": "user"}}

	_, err := m.Users.Update(ctx, "auth0|1", req)
	var se *statusError
	if !errors.As(err, &se) || se.StatusCode != 429 {
		t.Fatalf("Users.Update err = %v; want a 429", err)
	}
	h := se.Header
	wantReset := reset.Unix()
	if reset.Nanosecond() > 0 {
		wantReset++
	}
	if got, want := h.Get("X-RateLimit-Reset"), strconv.FormatInt(wantReset, 10); got != want {
		t.Errorf("X-RateLimit-Reset = %q; want %q (Unix seconds, rounded up)", got, want)
	}
	if got := h.Get("X-RateLimit-Remaining"); got != "0" {
		t.Errorf("X-RateLimit-Remaining = %q; want 0", got)
	}
	if h.Get("X-RateLimit-Limit") == "" {
		t.Errorf("X-RateLimit-Limit missing on the 429")
	}
	if want := `"errorCode":"too_many_requests"`; !strings.Contains(se.Body, want) || !strings.Contains(se.Body, `"statusCode":429`) {
		t.Errorf("429 body = %s; want Auth0's shape with %s", se.Body, want)
	}
	if u, _ := s.User("auth0|1"); u.UserMetadata != nil {
		t.Errorf("a 429 wrote the user: %v", u.UserMetadata)
	}
	if _, err := m.Users.Update(ctx, "auth0|1", req); err != nil {
		t.Errorf("Users.Update after a Times: 1 fault: %v", err)
	}
	if got, want := s.CountStatus(429), 1; got != want {
		t.Errorf("429 answers = %d; want %d", got, want)
	}
}

func TestFault5xx(t *testing.T) {
	s := newServerWithUser(t)
	m := newClient(t, s, 2*time.Second)
	for _, status := range []int{500, 502, 503} {
		s.SetFault("", "/api/v2/users/*", mgmttest.Fault{Status: status})
		_, err := m.Users.Get(context.Background(), "auth0|1", nil)
		if got := statusOf(err); got != status {
			t.Errorf("Users.Get under a %d fault: status %d (%v); want %d", status, got, err, status)
		}
	}
	s.ClearFaults()
	if _, err := m.Users.Get(context.Background(), "auth0|1", nil); err != nil {
		t.Errorf("Users.Get after ClearFaults: %v", err)
	}
}

func TestFaultHangUntilTheClientGivesUp(t *testing.T) {
	s := newServerWithUser(t)
	m := newClient(t, s, 200*time.Millisecond)
	if _, err := m.Users.Get(context.Background(), "auth0|1", nil); err != nil { // fetch the token first
		t.Fatal(err)
	}
	s.SetFault(http.MethodPatch, "", mgmttest.Fault{Hang: true})
	begin := time.Now()
	_, err := m.Users.Update(context.Background(), "auth0|1", &management.UpdateUserRequestContent{UserMetadata: &obj{"a": 1}})
	if err == nil || time.Since(begin) > testkit.Within(200*time.Millisecond) {
		t.Fatalf("Users.Update under a hang = %v after %v; want a timeout after ~200ms", err, time.Since(begin))
	}
	testkit.WaitUntil(t, "the hung request to be logged", func() bool { return s.Count(http.MethodPatch, "/api/v2/users/") == 1 })
	for _, r := range s.Requests() {
		if r.Method == http.MethodPatch && r.Status != 0 {
			t.Errorf("hung request logged with status %d; want 0", r.Status)
		}
	}
	if u, _ := s.User("auth0|1"); u.UserMetadata != nil {
		t.Errorf("a hung PATCH wrote the user")
	}
}

func TestFaultHangReleasedByClose(t *testing.T) {
	s := mgmttest.New()
	s.SetFault("", "", mgmttest.Fault{Hang: true})
	done := make(chan error, 1)
	go func() {
		resp, err := http.Get(s.JWKSURL())
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	testkit.WaitUntil(t, "the request to arrive", func() bool { return s.Count("", "/.well-known/") == 1 })
	s.Close()
	select {
	case <-done:
	case <-time.After(testkit.Within(0)):
		t.Fatal("a hung request outlived Close")
	}
}

func TestFaultDelayThenPassThrough(t *testing.T) {
	s := newServerWithUser(t)
	m := newClient(t, s, 2*time.Second)
	s.SetFault(http.MethodGet, "/api/v2/users/auth0|1", mgmttest.Fault{Delay: 150 * time.Millisecond, Remaining: 3})
	begin := time.Now()
	resp, err := m.Users.WithRawResponse.Get(context.Background(), "auth0|1", nil)
	if err != nil {
		t.Fatalf("Users.Get under a delay: %v", err)
	}
	if el := time.Since(begin); el < 150*time.Millisecond {
		t.Errorf("answer after %v; want at least the 150ms delay", el)
	}
	if got := resp.Header.Get("X-RateLimit-Remaining"); got != "3" {
		t.Errorf("X-RateLimit-Remaining = %q; want the fault's 3", got)
	}
}

func TestFaultOnTokenEndpoint(t *testing.T) {
	s := newServerWithUser(t)
	m := newClient(t, s, 2*time.Second)
	s.SetFault(http.MethodPost, "/oauth/token", mgmttest.Fault{Status: 503})
	_, err := m.Users.Get(context.Background(), "auth0|1", nil)
	if got := statusOf(err); got != 401 {
		t.Errorf("Users.Get with the token endpoint down: status %d (%v); want 401 (go-auth0 sends no token)", got, err)
	}
	s.ClearFaults()
	if _, err := m.Users.Get(context.Background(), "auth0|1", nil); err != nil {
		t.Errorf("Users.Get once the token endpoint is back: %v", err)
	}
}

func TestRateLimitHeadersOnEveryAnswer(t *testing.T) {
	s := newServerWithUser(t)
	tok := accessToken(t, s)
	for _, tc := range []struct{ method, path, token string }{
		{"GET", "/api/v2/users/auth0%7C1", tok},
		{"GET", "/api/v2/users/auth0%7Cnobody", tok},
		{"GET", "/api/v2/users/auth0%7C1", ""},
		{"GET", "/.well-known/jwks.json", ""},
		{"GET", "/nowhere", ""},
		{"POST", "/oauth/token", ""},
	} {
		resp := do(t, tc.method, s.URL()+tc.path, nil, tc.token)
		limit, _ := strconv.Atoi(resp.Header.Get("X-RateLimit-Limit"))
		remaining, err1 := strconv.Atoi(resp.Header.Get("X-RateLimit-Remaining"))
		reset, err2 := strconv.ParseInt(resp.Header.Get("X-RateLimit-Reset"), 10, 64)
		if limit != mgmttest.DefaultRateLimit || err1 != nil || remaining > limit || err2 != nil || reset < time.Now().Unix()-1 {
			t.Errorf("%s %s (%d): X-RateLimit = %q/%q/%q; want limit, remaining and a Unix reset", tc.method, tc.path,
				resp.Status, resp.Header.Get("X-RateLimit-Limit"), resp.Header.Get("X-RateLimit-Remaining"),
				resp.Header.Get("X-RateLimit-Reset"))
		}
	}
}

// TestGoAuth0SleepsOnRetryableStatusEvenWithoutRetries pins the go-auth0 v3.4.0 behaviour that
// newClient works around: with WithoutRetries (given to client.New, where it is ignored, and per
// call, where it only stops the second attempt) a 503 still costs a backoff sleep of about 1 s
// before the error comes back, and a 429 sleeps until X-RateLimit-Reset.
func TestGoAuth0SleepsOnRetryableStatusEvenWithoutRetries(t *testing.T) {
	s := newServerWithUser(t)
	m := newClientWith(t, s, &http.Client{Timeout: 2 * time.Second})
	if _, err := m.Users.Get(context.Background(), "auth0|1", nil); err != nil {
		t.Fatal(err)
	}
	s.SetFault(http.MethodGet, "/api/v2/users/auth0|1", mgmttest.Fault{Status: 503})
	begin := time.Now()
	_, err := m.Users.Get(context.Background(), "auth0|1", nil, option.WithoutRetries())
	var unavailable *management.ServiceUnavailableError
	if !errors.As(err, &unavailable) {
		t.Fatalf("Users.Get err = %v; want ServiceUnavailableError", err)
	}
	if el := time.Since(begin); el < 800*time.Millisecond {
		t.Logf("go-auth0 answered a 503 in %v: its retrier no longer sleeps, failFast may go", el)
	}
	if got, want := s.Count(http.MethodGet, "/api/v2/users/auth0|1"), 2; got != want {
		t.Errorf("GET requests = %d; want %d (one attempt after the warm-up)", got, want)
	}
}

// TestTokenEndpointHangIsBoundedOnlyByTheTokenContext pins how go-auth0 fetches tokens: through
// golang.org/x/oauth2 with the context given to option.WithClientCredentials and, unless that
// context carries oauth2.HTTPClient, http.DefaultClient (no timeout); the call's own context and
// HTTP client do not bound it. A writer must hand WithClientCredentials a context carrying a
// client with a timeout, as here, or a hung /oauth/token blocks every call (oauth2 also tries
// twice, client secret in a Basic header then in the body, so the wait is twice that timeout).
func TestTokenEndpointHangIsBoundedOnlyByTheTokenContext(t *testing.T) {
	s := newServerWithUser(t)
	tokenCtx := context.WithValue(context.Background(), oauth2.HTTPClient, &http.Client{Timeout: 200 * time.Millisecond})
	m, err := client.New(s.Host(),
		option.WithInsecure(),
		option.WithClientCredentials(tokenCtx, s.ClientID(), s.ClientSecret()),
		option.WithHTTPClient(&http.Client{Timeout: time.Minute, Transport: failFast{http.DefaultTransport}}),
	)
	if err != nil {
		t.Fatal(err)
	}
	s.SetFault(http.MethodPost, "/oauth/token", mgmttest.Fault{Hang: true})
	begin := time.Now()
	_, err = m.Users.Get(context.Background(), "auth0|1", nil)
	if el := time.Since(begin); el > testkit.Within(2*200*time.Millisecond) {
		t.Errorf("Users.Get returned after %v; want the 200ms token timeout (twice) to bound it", el)
	}
	if got := statusOf(err); got != 401 {
		t.Errorf("Users.Get without a token: status %d (%v); want 401 (go-auth0 calls on without one)", got, err)
	}
}
