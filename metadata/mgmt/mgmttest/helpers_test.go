package mgmttest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/auth0/go-auth0/v3/management/client"
	"github.com/auth0/go-auth0/v3/management/core"
	"github.com/auth0/go-auth0/v3/management/option"

	"github.com/rulehook/rulehook/metadata/mgmt/mgmttest"
)

// newServer starts a tenant that the test closes when it ends.
func newServer(t *testing.T, opts ...mgmttest.Option) *mgmttest.Server {
	t.Helper()
	s := mgmttest.New(opts...)
	t.Cleanup(s.Close)
	return s
}

// newServerWithUser starts a tenant holding one user, auth0|1, that the test closes when it ends.
func newServerWithUser(t *testing.T, opts ...mgmttest.Option) *mgmttest.Server {
	t.Helper()
	s := newServer(t, opts...)
	s.PutUser(mgmttest.User{ID: "auth0|1"})
	return s
}

// newClient builds the go-auth0 management client the way rulehook must against an emulator: the
// bare host, WithInsecure before WithClientCredentials (so the token URL is http), an HTTP client
// with a timeout, and a transport that hands 429/408/5xx back as errors. go-auth0 v3.4.0 sleeps
// before it checks whether it may retry (until X-RateLimit-Reset, up to a minute, ignoring the
// context) even with option.WithoutRetries(); see TestGoAuth0SleepsOnRetryableStatusEvenWithoutRetries.
func newClient(t *testing.T, s *mgmttest.Server, timeout time.Duration) *client.Management {
	t.Helper()
	hc := &http.Client{Timeout: timeout, Transport: failFast{http.DefaultTransport}}
	return newClientWith(t, s, hc)
}

func newClientWith(t *testing.T, s *mgmttest.Server, hc *http.Client) *client.Management {
	t.Helper()
	m, err := client.New(s.Host(),
		option.WithInsecure(),
		option.WithClientCredentials(context.Background(), s.ClientID(), s.ClientSecret()),
		option.WithoutRetries(),
		option.WithHTTPClient(hc),
	)
	if err != nil {
		t.Fatalf("client.New: %v", err)
	}
	return m
}

// statusError is a retryable answer that failFast turned into an error.
type statusError struct {
	StatusCode int
	Header     http.Header
	Body       string
}

func (e *statusError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.StatusCode, e.Body) }

// failFast returns 429, 408 and 5xx answers as *statusError, so that go-auth0's retrier never
// sees (and never sleeps on) them.
type failFast struct{ next http.RoundTripper }

func (f failFast) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := f.next.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusRequestTimeout &&
		resp.StatusCode < 500 {
		return resp, nil
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return nil, &statusError{StatusCode: resp.StatusCode, Header: resp.Header, Body: string(body)}
}

// statusOf returns the HTTP status of a go-auth0 error, 0 when it has none.
func statusOf(err error) int {
	var apiErr *core.APIError
	if errors.As(err, &apiErr) {
		return apiErr.StatusCode
	}
	var se *statusError
	if errors.As(err, &se) {
		return se.StatusCode
	}
	return 0
}

// rawResponse is an answer read whole.
type rawResponse struct {
	Status int
	Header http.Header
	Body   map[string]any
	Raw    string
}

// do sends a raw request (JSON body when body is not a string or url.Values) with an optional
// bearer token.
func do(t *testing.T, method, u string, body any, bearer string) rawResponse {
	t.Helper()
	var rd io.Reader
	ct := ""
	switch b := body.(type) {
	case nil:
	case string:
		rd, ct = strings.NewReader(b), "application/json"
	case url.Values:
		rd, ct = strings.NewReader(b.Encode()), "application/x-www-form-urlencoded"
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd, ct = strings.NewReader(string(j)), "application/json"
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		t.Fatal(err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := rawResponse{Status: resp.StatusCode, Header: resp.Header, Raw: string(raw)}
	_ = json.Unmarshal(raw, &out.Body)
	return out
}

// tokenFor runs the client-credentials grant for id and returns the answer's token and scope.
func tokenFor(t *testing.T, s *mgmttest.Server, id, secret string) (token, scope string) {
	t.Helper()
	resp := do(t, "POST", s.URL()+"/oauth/token", url.Values{
		"grant_type": {"client_credentials"}, "client_id": {id},
		"client_secret": {secret}, "audience": {s.Audience()},
	}, "")
	token, _ = resp.Body["access_token"].(string)
	scope, _ = resp.Body["scope"].(string)
	if resp.Status != 200 || token == "" {
		t.Fatalf("POST /oauth/token for %s = %d %s; want 200", id, resp.Status, resp.Raw)
	}
	return token, scope
}

// accessToken gets a Management API token for the tenant's own client, as tokenFor does.
func accessToken(t *testing.T, s *mgmttest.Server) string {
	t.Helper()
	tok, _ := tokenFor(t, s, s.ClientID(), s.ClientSecret())
	return tok
}
