package mgmt

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rulehook/rulehook/metadata"
)

// tokenSource gets Management API access tokens with the client-credentials grant and keeps each
// for its lifetime, so many writes share one /oauth/token request.
//
// It replaces go-auth0's option.WithClientCredentials, whose golang.org/x/oauth2 source fetches
// with http.DefaultClient (no timeout) under the context given at construction, while holding the
// lock every later call waits on, and whose error the SDK drops (the request then goes out without
// Authorization and comes back 401). Here a fetch runs once for all waiting callers, is bounded by
// the writer's Timeout, each caller waits only as long as its own context allows, and a failure is
// an error wrapping metadata.ErrUnavailable.
type tokenSource struct {
	endpoint     string
	clientID     string
	clientSecret string
	audience     string
	client       *http.Client
	timeout      time.Duration
	now          func() time.Time
	requests     atomic.Int64

	mu       sync.Mutex
	cur      grant // cur.expiry: renew from here on
	inflight *tokenFetch
	forced   time.Time // last refresh forced by a 401
}

// forcedRefreshEvery bounds the token refreshes that 401 answers cause: at most one per 30 s.
const forcedRefreshEvery = 30 * time.Second

// grant is one access token with the scopes the tenant granted it.
type grant struct {
	token  string
	scope  string // space-separated, as the token answer (or the token's claim) has it
	expiry time.Time
}

type tokenFetch struct {
	done chan struct{}
	grant
	err error
}

// Token returns a valid access token, fetching one when none is cached.
func (s *tokenSource) Token(ctx context.Context) (string, error) {
	g, err := s.grant(ctx)
	return g.token, err
}

// grant returns the cached grant while it is valid, else fetches one.
func (s *tokenSource) grant(ctx context.Context) (grant, error) {
	s.mu.Lock()
	if s.cur.token != "" && s.now().Before(s.cur.expiry) {
		g := s.cur
		s.mu.Unlock()
		return g, nil
	}
	f := s.inflight
	if f == nil {
		f = &tokenFetch{done: make(chan struct{})}
		s.inflight = f
		go s.fetch(f)
	}
	s.mu.Unlock()
	select {
	case <-f.done:
		return f.grant, f.err
	case <-ctx.Done():
		return grant{}, fmt.Errorf("%w: waiting for a management api token: %w", metadata.ErrUnavailable, ctx.Err())
	}
}

// refreshFor is called after the API refused token with 401. It returns true when the caller
// should try once more with Token: another caller has replaced or dropped the token already (the
// caller then gets the new one, or joins the fetch under way), or a refresh is allowed (none was
// forced in the last forcedRefreshEvery) and token has been dropped. False means the refusal
// survives a fresh token: a configuration error.
func (s *tokenSource) refreshFor(token string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur.token != token {
		return true
	}
	now := s.now()
	if !s.forced.IsZero() && now.Sub(s.forced) < forcedRefreshEvery {
		return false
	}
	s.forced = now
	s.cur = grant{}
	return true
}

// fetch runs detached from any one caller, so a caller giving up does not fail the others.
func (s *tokenSource) fetch(f *tokenFetch) {
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	f.grant, f.err = s.request(ctx)
	s.mu.Lock()
	if f.err == nil {
		s.cur = f.grant
	}
	s.inflight = nil
	s.mu.Unlock()
	close(f.done)
}

type tokenAnswer struct {
	AccessToken string `json:"access_token"`
	ExpiresIn   int64  `json:"expires_in"`
	TokenType   string `json:"token_type"`
	Scope       string `json:"scope"`
	Error       string `json:"error"`
}

func (s *tokenSource) request(ctx context.Context) (grant, error) {
	form := url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {s.clientID},
		"client_secret": {s.clientSecret},
		"audience":      {s.audience},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return grant{}, fmt.Errorf("%w: token request: %w", metadata.ErrUnavailable, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	s.requests.Add(1)
	start := s.now()
	resp, err := s.client.Do(req)
	if err != nil {
		return grant{}, fmt.Errorf("%w: token request: %w", metadata.ErrUnavailable, err)
	}
	defer resp.Body.Close()
	var ans tokenAnswer
	decodeErr := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&ans)
	if resp.StatusCode != http.StatusOK {
		// ans.Error is Auth0's short code ("access_denied"); the description is not kept. The
		// retryableAnswer lets a 429 close the rate-limit gate.
		return grant{}, fmt.Errorf("%w: token request %w %s", metadata.ErrUnavailable,
			&retryableAnswer{status: resp.StatusCode, header: resp.Header}, ans.Error)
	}
	if decodeErr != nil || ans.AccessToken == "" {
		return grant{}, fmt.Errorf("%w: token request answered 200 without an access token", metadata.ErrUnavailable)
	}
	scope := ans.Scope
	if scope == "" {
		scope = scopeClaim(ans.AccessToken)
	}
	return grant{token: ans.AccessToken, scope: scope, expiry: start.Add(renewAfter(ans.ExpiresIn))}, nil
}

// scopeClaim reads the scope claim of a JWT access token, for a token answer without a scope
// field. The token is not verified: it is our own, fresh from the token endpoint, and the claim
// only informs (rulehook doctor); the API checks the token itself on every call.
func scopeClaim(token string) string {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return ""
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var claims struct {
		Scope string `json:"scope"`
	}
	_ = json.Unmarshal(raw, &claims)
	return claims.Scope
}

// renewAfter is how long a token that lives expiresIn seconds is used: a tenth of its life (at
// most 5 minutes) is left as margin for clock skew and calls in flight. Without expires_in the
// token is used for a minute.
func renewAfter(expiresIn int64) time.Duration {
	if expiresIn <= 0 {
		return time.Minute
	}
	life := time.Duration(expiresIn) * time.Second
	return life - min(life/10, 5*time.Minute)
}
