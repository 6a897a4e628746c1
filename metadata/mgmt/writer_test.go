package mgmt

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rulehook/rulehook/metadata"
	"github.com/rulehook/rulehook/metadata/mgmt/mgmttest"
	"github.com/rulehook/rulehook/metadata/testkit"
)

func TestNewRejectsBadConfig(t *testing.T) {
	ok := Config{BaseURL: "https://example.us.auth0.com", ClientID: "id", ClientSecret: "secret", Policy: metadata.DefaultPolicy}
	cases := []struct {
		name   string
		change func(*Config)
		want   string
	}{
		{"http to a remote host", func(c *Config) { c.BaseURL = "http://example.us.auth0.com" }, "loopback"},
		{"no scheme", func(c *Config) { c.BaseURL = "example.us.auth0.com" }, "base url"},
		{"a path", func(c *Config) { c.BaseURL = "https://example.us.auth0.com/api/v2" }, "path"},
		{"no client id", func(c *Config) { c.ClientID = "" }, "client id"},
		{"no secret", func(c *Config) { c.ClientSecret = "" }, "client secret"},
		{"bad policy", func(c *Config) { c.Policy = metadata.Policy{} }, "policy"},
		{"negative timeout", func(c *Config) { c.Timeout = -time.Second }, "timeout"},
	}
	for _, tc := range cases {
		cfg := ok
		tc.change(&cfg)
		_, err := New(cfg, nopQueue{}, failingPlays{})
		if !errors.Is(err, metadata.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: New = %v; want an ErrInvalid naming %q", tc.name, err, tc.want)
		}
	}
	// Every problem is listed at once.
	_, err := New(Config{BaseURL: "http://10.0.0.1"}, nopQueue{}, failingPlays{})
	for _, want := range []string{"loopback", "client id", "client secret", "policy"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("New(empty config) = %v; want it to name %q", err, want)
		}
	}
	for _, base := range []string{"http://127.0.0.1:8081", "http://localhost:1", "http://[::1]:2", "https://tenant.example/"} {
		cfg := ok
		cfg.BaseURL = base
		if _, err := New(cfg, nopQueue{}, failingPlays{}); err != nil {
			t.Errorf("New(BaseURL %q) = %v; want nil", base, err)
		}
	}
}

func TestWriteOnePatchForTwoChanges(t *testing.T) {
	e := newEnv(t)
	e.tenant.PutUser(tenantUser("auth0|two", []any{"admin"}, nil))
	before := domainUser(e.user("auth0|two"))

	got, err := e.loginWrite(e.w, before, 150, 2*time.Second)
	if err != nil || got != metadata.Written {
		t.Fatalf("Write = %v, %v; want written, nil", got, err)
	}
	if n := e.tenant.Count(http.MethodPatch, "/api/v2/users/"); n != 1 {
		t.Fatalf("PATCH count = %d; want 1", n)
	}
	u := e.user("auth0|two")
	if want := []any{"admin", "playlist_editor"}; !reflect.DeepEqual(roles(u), want) {
		t.Errorf("roles = %v; want %v", roles(u), want)
	}
	if got := u.UserMetadata["displayName"]; got != "user" {
		t.Errorf("displayName = %v; want user", got)
	}
	body := lastBody(t, e.tenant, http.MethodPatch)
	if keys := sortedKeys(body); !reflect.DeepEqual(keys, []string{"app_metadata", "user_metadata"}) {
		t.Errorf("PATCH body keys = %v; want [app_metadata user_metadata]", keys)
	}
	audit := e.audit.all()
	if len(audit) != 1 || audit[0].Reason != metadata.ReasonLogin || audit[0].RequestID != "req-auth0|two" || len(audit[0].Changes) != 2 {
		t.Fatalf("audit = %+v; want one login entry with 2 changes", audit)
	}
	if c := audit[0].Changes[0]; c.Key != "roles" || !reflect.DeepEqual(c.Before, []any{"admin"}) {
		t.Errorf("audit change 0 = %+v; want roles from [admin]", c)
	}
	if s := e.w.Stats(); s.Written != 1 || s.Calls2xx != 1 || s.TokenRequests != 1 {
		t.Errorf("Stats = %+v; want 1 written, 1 2xx call, 1 token request", s)
	}
}

func TestWriteSendsOnlyTheChangedObject(t *testing.T) {
	e := newEnv(t)
	e.tenant.PutUser(tenantUser("auth0|one", []any{"admin"}, "Jo"))
	out, err := e.w.Write(context.Background(), metadata.Write{
		UserID: "auth0|one", Patch: metadata.DisplayNamePatch("Joanna"), Explicit: true, Reason: metadata.ReasonAPI,
	})
	if err != nil || out != metadata.Written {
		t.Fatalf("Write = %v, %v; want written, nil", out, err)
	}
	body := lastBody(t, e.tenant, http.MethodPatch)
	if keys := sortedKeys(body); !reflect.DeepEqual(keys, []string{"user_metadata"}) {
		t.Errorf("PATCH body keys = %v; want only user_metadata (never an empty app_metadata)", keys)
	}
	if u := e.user("auth0|one"); !reflect.DeepEqual(roles(u), []any{"admin"}) || u.UserMetadata["displayName"] != "Joanna" {
		t.Errorf("user = %+v; want roles [admin] kept and displayName Joanna", u)
	}
}

func TestWriteWithoutChangeMakesNoCall(t *testing.T) {
	e := newEnv(t)
	out, err := e.w.Write(context.Background(), metadata.Write{UserID: "auth0|same", Reason: metadata.ReasonLogin})
	if err != nil || out != metadata.Written {
		t.Fatalf("Write(empty patch) = %v, %v; want written, nil", out, err)
	}
	if n := len(e.tenant.Requests()); n != 0 {
		t.Errorf("tenant saw %d requests; want 0 (not even a token request)", n)
	}
}

func TestWriteRefusesBadInputWithoutSending(t *testing.T) {
	e := newEnv(t)
	for _, wr := range []metadata.Write{
		{UserID: "auth0|x", Patch: metadata.Patch{AppMetadata: map[string]any{"email": "x"}}},
		{UserID: "auth0|x", Patch: metadata.Patch{UserMetadata: map[string]any{"a.b": 1}}},
		{UserID: "", Patch: metadata.DisplayNamePatch("x")},
	} {
		if _, err := e.w.Write(context.Background(), wr); !errors.Is(err, metadata.ErrInvalid) {
			t.Errorf("Write(%+v) = %v; want ErrInvalid", wr, err)
		}
	}
	if n := len(e.tenant.Requests()); n != 0 {
		t.Errorf("tenant saw %d requests; want 0", n)
	}
}

func TestWriteClientErrorsAreNotQueued(t *testing.T) {
	e := newEnv(t)
	_, err := e.w.Write(context.Background(), metadata.Write{UserID: "auth0|ghost", Patch: metadata.DisplayNamePatch("x")})
	if !errors.Is(err, metadata.ErrNotFound) {
		t.Errorf("Write(unknown user) = %v; want ErrNotFound", err)
	}
	e.tenant.PutUser(tenantUser("auth0|bad", nil, nil))
	e.tenant.SetFault(http.MethodPatch, "/api/v2/users/*", mgmttest.Fault{Status: http.StatusBadRequest, Times: 1})
	_, err = e.w.Write(context.Background(), metadata.Write{UserID: "auth0|bad", Patch: metadata.DisplayNamePatch("x")})
	if !errors.Is(err, metadata.ErrInvalid) || errors.Is(err, metadata.ErrUnavailable) {
		t.Errorf("Write(400) = %v; want ErrInvalid only", err)
	}
	if strings.Contains(err.Error(), "emulated fault") {
		t.Errorf("Write(400) = %q; want no upstream body in the error", err)
	}
	if d := e.depth(); d != 0 {
		t.Errorf("queue depth = %d; want 0", d)
	}
	if s := e.w.Stats(); s.Calls4xx != 2 || s.Failed != 2 || s.Breaker != BreakerClosed {
		t.Errorf("Stats = %+v; want 2 4xx calls, 2 failed, breaker closed", s)
	}
}

func TestTokenCachedAcrossWrites(t *testing.T) {
	e := newEnv(t)
	const users = 40
	for i := range users {
		e.tenant.PutUser(tenantUser(userID(i), nil, nil))
	}
	var wg sync.WaitGroup
	errs := make(chan error, users)
	for i := range users {
		wg.Go(func() {
			_, err := e.w.Write(context.Background(), metadata.Write{UserID: userID(i), Patch: metadata.DisplayNamePatch("n")})
			errs <- err
		})
		if i == users/2 {
			wg.Wait() // half concurrent with a cold cache, half after
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("Write = %v", err)
		}
	}
	if n := e.tenant.TokenRequests(); n != 1 {
		t.Errorf("token requests = %d for %d writes; want 1", n, users)
	}
	if n := e.tenant.Count(http.MethodPatch, "/api/v2/users/"); n != users {
		t.Errorf("PATCH count = %d; want %d", n, users)
	}
}

func TestTokenRefusedIsRenewed(t *testing.T) {
	e := newEnv(t)
	e.tenant.PutUser(tenantUser("auth0|t", nil, nil))
	if _, err := e.w.User(context.Background(), "auth0|t"); err != nil {
		t.Fatalf("User = %v", err)
	}
	// The tenant refuses the cached token once (revoked): the write fetches a new token and is
	// sent again with it, once.
	e.tenant.SetFault(http.MethodPatch, "/api/v2/users/*", mgmttest.Fault{Status: http.StatusUnauthorized, Times: 1})
	out, err := e.w.Write(context.Background(), metadata.Write{UserID: "auth0|t", Patch: metadata.DisplayNamePatch("n")})
	if err != nil || out != metadata.Written {
		t.Fatalf("Write after one 401 = %v, %v; want written with a fresh token, nil", out, err)
	}
	if _, parked := e.w.ConfigError(); parked {
		t.Errorf("ConfigError after a 401 a fresh token cured: parked; want none")
	}
	if _, err := e.w.User(context.Background(), "auth0|t"); err != nil {
		t.Fatalf("User = %v", err)
	}
	if n := e.tenant.TokenRequests(); n != 2 {
		t.Errorf("token requests = %d; want 2 (one renewal after the 401)", n)
	}
}

func TestUser(t *testing.T) {
	e := newEnv(t)
	e.tenant.PutUser(tenantUser("auth0|u", []any{"admin"}, "Ann"))
	u, err := e.w.User(context.Background(), "auth0|u")
	if err != nil {
		t.Fatalf("User = %v", err)
	}
	if u.ID != "auth0|u" || !reflect.DeepEqual(u.Roles(), []string{"admin"}) {
		t.Errorf("User = %+v; want id auth0|u with roles [admin]", u)
	}
	if name, _ := u.DisplayName(); name != "Ann" {
		t.Errorf("DisplayName = %q; want Ann", name)
	}
	if q := e.tenant.Requests()[1].Query; !strings.Contains(q, "fields=") {
		t.Errorf("GET query = %q; want fields= (no profile, no email)", q)
	}
	if _, err := e.w.User(context.Background(), "auth0|nobody"); !errors.Is(err, metadata.ErrNotFound) {
		t.Errorf("User(unknown) = %v; want ErrNotFound", err)
	}
	e.tenant.SetFault(http.MethodGet, "", mgmttest.Fault{Status: http.StatusServiceUnavailable, Times: 1})
	if _, err := e.w.User(context.Background(), "auth0|u"); !errors.Is(err, metadata.ErrUnavailable) {
		t.Errorf("User(503) = %v; want ErrUnavailable", err)
	}
	e.tenant.SetFault(http.MethodGet, "", mgmttest.Fault{Status: http.StatusTooManyRequests, Reset: time.Now().Add(5 * time.Second), Times: 1})
	_, err = e.w.User(context.Background(), "auth0|u")
	var rl *metadata.RateLimitError
	if !errors.As(err, &rl) || rl.Reset.Before(time.Now().Add(4*time.Second)) {
		t.Fatalf("User(429) = %v; want a RateLimitError with the reset", err)
	}
	calls := len(e.tenant.Requests())
	if _, err := e.w.User(context.Background(), "auth0|u"); !errors.Is(err, metadata.ErrRateLimited) {
		t.Errorf("User(gate closed) = %v; want ErrRateLimited", err)
	}
	if n := len(e.tenant.Requests()); n != calls {
		t.Errorf("tenant saw %d more requests while the gate was closed; want 0", n-calls)
	}
}

// An id that holds an email stays out of User's errors, the gate's refusal included: LogID hashes it.
func TestUserErrorsHashAnEmailID(t *testing.T) {
	e := newEnv(t)
	const id = "email|ann@example.test"
	e.tenant.SetFault(http.MethodGet, "", mgmttest.Fault{Status: http.StatusTooManyRequests, Reset: time.Now().Add(time.Hour), Times: 1})
	for _, what := range []string{"429", "gate closed"} {
		_, err := e.w.User(context.Background(), id)
		if !errors.Is(err, metadata.ErrRateLimited) || strings.Contains(err.Error(), "ann@") ||
			!strings.Contains(err.Error(), metadata.LogID(id)) {
			t.Errorf("User(%s) = %v; want ErrRateLimited naming the user %s", what, err, metadata.LogID(id))
		}
	}
}

func TestWriteReturnsWithinDeadlineWhenTenantHangs(t *testing.T) {
	for _, path := range []string{"/api/v2/users/*", "/oauth/token"} {
		t.Run(path, func(t *testing.T) {
			e := newEnv(t, func(c *Config) { c.Timeout = time.Minute }) // only the deadline can end the call
			e.tenant.PutUser(tenantUser("auth0|hang", nil, nil))
			e.tenant.SetFault("", path, mgmttest.Fault{Hang: true})
			start := time.Now()
			out, err := e.loginWrite(e.w, domainUser(e.user("auth0|hang")), 0, 500*time.Millisecond)
			if took := time.Since(start); took > testkit.Within(500*time.Millisecond) {
				t.Errorf("Write took %s; want it bounded by the 500ms deadline", took)
			}
			if err != nil || out != metadata.Queued {
				t.Fatalf("Write = %v, %v; want queued, nil", out, err)
			}
			if d := e.depth(); d != 1 {
				t.Errorf("queue depth = %d; want 1", d)
			}
		})
	}
}

func TestWriteFailsWhenNeitherSentNorQueued(t *testing.T) {
	e := newEnv(t)
	e.tenant.PutUser(tenantUser("auth0|lost", nil, nil))
	e.tenant.SetFault(http.MethodPatch, "", mgmttest.Fault{Status: http.StatusTooManyRequests})
	e.redis.Stop()
	_, err := e.loginWrite(e.w, domainUser(e.user("auth0|lost")), 0, time.Second)
	if !errors.Is(err, metadata.ErrUnavailable) || !errors.Is(err, metadata.ErrRateLimited) {
		t.Errorf("Write = %v; want ErrUnavailable and ErrRateLimited", err)
	}
	if s := e.w.Stats(); s.Failed != 1 {
		t.Errorf("Stats.Failed = %d; want 1", s.Failed)
	}
}

func userID(i int) string { return "auth0|user-" + string(rune('a'+i/26)) + string(rune('a'+i%26)) }

func lastBody(t *testing.T, s *mgmttest.Server, method string) map[string]any {
	t.Helper()
	reqs := s.Requests()
	for i := len(reqs) - 1; i >= 0; i-- {
		if reqs[i].Method == method {
			var m map[string]any
			if err := json.Unmarshal([]byte(reqs[i].Body), &m); err != nil {
				t.Fatalf("%s body %q: %v", method, reqs[i].Body, err)
			}
			return m
		}
	}
	t.Fatalf("no %s request", method)
	return nil
}

func sortedKeys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// nopQueue is a Queue for tests of New, which never touch it.
type nopQueue struct{}

func (nopQueue) Put(context.Context, metadata.QueueEntry) error { return nil }
func (nopQueue) Claim(context.Context, string, int, time.Duration) ([]metadata.QueueEntry, error) {
	return nil, nil
}
func (nopQueue) Done(context.Context, metadata.QueueEntry) error             { return nil }
func (nopQueue) Retry(context.Context, metadata.QueueEntry, time.Time) error { return nil }
func (nopQueue) Depth(context.Context) (int64, error)                        { return 0, nil }

func TestTokenEndpointRateLimitClosesTheGate(t *testing.T) {
	e := newEnv(t)
	e.tenant.PutUser(tenantUser("auth0|tok", nil, nil))
	reset := time.Now().Add(3 * time.Second)
	e.tenant.SetFault(http.MethodPost, "/oauth/token", mgmttest.Fault{Status: http.StatusTooManyRequests, Reset: reset, Times: 1})
	out, err := e.loginWrite(e.w, domainUser(e.user("auth0|tok")), 0, time.Second)
	if err != nil || out != metadata.Queued {
		t.Fatalf("Write = %v, %v; want queued, nil", out, err)
	}
	if s := e.w.Stats(); !s.Gate.Closed || s.Gate.Reset.Before(reset.Truncate(time.Second)) || s.Breaker != BreakerClosed {
		t.Errorf("Stats = %+v; want the gate closed until about %s and the breaker closed", s, reset)
	}
}

// go-auth0 v3.4.0 retries 408/429/5xx by default and, even with WithoutRetries, sleeps the retry
// delay (until X-RateLimit-Reset, whatever the status) before returning; neither may happen here.
func TestFailedPatchIsNeitherRetriedNorSleptOn(t *testing.T) {
	for _, status := range []int{http.StatusServiceUnavailable, http.StatusRequestTimeout, http.StatusTooManyRequests} {
		f := mgmttest.Fault{Status: status, Reset: time.Now().Add(30 * time.Second), Times: 1} // go-auth0 would sleep until then
		e := newEnv(t)
		e.tenant.PutUser(tenantUser("auth0|once", nil, nil))
		if _, err := e.w.User(context.Background(), "auth0|once"); err != nil { // warm the token
			t.Fatal(err)
		}
		e.tenant.SetFault(http.MethodPatch, "", f)
		start := time.Now()
		out, err := e.loginWrite(e.w, domainUser(e.user("auth0|once")), 0, 2*time.Second)
		// Bounded by the 2 s deadline, far below the 30 s go-auth0 would sleep.
		if took := time.Since(start); took > testkit.Within(2*time.Second) {
			t.Errorf("%d: Write took %s; want no sleep", f.Status, took)
		}
		if err != nil || out != metadata.Queued {
			t.Errorf("%d: Write = %v, %v; want queued, nil", f.Status, out, err)
		}
		if n := e.tenant.Count(http.MethodPatch, "/"); n != 1 {
			t.Errorf("%d: PATCH count = %d; want 1 (no SDK retry)", f.Status, n)
		}
	}
}
