package mgmt

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/rulehook/rulehook/metadata"
	"github.com/rulehook/rulehook/metadata/mgmt/mgmttest"
	"github.com/rulehook/rulehook/metadata/testkit"
)

// configRetry is the tests' Config.ConfigRetry: long next to a call, short for a test.
const configRetry = 300 * time.Millisecond

// TestPatchOnly403IsParked: a PATCH-only 403 insufficient_scope (Auth0's body) is a
// configuration error. Writes are queued, none is lost; calls are parked, so each interval costs
// one probe (a GET and a PATCH), with one ERROR line naming the missing scope; Stats and
// ConfigError report it. When the scope is granted, the queue drains.
func TestPatchOnly403IsParked(t *testing.T) {
	logs := &logBuffer{}
	e := newEnv(t, capture(logs), func(c *Config) { c.ConfigRetry = configRetry })
	e.tenant.SetFault(http.MethodPatch, "/api/v2/users/*", mgmttest.InsufficientScope("update:users", "update:users_app_metadata"))
	const users = 5
	for i := range users {
		id := fmt.Sprintf("auth0|scope%d", i)
		e.tenant.PutUser(tenantUser(id, []any{"admin"}, nil))
		e.setPlays(id, 150)
		out, err := e.loginWrite(e.w, domainUser(e.user(id)), 150, time.Second)
		if err != nil || out != metadata.Queued {
			t.Fatalf("login Write %d with a 403 = %v, %v; want queued, nil", i, out, err)
		}
	}
	if n := e.tenant.Count(http.MethodPatch, "/api/v2/users/"); n != 1 {
		t.Errorf("PATCHes for %d logins = %d; want 1 (the others are parked without a call)", users, n)
	}
	e.startWorker(e.w, "w1")
	testkit.WaitUntil(t, "three parkings", func() bool { return logs.errorLines("update:users") >= 3 })
	parkings, patches := logs.errorLines("update:users"), e.tenant.Count(http.MethodPatch, "/api/v2/users/")
	gets := e.tenant.Count(http.MethodGet, "/api/v2/users/")
	if patches > parkings+1 || gets > patches+1 {
		t.Errorf("%d parkings cost %d PATCHes and %d GETs; want one probe (a GET and a PATCH) each", parkings, patches, gets)
	}
	if lines := logs.errorLines(""); lines > parkings+1 {
		t.Errorf("ERROR lines = %d for %d parkings; want one per parking\n%s", lines, parkings, logs)
	}
	ce, ok := e.w.ConfigError()
	if !ok || ce.Status != http.StatusForbidden || !slices.Equal(ce.Scopes, []string{"update:users", "update:users_app_metadata"}) {
		t.Errorf("ConfigError = %+v, %v; want the 403 naming update:users, update:users_app_metadata", ce, ok)
	}
	if s := e.w.Stats(); s.ConfigErrors < int64(parkings) || !s.ConfigParked {
		t.Errorf("Stats = ConfigErrors %d, ConfigParked %v; want >= %d and true", s.ConfigErrors, s.ConfigParked, parkings)
	}
	if d := e.depth(); d != users {
		t.Errorf("queue depth = %d; want %d (nothing lost)", d, users)
	}

	e.tenant.ClearFaults() // the scope is granted
	testkit.WaitUntil(t, "the queue drained", func() bool { return e.depth() == 0 })
	if _, ok := e.w.ConfigError(); ok {
		t.Errorf("ConfigError after the writes went through: still reported; want none")
	}
	for i := range users {
		if r := roles(e.user(fmt.Sprintf("auth0|scope%d", i))); !slices.Equal(r, []any{"admin", "playlist_editor"}) {
			t.Errorf("roles of user %d = %v; want [admin playlist_editor]", i, r)
		}
	}
}

// TestPersistent401RefreshesTokenOnce: a PATCH-only 401 that a fresh token does not cure is a
// configuration error, and 401s cause at most one token refresh per 30 s.
func TestPersistent401RefreshesTokenOnce(t *testing.T) {
	logs := &logBuffer{}
	e := newEnv(t, capture(logs), func(c *Config) { c.ConfigRetry = configRetry })
	id := "auth0|unauth"
	e.tenant.PutUser(tenantUser(id, []any{"admin"}, nil))
	e.setPlays(id, 150)
	e.tenant.SetFault(http.MethodPatch, "/api/v2/users/*", mgmttest.Fault{Status: http.StatusUnauthorized})
	out, err := e.loginWrite(e.w, domainUser(e.user(id)), 150, time.Second)
	if err != nil || out != metadata.Queued {
		t.Fatalf("login Write with a 401 = %v, %v; want queued, nil", out, err)
	}
	e.startWorker(e.w, "w1")
	testkit.WaitUntil(t, "three parkings", func() bool { return logs.errorLines("configuration error") >= 3 })
	if n := e.tenant.TokenRequests(); n != 2 {
		t.Errorf("token requests = %d; want 2 (the first, and one refresh after a 401 in 30 s)", n)
	}
	if ce, ok := e.w.ConfigError(); !ok || ce.Status != http.StatusUnauthorized {
		t.Errorf("ConfigError = %+v, %v; want the 401", ce, ok)
	}
	if d := e.depth(); d != 1 {
		t.Errorf("queue depth = %d; want 1 (kept)", d)
	}
}

// TestSecond401DuringARefreshJoinsIt: two calls hold the same token and both get 401. The first
// drops it and fetches a new one; the second, coming while that fetch is under way (the cache
// empty, the refresh of the last 30 s used up), is a rotation, not a configuration error: it
// joins the fetch, and both get the new token from one request.
func TestSecond401DuringARefreshJoinsIt(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	old, err := e.w.tokens.Token(ctx)
	if err != nil {
		t.Fatalf("Token = %v", err)
	}
	release := make(chan struct{})
	e.tenant.SetFault(http.MethodPost, "/oauth/token", mgmttest.Fault{Release: release, Times: 1})
	if !e.w.tokens.refreshFor(old) {
		t.Fatal("refreshFor after the first 401 = false; want a refresh")
	}
	tokens := make(chan string, 2) // "" when Token failed
	fetch := func() {
		tok, _ := e.w.tokens.Token(ctx)
		tokens <- tok
	}
	go fetch()
	testkit.WaitUntil(t, "the refresh at the tenant", func() bool { return e.tenant.TokenRequests() == 2 })
	if !e.w.tokens.refreshFor(old) {
		t.Fatal("refreshFor after the second 401, during the refresh = false (a configuration error); want true, to join it")
	}
	go fetch()
	close(release)
	for range 2 {
		if tok := <-tokens; tok == old || tok == "" {
			t.Errorf("token after the refresh = %q; want a new one", tok)
		}
	}
	if n := e.tenant.TokenRequests(); n != 2 {
		t.Errorf("token requests = %d; want 2 (the first, and one refresh both calls share)", n)
	}
}

// TestParkedCallBooksNothing: a call of a parked kind is refused before the budget: it lowers
// the estimate of the tenant's bucket by nothing, and nothing is sent.
func TestParkedCallBooksNothing(t *testing.T) {
	e := newEnv(t)
	e.tenant.PutUser(tenantUser("auth0|park", nil, nil))
	e.tenant.SetFault(http.MethodGet, "/api/v2/users/*", mgmttest.InsufficientScope("read:users"))
	if _, err := e.w.User(context.Background(), "auth0|park"); err == nil {
		t.Fatal("User with a 403 = nil; want a configuration error")
	}
	before, calls := e.w.Stats().Gate.Remaining, len(e.tenant.Requests())
	if before < 0 {
		t.Fatalf("Remaining after an answer = %d; want its X-RateLimit-Remaining", before)
	}
	if _, err := e.w.User(context.Background(), "auth0|park"); !errors.Is(err, metadata.ErrUnavailable) {
		t.Errorf("User while reads are parked = %v; want ErrUnavailable", err)
	}
	if after := e.w.Stats().Gate.Remaining; after != before {
		t.Errorf("Remaining after a parked call = %d; want %d (nothing booked)", after, before)
	}
	if n := len(e.tenant.Requests()); n != calls {
		t.Errorf("tenant saw %d requests from a parked call; want 0", n-calls)
	}
}

// TestBreakerCountsWriteFailuresDespiteReads: the worker's GETs succeed while every PATCH fails
// with 503; the breaker still opens, because a read that succeeds does not close it.
func TestBreakerCountsWriteFailuresDespiteReads(t *testing.T) {
	e := newEnv(t)
	id := "auth0|brk"
	e.tenant.PutUser(tenantUser(id, []any{"admin"}, nil))
	e.setPlays(id, 150)
	e.tenant.SetFault(http.MethodPatch, "/api/v2/users/*", mgmttest.Fault{Status: http.StatusServiceUnavailable})
	if err := e.w.Rerun(context.Background(), id, metadata.ReasonPlay, "req"); err != nil {
		t.Fatalf("Rerun: %v", err)
	}
	e.startWorker(e.w, "w1")
	testkit.WaitUntil(t, "the breaker open", func() bool { return e.w.Stats().Breaker == BreakerOpen })
	if gets := e.tenant.Count(http.MethodGet, "/api/v2/users/"+id); gets < int(e.w.cfg.BreakerFailures) {
		t.Errorf("GETs before the breaker opened = %d; want one before each failed PATCH", gets)
	}
}

// TestRefusedCredentialsAreParked: the token endpoint refusing the client (a wrong secret: 401
// access_denied) is a configuration error too. The write is queued, every call waits, and the
// token endpoint is asked once per parking, not once per call.
func TestRefusedCredentialsAreParked(t *testing.T) {
	logs := &logBuffer{}
	e := newEnv(t, capture(logs), func(c *Config) { c.ConfigRetry = configRetry; c.ClientSecret = "wrong" })
	for i := range 3 {
		id := fmt.Sprintf("auth0|cred%d", i)
		e.tenant.PutUser(tenantUser(id, nil, nil))
		out, err := e.loginWrite(e.w, domainUser(e.user(id)), 0, time.Second)
		if err != nil || out != metadata.Queued {
			t.Fatalf("login Write with refused credentials = %v, %v; want queued, nil", out, err)
		}
	}
	if n := e.tenant.TokenRequests(); n != 1 {
		t.Errorf("token requests for 3 writes = %d; want 1 (the others are parked)", n)
	}
	e.startWorker(e.w, "w1")
	testkit.WaitUntil(t, "two parkings", func() bool { return logs.errorLines("AUTH0_CLIENT_SECRET") >= 2 })
	if n, p := e.tenant.TokenRequests(), logs.errorLines("AUTH0_CLIENT_SECRET"); n > p+1 {
		t.Errorf("token requests = %d for %d parkings; want one each", n, p)
	}
	if d := e.depth(); d != 3 {
		t.Errorf("queue depth = %d; want 3 kept", d)
	}
}
