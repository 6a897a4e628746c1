package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// ErrOptions is wrapped by Run when Options are invalid; the message lists every problem.
var ErrOptions = errors.New("bench: invalid options")

// Defaults applied by Run to zero-valued Options fields.
const (
	DefaultUsers       = 1000
	DefaultConnections = 16
	DefaultTimeout     = 5 * time.Second
	// MaxUsers bounds Users: bodies are built up front, about 350 bytes per user.
	MaxUsers = 1_000_000
)

// Options configure one Run. URL, Secret, Issuer, Audience and Duration are required.
type Options struct {
	// URL is rulehook's base URL, e.g. "http://127.0.0.1:8080". Only URL+"/v1/post-login" and
	// URL+"/healthz" are requested.
	URL string
	// Secret is the HS256 callout key (CALLOUT_SECRET, at least 32 bytes).
	Secret []byte
	// Issuer and Audience are the iss and aud of every callout token.
	Issuer, Audience string
	// Users is the number of distinct users ("bench|000000" ...), used round-robin. 0 means
	// DefaultUsers.
	Users int
	// Connections is the number of workers. In the closed loop (Rate 0) each sends its next request
	// when the previous one answered. In the open loop it bounds the requests in flight: a request
	// whose time comes while all are busy is sent late, and the wait counts in its latency; one
	// still unsent a Timeout after the window closed is counted as "unsent".
	// 0 means DefaultConnections.
	Connections int
	// Rate is the open loop's fixed request rate per second; 0 selects the closed loop.
	Rate int
	// Duration is the measured time per target; it must be positive.
	Duration time.Duration
	// Warmup runs the same load before measuring; its requests are not counted.
	Warmup time.Duration
	// Timeout bounds one request (counted as "timeout" when exceeded). 0 means DefaultTimeout.
	// It is applied when HTTPClient has no Timeout of its own.
	Timeout time.Duration
	// CompareHealthz also measures GET /healthz with the same load shape: Duration/2 before the
	// callout phase and Duration/2 after it, recorded together, and reports the throughput ratio.
	CompareHealthz bool
	// Progress, when set, receives one plain line per second while a phase runs.
	Progress io.Writer
	// HTTPClient sends the requests. nil means a keep-alive client with MaxIdleConnsPerHost =
	// Connections and no proxy. A supplied client is copied and never follows redirects.
	HTTPClient *http.Client
	// ManagementCalls, when set, is read just before and just after the measured callout window;
	// the difference is reported as Management API calls (per login). The caller decides where
	// the count comes from (the emulated tenant's request log, a metrics scrape).
	ManagementCalls func(context.Context) (int64, error)
}

// withDefaults returns o with zero values replaced, and an error wrapping ErrOptions listing every
// invalid field.
func (o Options) withDefaults() (Options, error) {
	if o.Users == 0 {
		o.Users = DefaultUsers
	}
	if o.Connections == 0 {
		o.Connections = DefaultConnections
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	var problems []string
	if u, err := url.Parse(o.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		problems = append(problems, "URL must be an absolute http(s) URL")
	} else if u.RawQuery != "" || u.Fragment != "" {
		problems = append(problems, "URL must not carry a query or fragment")
	}
	if len(o.Secret) < 32 {
		problems = append(problems, "Secret must be at least 32 bytes")
	}
	if o.Issuer == "" {
		problems = append(problems, "Issuer is required")
	}
	if o.Audience == "" {
		problems = append(problems, "Audience is required")
	}
	if o.Users < 0 || o.Users > MaxUsers {
		problems = append(problems, fmt.Sprintf("Users must be between 1 and %d", MaxUsers))
	}
	if o.Connections < 0 {
		problems = append(problems, "Connections must be positive")
	}
	if o.Rate < 0 || o.Rate > 1_000_000 {
		problems = append(problems, "Rate must be between 0 (closed loop) and 1000000")
	}
	if o.Duration <= 0 {
		problems = append(problems, "Duration must be positive")
	}
	if o.Warmup < 0 {
		problems = append(problems, "Warmup must not be negative")
	}
	if o.Timeout < 0 {
		problems = append(problems, "Timeout must not be negative")
	}
	if len(problems) > 0 {
		return o, fmt.Errorf("%w: %s", ErrOptions, strings.Join(problems, "; "))
	}
	o.URL = strings.TrimRight(o.URL, "/")
	return o, nil
}

// mode describes the load shape for the report.
func (o Options) mode() string {
	if o.Rate > 0 {
		return fmt.Sprintf("open loop, %d req/s, up to %d in flight", o.Rate, o.Connections)
	}
	return fmt.Sprintf("closed loop, %d connections", o.Connections)
}

// client returns the HTTP client to use and whether Run owns its transport.
func (o Options) client() (*http.Client, bool) {
	noRedirect := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if o.HTTPClient != nil {
		c := *o.HTTPClient
		c.CheckRedirect = noRedirect
		if c.Timeout == 0 {
			c.Timeout = o.Timeout
		}
		return &c, false
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	tr.MaxIdleConns = 2 * o.Connections
	tr.MaxIdleConnsPerHost = o.Connections
	tr.DisableCompression = true
	return &http.Client{Transport: tr, Timeout: o.Timeout, CheckRedirect: noRedirect}, true
}
