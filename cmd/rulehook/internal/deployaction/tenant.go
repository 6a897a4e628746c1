package deployaction

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/auth0/go-auth0/v3/management/core"
	"github.com/auth0/go-auth0/v3/management/option"

	"github.com/rulehook/rulehook/metadata"
	"github.com/rulehook/rulehook/metadata/mgmt"
)

// Errors Deploy returns (wrapped; test with errors.Is). A refused or failed Management API call is
// an *APIError.
var (
	// ErrInvalidOptions: the Options are incomplete or invalid; nothing was sent.
	ErrInvalidOptions = errors.New("deployaction: invalid options")
	// ErrNameTaken: an Action with the name exists but does not support the post-login trigger.
	// Names are unique in a tenant, so it cannot be created either; nothing was changed.
	ErrNameTaken = errors.New("deployaction: the action name is taken by an action of another trigger")
	// ErrBuildFailed: Auth0 reported the Action (or its new version) as failed to build. The draft
	// holds the new code; the deployed version and the bindings are untouched.
	ErrBuildFailed = errors.New("deployaction: the action failed to build")
	// ErrBuildTimeout: the Action was not built and deployed within Options.BuildTimeout. Running
	// Deploy again picks up where this run stopped.
	ErrBuildTimeout = errors.New("deployaction: the action was not built and deployed in time")
)

// APIError is a Management API (or token) call that was refused or failed. It carries Auth0's
// short message, never a request body, token or secret value.
type APIError struct {
	Op      string // what was attempted, e.g. "create action", "token"
	Status  int    // HTTP status; 0 when there was no answer
	Message string // Auth0's message, or the transport error
}

func (e *APIError) Error() string {
	if e.Status == 0 {
		return fmt.Sprintf("deployaction: %s: %s", e.Op, e.Message)
	}
	msg := fmt.Sprintf("deployaction: %s: answered %d", e.Op, e.Status)
	if e.Message != "" {
		msg += ": " + e.Message
	}
	switch {
	case e.Op == "token" && (e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden):
		msg += " (are AUTH0_CLIENT_ID and AUTH0_CLIENT_SECRET right, and is the application authorised for the Management API?)"
	case e.Status == http.StatusUnauthorized, e.Status == http.StatusForbidden:
		msg += " (does the M2M application have read:actions, create:actions and update:actions?)"
	}
	return msg
}

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

// wrap turns a failed call into an *APIError with Auth0's message, scrubbed of secret values.
func (t *tenant) wrap(op string, err error) error {
	status, _ := mgmt.StatusOf(err)
	if status == 0 {
		return &APIError{Op: op, Message: scrub(transportMessage(err), t.redact)}
	}
	msg := ""
	var apiErr *core.APIError
	if errors.As(err, &apiErr) && apiErr.Unwrap() != nil { // go-auth0 keeps the raw body as the wrapped error
		raw := apiErr.Unwrap()
		var body struct {
			Message string `json:"message"`
		}
		if json.Unmarshal([]byte(raw.Error()), &body) == nil {
			msg = body.Message
		}
	}
	if len(msg) > 300 {
		msg = msg[:300] + "..."
	}
	return &APIError{Op: op, Status: status, Message: scrub(msg, t.redact)}
}

// transportMessage keeps the reason of a failed round trip without go-auth0's and net/http's
// prefixes.
func transportMessage(err error) string {
	var uerr *url.Error
	switch {
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, context.DeadlineExceeded):
		return "timed out"
	case errors.As(err, &uerr):
		if uerr.Timeout() {
			return "timed out"
		}
		return uerr.Err.Error()
	}
	return err.Error()
}

// scrub replaces every occurrence of a secret value in s.
func scrub(s string, values []string) string {
	for _, v := range values {
		if len(v) >= 4 { // shorter values ("open") are not secret and would mangle the text
			s = strings.ReplaceAll(s, v, "[redacted]")
		}
	}
	return s
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
