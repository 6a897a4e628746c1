package mgmt

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/rulehook/rulehook/metadata"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultTimeout         = time.Second
	DefaultQueueReserve    = 250 * time.Millisecond
	DefaultLowRemaining    = 2
	DefaultBreakerFailures = 5
	DefaultBreakerOpen     = 10 * time.Second
)

// Config configures a Writer. Zero values take the defaults named on each field.
type Config struct {
	// BaseURL is the tenant: "https://example.us.auth0.com" (AUTH0_MANAGEMENT_URL). The token
	// endpoint is BaseURL+"/oauth/token" and the API BaseURL+"/api/v2/". http:// is accepted only
	// for loopback hosts (the emulated tenant, tests).
	BaseURL string
	// ClientID and ClientSecret are the M2M application's credentials (client-credentials grant).
	ClientID, ClientSecret string
	// Audience is the Management API audience asked for at /oauth/token; default
	// BaseURL+"/api/v2/". Set it to "https://"+AUTH0_DOMAIN+"/api/v2/" when BaseURL is not the
	// tenant's own domain.
	Audience string
	// Timeout bounds each HTTP call (token request, GET, PATCH); default DefaultTimeout. It must
	// leave room inside the callout deadline for the rest of the login.
	Timeout time.Duration
	// QueueReserve is the part of a Write's context deadline kept for queueing when the PATCH
	// fails; default DefaultQueueReserve.
	QueueReserve time.Duration
	// Policy holds the rules the worker re-runs; it must be valid (metadata.Policy.Validate).
	Policy metadata.Policy
	// LowRemaining is the reserve of the Writer's Budget: Background calls (the worker, reconcile)
	// wait for X-RateLimit-Reset while the tenant's bucket holds no more than LowRemaining (at most
	// X-RateLimit-Limit less one), leaving the last calls of the window to logins.
	// 0 means DefaultLowRemaining; negative disables the pacing.
	LowRemaining int
	// BreakerFailures consecutive failed calls (5xx, timeouts, network errors, configuration
	// errors; a read that succeeds is not counted, so reads never close it) open the circuit breaker
	// (default DefaultBreakerFailures); it stays open for BreakerOpen (default DefaultBreakerOpen),
	// then lets one call probe the tenant.
	BreakerFailures uint32
	BreakerOpen     time.Duration
	// ConfigRetry is how long calls of a kind (reads or writes) wait after a configuration error
	// (a 403, or a 401 that a fresh token did not cure), default DefaultConfigRetry. Writes are
	// queued meanwhile and the worker tries again after it; each such wait logs one ERROR line
	// naming the missing scope (see Writer.ConfigError).
	ConfigRetry time.Duration
	// Logger receives JSON-friendly records; nil discards them. No token, secret or email is
	// ever logged; user ids are.
	Logger *slog.Logger
	// Auditor, when set, receives an entry for every change written.
	Auditor Auditor
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// withDefaults returns c with its zero fields filled in and every problem found, joined.
func (c Config) withDefaults() (Config, *url.URL, error) {
	var errs []error
	u, err := ParseBaseURL(c.BaseURL)
	if err != nil {
		errs = append(errs, err)
	}
	if c.ClientID == "" {
		errs = append(errs, errors.New("client id is required"))
	}
	if c.ClientSecret == "" {
		errs = append(errs, errors.New("client secret is required"))
	}
	errs = positiveOr(errs, &c.Timeout, DefaultTimeout, "timeout")
	errs = positiveOr(errs, &c.QueueReserve, DefaultQueueReserve, "queue reserve")
	if err := c.Policy.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("policy: %w", err))
	}
	c.LowRemaining = cmp.Or(c.LowRemaining, DefaultLowRemaining)
	c.BreakerFailures = cmp.Or(c.BreakerFailures, DefaultBreakerFailures)
	errs = positiveOr(errs, &c.BreakerOpen, DefaultBreakerOpen, "breaker open time")
	errs = positiveOr(errs, &c.ConfigRetry, DefaultConfigRetry, "config retry")
	if u != nil && c.Audience == "" {
		c.Audience = u.String() + "/api/v2/"
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if len(errs) > 0 {
		return c, nil, fmt.Errorf("%w: mgmt config: %w", metadata.ErrInvalid, errors.Join(errs...))
	}
	return c, u, nil
}

// positiveOr sets *d to def when it is zero and appends to errs the problem of a negative one.
func positiveOr(errs []error, d *time.Duration, def time.Duration, name string) []error {
	*d = cmp.Or(*d, def)
	if *d < 0 {
		errs = append(errs, fmt.Errorf("%s must be positive, got %s", name, *d))
	}
	return errs
}

// ParseBaseURL returns a tenant base URL reduced to scheme and host: https://host[:port], or, for
// loopback hosts only (emulators, tests), http://host:port. A path other than "/", a query, a
// fragment or user info is refused, because the token and API paths are fixed.
func ParseBaseURL(raw string) (*url.URL, error) {
	if raw == "" {
		return nil, errors.New("base url is required")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("base url %q: %w", raw, err)
	}
	switch {
	case u.Host == "":
		return nil, fmt.Errorf("base url %q has no host", raw)
	case u.User != nil, u.RawQuery != "", u.Fragment != "":
		return nil, fmt.Errorf("base url %q may hold only scheme, host and port", raw)
	case strings.TrimSuffix(u.Path, "/") != "":
		return nil, fmt.Errorf("base url %q must not have a path", raw)
	case u.Scheme == "https":
	case u.Scheme == "http" && isLoopback(u.Hostname()):
	case u.Scheme == "http":
		return nil, fmt.Errorf("base url %q: http is accepted only for loopback hosts", raw)
	default:
		return nil, fmt.Errorf("base url %q: scheme must be https", raw)
	}
	return &url.URL{Scheme: u.Scheme, Host: u.Host}, nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
