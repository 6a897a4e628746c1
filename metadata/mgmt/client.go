package mgmt

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/auth0/go-auth0/v3/management/client"
	"github.com/auth0/go-auth0/v3/management/core"
	"github.com/auth0/go-auth0/v3/management/option"

	"github.com/rulehook/rulehook/metadata"
)

// ClientConfig says which tenant a Client talks to, as whom.
type ClientConfig struct {
	// BaseURL, ClientID, ClientSecret and Audience are as in Config.
	BaseURL, ClientID, ClientSecret, Audience string
	// Timeout bounds each HTTP call, the token request included; default DefaultTimeout.
	Timeout time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Transport carries the Management API calls (not the token requests); nil means a clone of
	// http.DefaultTransport. deploy-action passes a Budget's Transport, so its polls yield to logins.
	Transport http.RoundTripper
}

// Client is the Management API as every rulehook command reaches it: go-auth0 v3 over rulehook's
// transport, which hands 408, 429 and 5xx answers back as errors before the SDK can sleep on them
// (see StatusOf), with one cached client-credentials token that a waiting caller can give up on.
// The Writer uses the same construction. It is safe for concurrent use.
type Client struct {
	// API is the go-auth0 client. Give every call the options of Options.
	API    *client.Management
	tokens *tokenSource
}

// Grant is an access token and the scopes the tenant granted it.
type Grant struct {
	Token  string
	Scopes []string // from the token answer's scope field, else from the token's scope claim
}

// NewClient returns a Client for cfg. It makes no network call. The error wraps
// metadata.ErrInvalid and lists every problem of cfg.
func NewClient(cfg ClientConfig) (*Client, error) {
	full := Config{BaseURL: cfg.BaseURL, ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret,
		Audience: cfg.Audience, Timeout: cfg.Timeout, Now: cfg.Now, Policy: metadata.DefaultPolicy}
	full, base, err := full.withDefaults()
	if err != nil {
		return nil, err
	}
	return newClient(full, base.Scheme+"://"+base.Host, cfg.Transport)
}

// newClient builds the go-auth0 client and the token source for a validated Config. api carries
// the API calls; nil means the transport the token requests use.
func newClient(cfg Config, base string, api http.RoundTripper) (*Client, error) {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = 32 // logins write concurrently; the default 2 churns connections
	hc := &http.Client{Timeout: cfg.Timeout, Transport: transport}
	if api == nil {
		api = transport
	}
	apiClient := &http.Client{Timeout: cfg.Timeout, Transport: noRetrySleepTransport{next: api}}

	scheme, host, _ := strings.Cut(base, "://")
	opts := []option.RequestOption{option.WithHTTPClient(apiClient), option.WithoutRetries()}
	if scheme == "http" { // loopback only, checked by ParseBaseURL
		opts = append(opts, option.WithInsecure())
	}
	m, err := client.New(host, opts...)
	if err != nil {
		return nil, fmt.Errorf("%w: mgmt: %w", metadata.ErrInvalid, err)
	}
	return &Client{API: m, tokens: &tokenSource{
		endpoint:     base + "/oauth/token",
		clientID:     cfg.ClientID,
		clientSecret: cfg.ClientSecret,
		audience:     cfg.Audience,
		client:       hc,
		timeout:      cfg.Timeout,
		now:          cfg.Now,
	}}, nil
}

// Grant returns the cached access token, fetching one when there is none, with its scopes. The
// error wraps metadata.ErrUnavailable (the token endpoint refused or failed; see StatusOf).
func (c *Client) Grant(ctx context.Context) (Grant, error) {
	g, err := c.tokens.grant(ctx)
	if err != nil {
		return Grant{}, err
	}
	return Grant{Token: g.token, Scopes: strings.Fields(g.scope)}, nil
}

// Options returns the options every call through API needs: the token, and no SDK retries
// (go-auth0 v3.4.0 ignores WithoutRetries at client level). The error is Grant's.
func (c *Client) Options(ctx context.Context) ([]option.RequestOption, error) {
	g, err := c.tokens.grant(ctx)
	if err != nil {
		return nil, err
	}
	return []option.RequestOption{option.WithToken(g.token), option.WithoutRetries()}, nil
}

// Refused tells the Client that the API answered 401 to its token, so the next call fetches anew.
func (c *Client) Refused() {
	c.tokens.mu.Lock()
	c.tokens.cur = grant{}
	c.tokens.mu.Unlock()
}

// StatusOf returns the HTTP status and headers of a failed call through a Client (or a Writer):
// an answer the transport took from go-auth0 (408, 429, 5xx, the token endpoint's refusals), or a
// go-auth0 *core.APIError. It returns 0 and nil when there was no answer.
func StatusOf(err error) (int, http.Header) {
	var ans *retryableAnswer
	var apiErr *core.APIError
	switch {
	case errors.As(err, &ans):
		return ans.status, ans.header
	case errors.As(err, &apiErr):
		return apiErr.StatusCode, apiErr.Header
	}
	return 0, nil
}
