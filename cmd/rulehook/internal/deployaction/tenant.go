package deployaction

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/auth0/go-auth0/v3/management/option"

	"github.com/rulehook/rulehook/metadata"
	"github.com/rulehook/rulehook/metadata/mgmt"
)

// rateLimitAttempts is how many times a call answered 429 is sent in all; each retry waits for
// X-RateLimit-Reset. Any other failure is returned at once: Deploy is safe to run again.
const rateLimitAttempts = 4

// maxRateLimitWait caps the wait for one X-RateLimit-Reset.
const maxRateLimitWait = 30 * time.Second

// tenant is the Management API of one tenant: the go-auth0 client and token path of package mgmt,
// the same the service uses (and so the same pacing).
type tenant struct {
	conn     *mgmt.Client
	progress io.Writer
	redact   []string // values that must never appear in an error
}

// connect builds the client and gets an access token at once, so that a refused token is an
// *APIError saying so before anything else is tried.
func connect(ctx context.Context, c config) (*tenant, error) {
	// Background in a budget of its own: the calls wait while the tenant's bucket is down to the
	// reserve the logins of a running rulehook need (Auth0's free tier: one bucket for every call).
	budget := mgmt.NewBudget(mgmt.BudgetOptions{})
	redact := []string{c.ClientSecret}
	for _, v := range c.Secrets {
		redact = append(redact, v)
	}
	conn, err := mgmt.NewClient(mgmt.ClientConfig{
		BaseURL: c.base.String(), ClientID: c.ClientID, ClientSecret: c.ClientSecret,
		Audience: c.audience, Timeout: c.RequestTimeout,
		Transport: budget.Transport(http.DefaultTransport, mgmt.Background),
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidOptions, err)
	}
	t := &tenant{conn: conn, progress: c.Progress, redact: redact}
	if _, err := conn.Grant(ctx); err != nil {
		return nil, t.wrap("token", err)
	}
	return t, nil
}

// do runs one go-auth0 call with the cached token and without the SDK's retrier (its sleeps
// ignore the context), retrying only a 429, after X-RateLimit-Reset: such a request was not
// processed.
func (t *tenant) do(ctx context.Context, op string, call func(opts ...option.RequestOption) error) error {
	for attempt := 1; ; attempt++ {
		opts, err := t.conn.Options(ctx)
		if err != nil {
			return t.wrap("token", err)
		}
		err = call(opts...)
		if err == nil {
			return nil
		}
		status, header := mgmt.StatusOf(err)
		if status == http.StatusUnauthorized {
			t.conn.Refused()
		}
		if status != http.StatusTooManyRequests || attempt == rateLimitAttempts {
			return t.wrap(op, err)
		}
		wait := rateLimitWait(header, time.Now())
		fmt.Fprintf(t.progress, "  rate limited (%s); waiting %s\n", op, wait.Round(time.Millisecond))
		if err := metadata.Sleep(ctx, wait); err != nil {
			return t.wrap(op, err)
		}
	}
}

// rateLimitWait is how long to wait after a 429: until X-RateLimit-Reset (Unix seconds), at least
// a little and at most maxRateLimitWait; a second without the header.
func rateLimitWait(h http.Header, now time.Time) time.Duration {
	reset, err := strconv.ParseInt(h.Get("X-RateLimit-Reset"), 10, 64)
	if err != nil {
		return time.Second
	}
	return min(max(time.Unix(reset, 0).Sub(now), 100*time.Millisecond), maxRateLimitWait)
}
