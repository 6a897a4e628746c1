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

	"github.com/auth0/go-auth0/v3/management/client"
	"github.com/auth0/go-auth0/v3/management/core"
	"github.com/auth0/go-auth0/v3/management/option"

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
	// ErrBuildTimeout: the Action was not built within Options.BuildTimeout. Running Deploy again
	// picks up where this run stopped.
	ErrBuildTimeout = errors.New("deployaction: the action was not built in time")
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
	switch e.Status {
	case http.StatusUnauthorized, http.StatusForbidden:
		msg += " (does the M2M application have read:actions, create:actions and update:actions?)"
	}
	return msg
}

// rateLimitAttempts is how many times a call answered 429 is sent in all; each retry waits for
// X-RateLimit-Reset. Any other failure is returned at once: Deploy is safe to run again.
const rateLimitAttempts = 4

// maxRateLimitWait caps the wait for one X-RateLimit-Reset.
const maxRateLimitWait = 30 * time.Second

// tenant is the Management API of one tenant, through go-auth0.
type tenant struct {
	api      *client.Management
	progress io.Writer
	redact   []string // values that must never appear in an error
}

// connect gets an access token and builds the go-auth0 client. The token is fetched here rather
// than by option.WithClientCredentials, whose source drops a token error (the API call then goes
// out without a token and the operator sees a bare 401) and fetches with http.DefaultClient (no
// timeout): here a refused token is an *APIError saying so.
func connect(ctx context.Context, c config) (*tenant, error) {
	// Background in a budget of its own: the polls wait while the tenant's bucket is down to the
	// reserve the logins of a running rulehook need (Auth0's free tier: one bucket for every call).
	budget := mgmt.NewBudget(mgmt.BudgetOptions{})
	hc := &http.Client{Timeout: c.RequestTimeout, Transport: budget.Transport(http.DefaultTransport, mgmt.Background)}
	redact := []string{c.ClientSecret}
	for _, v := range c.Secrets {
		redact = append(redact, v)
	}
	token, err := fetchToken(ctx, hc, c, redact)
	if err != nil {
		return nil, err
	}
	opts := []option.RequestOption{option.WithHTTPClient(hc), option.WithToken(token)}
	if c.base.Scheme == "http" { // loopback only, checked by mgmt.ParseBaseURL
		opts = append(opts, option.WithInsecure())
	}
	api, err := client.New(c.base.Host, opts...)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidOptions, err)
	}
	return &tenant{api: api, progress: c.Progress, redact: redact}, nil
}

// fetchToken runs the client-credentials grant against base/oauth/token.
func fetchToken(ctx context.Context, hc *http.Client, c config, redact []string) (string, error) {
	form := url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {c.ClientID},
		"client_secret": {c.ClientSecret},
		"audience":      {c.audience},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base.String()+"/oauth/token", strings.NewReader(form.Encode()))
	if err != nil {
		return "", &APIError{Op: "token", Message: err.Error()}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return "", &APIError{Op: "token", Message: transportMessage(err)}
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var ans struct {
		AccessToken string `json:"access_token"`
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	decodeErr := json.Unmarshal(raw, &ans)
	if resp.StatusCode != http.StatusOK {
		msg := strings.TrimSpace(ans.Error + ": " + ans.Description)
		return "", &APIError{Op: "token", Status: resp.StatusCode, Message: scrub(strings.Trim(msg, ": "), redact)}
	}
	if decodeErr != nil || ans.AccessToken == "" {
		return "", &APIError{Op: "token", Status: resp.StatusCode, Message: "answer holds no access_token"}
	}
	return ans.AccessToken, nil
}

// do runs one go-auth0 call without the SDK's retrier (its sleeps ignore the context), retrying
// only a 429, after X-RateLimit-Reset: such a request was not processed.
func (t *tenant) do(ctx context.Context, op string, call func(opts ...option.RequestOption) error) error {
	for attempt := 1; ; attempt++ {
		// WithoutRetries must be given per request: go-auth0 v3.4.0 ignores it at client level.
		err := call(option.WithoutRetries())
		if err == nil {
			return nil
		}
		var apiErr *core.APIError
		if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusTooManyRequests || attempt == rateLimitAttempts {
			return t.wrap(op, err)
		}
		wait := rateLimitWait(apiErr.Header, time.Now())
		fmt.Fprintf(t.progress, "  rate limited (%s); waiting %s\n", op, wait.Round(time.Millisecond))
		if err := sleep(ctx, wait); err != nil {
			return t.wrap(op, err)
		}
	}
}

// wrap turns a go-auth0 error into an *APIError with Auth0's message, scrubbed of secret values.
func (t *tenant) wrap(op string, err error) error {
	var apiErr *core.APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode == 0 {
		return &APIError{Op: op, Message: scrub(transportMessage(err), t.redact)}
	}
	msg := ""
	if raw := apiErr.Unwrap(); raw != nil { // go-auth0 keeps the raw body as the wrapped error
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
	return &APIError{Op: op, Status: apiErr.StatusCode, Message: scrub(msg, t.redact)}
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

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
