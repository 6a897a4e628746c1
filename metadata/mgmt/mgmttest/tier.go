package mgmttest

import (
	"net/http"
	"slices"
	"strings"
)

// Tier is a subscription's set of Management API rate-limit buckets, as WithTier enforces them.
// A request is counted against the first bucket that matches it; one that matches none gets the
// informational bucket of DefaultRateLimit, which never refuses.
//
// Auth0 rate-limits with token buckets: the bucket size is the burst limit and the refill rate the
// sustained limit ("Rate Limit Policy", section "Rate limit algorithm"). Auth0 evaluates a request
// against the API's global limit and then against its endpoint's ("Tenant request limits order");
// here each tier names the bucket that binds for each call rulehook makes. Sources: Auth0 docs
// "Rate Limit Configurations: Free" and "...: Self Service"
// (auth0/docs-v2 main/docs/troubleshoot/customer-support/operational-policies/rate-limit-policy/),
// and "Management API Endpoint Rate Limits" (auth0/docs articles/policies/rate-limits-mgmt-api.md).
type Tier struct {
	// Name names the tier in errors and figures ("free", "self-service").
	Name string
	// Buckets are matched in order.
	Buckets []Bucket
}

// Bucket is one token bucket of a Tier.
type Bucket struct {
	// Name is the bucket's name in Auth0's tables ("Management API", "Write Users").
	Name string
	// Burst is the bucket size (Auth0's "Burst Request Limit"), the X-RateLimit-Limit answered.
	Burst int
	// PerSecond is the refill rate (Auth0's "Sustained Request Limit"). Auth0 refills per-second
	// limits by the millisecond; this bucket refills continuously for every limit.
	PerSecond float64
	// Methods the bucket counts; empty means every method.
	Methods []string
	// Path is the path the bucket counts, with everything under it ("/api/v2/users" counts
	// "/api/v2/users/auth0|1" too); "/api/v2" counts the whole Management API.
	Path string
}

func (b Bucket) matches(r *http.Request) bool {
	if len(b.Methods) > 0 && !slices.Contains(b.Methods, r.Method) {
		return false
	}
	p := r.URL.Path
	return p == b.Path || strings.HasPrefix(p, strings.TrimSuffix(b.Path, "/")+"/")
}

// FreeTier is Auth0's free subscription: every Management API call (reads, writes, Actions, jobs)
// shares one bucket of 2 requests, refilled at 2 per second; past it Auth0 answers 429 "Global
// limit has been reached" (Auth0 docs "Rate Limit Configurations: Free", Management API table:
// burst 2, sustained 2/second; the community answer "429 - Too many requests",
// community.auth0.com/t/429-too-many-requests/81374, for the message). /oauth/token is the
// Authentication API's "Get Token" bucket: 30, refilled at 30 per second.
func FreeTier() Tier {
	return Tier{Name: "free", Buckets: []Bucket{
		{Name: "Get Token", Burst: 30, PerSecond: 30, Methods: []string{http.MethodPost}, Path: "/oauth/token"},
		{Name: "Management API", Burst: 2, PerSecond: 2, Path: "/api/v2"},
	}}
}

// SelfServiceTier is Auth0's paid self-service subscription, where reads and writes of users
// have buckets of their own: "Read Users" (GET, 40, refilled at 500 per minute), "Write Users"
// (POST, PATCH, DELETE, 20, refilled at 200 per minute), and "All other Endpoints Combined" (10,
// refilled at 150 per minute) for the rest, Actions included (Auth0 docs "Rate Limit
// Configurations: Self Service", Management API table). /oauth/token counts against the
// Authentication API's 25, refilled at 25 per second.
func SelfServiceTier() Tier {
	return Tier{Name: "self-service", Buckets: []Bucket{
		{Name: "Authentication API", Burst: 25, PerSecond: 25, Path: "/oauth/token"},
		{Name: "Read Users", Burst: 40, PerSecond: 500.0 / 60, Methods: []string{http.MethodGet}, Path: "/api/v2/users"},
		{Name: "Write Users", Burst: 20, PerSecond: 200.0 / 60,
			Methods: []string{http.MethodPost, http.MethodPatch, http.MethodDelete}, Path: "/api/v2/users"},
		{Name: "All other Endpoints Combined", Burst: 10, PerSecond: 150.0 / 60, Path: "/api/v2"},
	}}
}

// WithTier enforces t's buckets on every request they match: a request that finds its bucket
// empty gets 429 with Auth0's body and X-RateLimit-Remaining 0. It replaces WithWriteRate.
func WithTier(t Tier) Option { return func(c *config) { c.tier = &t } }

// writeTier is the tier WithWriteRate sets up: POST, PUT, PATCH and DELETE under /api/v2/ share
// one bucket.
func writeTier(perSecond float64, burst int) Tier {
	return Tier{Name: "write rate", Buckets: []Bucket{{
		Name: "writes", Burst: burst, PerSecond: perSecond, Path: "/api/v2",
		Methods: []string{http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete},
	}}}
}
