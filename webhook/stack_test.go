package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rulehook/rulehook/metadata/mgmt"
	"github.com/rulehook/rulehook/metadata/mgmt/mgmttest"
	"github.com/rulehook/rulehook/metadata/redisstore"
	"github.com/rulehook/rulehook/metadata/redisstore/redistest"
	"github.com/rulehook/rulehook/metadata/testkit"
)

// stack is the edge on the real adapters: a redis-server the test starts, redisstore on it, the
// emulated tenant, and mgmt.Writer reaching it through go-auth0.
type stack struct {
	redis  *redistest.Server
	rdb    redis.UniversalClient
	store  *redisstore.Store
	tenant *mgmttest.Server
	writer *mgmt.Writer
	srv    *Server
	cfg    Config
}

// newStack builds the stack; mutate may change the edge's Config (Now stays the real clock,
// tokens minted by the tenant carry it).
func newStack(t *testing.T, mutate func(*Config)) *stack {
	t.Helper()
	return newStackArgs(t, mutate)
}

// newStackArgs is newStack on a redis-server started with redisArgs.
func newStackArgs(t *testing.T, mutate func(*Config), redisArgs ...string) *stack {
	t.Helper()
	rs := redistest.Start(t, redisArgs...)
	store, rdb := redistest.Open(t, redisstore.Options{URL: rs.URL(), Timeout: time.Second})
	tenant := mgmttest.New()
	t.Cleanup(tenant.Close)

	cfg := testConfig()
	cfg.Now = time.Now
	// Generous: a loaded machine still answers an ordinary login in time, so only the tests that
	// inject a hang reach the deadline (or the Redis and Management API timeouts below it).
	cfg.CalloutDeadline = 3 * time.Second
	kf, err := JWKSKeyfunc(t.Context(), tenant.JWKSURL(), nil)
	if err != nil {
		t.Fatalf("JWKSKeyfunc: %v", err)
	}
	cfg.APIKeyfunc, cfg.APIAudience, cfg.APIIssuer = kf, apiAudience, tenant.Issuer()
	if mutate != nil {
		mutate(&cfg)
	}
	writer, err := mgmt.New(mgmt.Config{
		BaseURL:      tenant.URL(),
		ClientID:     tenant.ClientID(),
		ClientSecret: tenant.ClientSecret(),
		Policy:       cfg.Policy,
		Timeout:      1500 * time.Millisecond,
		QueueReserve: 500 * time.Millisecond,
		Logger:       slog.New(slog.DiscardHandler),
	}, store, store)
	if err != nil {
		t.Fatalf("mgmt.New: %v", err)
	}
	deps := Deps{Logins: store, Plays: store, App: store, Pinger: store, Writer: writer, Users: writer, Rerunner: writer, Shadow: store}
	if cfg.WriteMode == WriteModeAction {
		deps.Writer, deps.Users, deps.Rerunner = nil, nil, nil
	}
	return &stack{redis: rs, rdb: rdb, store: store, tenant: tenant, writer: writer, srv: newServer(t, cfg, deps), cfg: cfg}
}

// callout returns a valid callout for userID's event, with the real clock.
func (s *stack) callout(t *testing.T, userID string, app, user map[string]any) *callout {
	t.Helper()
	co := newCallout(t, userID, eventBody(t, userID, app, user))
	now := time.Now()
	co.claims["iat"], co.claims["exp"] = now.Unix(), now.Add(time.Minute).Unix()
	return co
}

// seed puts the user in the tenant and sets the play count in Redis the way operators do (SET).
func (s *stack) seed(t *testing.T, userID string, plays int64, app, user map[string]any) {
	t.Helper()
	s.tenant.PutUser(mgmttest.User{ID: userID, Email: "x@example.com", AppMetadata: app, UserMetadata: user})
	if _, err := s.redis.Do("SET", redisstore.PlaysKey(userID), strconv.FormatInt(plays, 10)); err != nil {
		t.Fatalf("SET plays: %v", err)
	}
}

func (s *stack) patches() int { return s.tenant.Count(http.MethodPatch, "/api/v2/users") }

// jtiKeys counts the claimed callout ids in Redis.
func (s *stack) jtiKeys(t *testing.T) int {
	t.Helper()
	keys, err := s.rdb.Keys(context.Background(), "rulehook:*:jti:*").Result()
	if err != nil {
		t.Fatalf("KEYS: %v", err)
	}
	return len(keys)
}

func (s *stack) depth(t *testing.T) int64 {
	t.Helper()
	n, err := s.store.Depth(context.Background())
	if err != nil {
		t.Fatalf("Depth: %v", err)
	}
	return n
}

// TestStackRejectionsHaveNoSideEffect runs the contract's rejections against the real adapters:
// no jti is claimed, no PATCH is sent, nothing is queued.
func TestStackRejectionsHaveNoSideEffect(t *testing.T) {
	s := newStack(t, nil)
	s.seed(t, alice, 150, map[string]any{"roles": []any{"admin"}}, nil)
	h := s.srv.Handler()
	cases := map[string]func(co *callout, r *http.Request){
		"alg none": func(co *callout, r *http.Request) {
			r.Header.Set("Authorization", "Bearer "+s.tenant.Mint(map[string]any{"sub": alice}, mgmttest.WithAlgNone()))
		},
		"bad signature":  func(co *callout, r *http.Request) { co.secret = []byte(strings.Repeat("k", 40)); resign(t, co, r) },
		"wrong audience": func(co *callout, r *http.Request) { co.claims["aud"] = "x"; resign(t, co, r) },
		"wrong issuer":   func(co *callout, r *http.Request) { co.claims["iss"] = "x"; resign(t, co, r) },
		"no exp":         func(co *callout, r *http.Request) { delete(co.claims, "exp"); resign(t, co, r) },
		"body hash":      func(co *callout, r *http.Request) { setBody(r, append([]byte(" "), co.body...)) },
		"sub mismatch":   func(co *callout, r *http.Request) { co.claims["sub"] = bob; resign(t, co, r) },
		"malformed event": func(co *callout, r *http.Request) {
			co.body = []byte(`{"user":{}}`)
			setBody(r, co.body)
			resign(t, co, r)
		},
	}
	for name, mutate := range cases {
		co := s.callout(t, alice, map[string]any{"roles": []any{"admin"}}, nil)
		req := co.request(t)
		mutate(co, req)
		if rec := serve(h, req); rec.Code < 400 || rec.Code >= 500 {
			t.Errorf("%s: status = %d; want a 4xx", name, rec.Code)
		}
	}
	if n := s.jtiKeys(t); n != 0 {
		t.Errorf("claimed jtis = %d; want 0", n)
	}
	if n := s.patches(); n != 0 {
		t.Errorf("PATCHes = %d; want 0", n)
	}
	if n := s.depth(t); n != 0 {
		t.Errorf("queue depth = %d; want 0", n)
	}

	// The same token used twice: the second is a replay, and writes nothing more.
	co := s.callout(t, alice, map[string]any{"roles": []any{"admin"}}, map[string]any{"displayName": "A"})
	if rec := serve(h, co.request(t)); rec.Code != 200 {
		t.Fatalf("first use: status = %d; want 200 (%s)", rec.Code, rec.Body)
	}
	if rec := serve(h, co.request(t)); rec.Code != http.StatusConflict {
		t.Fatalf("second use: status = %d; want 409 (%s)", rec.Code, rec.Body)
	}
	if n := s.patches(); n != 1 {
		t.Errorf("PATCHes = %d; want 1", n)
	}
}

// TestStackLogins runs the rules end to end: what the tenant holds afterwards and how many
// PATCHes it took.
func TestStackLogins(t *testing.T) {
	s := newStack(t, nil)
	h := s.srv.Handler()
	named := map[string]any{"displayName": "J-vald3z"}
	tests := []struct {
		name        string
		plays       int64
		app, user   map[string]any
		wantRoles   []string
		wantPatches int
		wantTenant  mgmttest.User
	}{
		{"promote at 100 keeping admin", 100, map[string]any{"roles": []any{"admin"}, "plan": "pro"}, named,
			[]string{"admin", "playlist_editor"}, 1,
			mgmttest.User{AppMetadata: map[string]any{"roles": []any{"admin", "playlist_editor"}, "plan": "pro"}, UserMetadata: named}},
		{"demote at 99 keeping admin", 99, map[string]any{"roles": []any{"playlist_editor", "admin"}}, named,
			[]string{"admin"}, 1,
			mgmttest.User{AppMetadata: map[string]any{"roles": []any{"admin"}}, UserMetadata: named}},
		{"no change at 101", 101, map[string]any{"roles": []any{"playlist_editor"}}, named,
			[]string{"playlist_editor"}, 0,
			mgmttest.User{AppMetadata: map[string]any{"roles": []any{"playlist_editor"}}, UserMetadata: named}},
		{"both in one PATCH", 150, nil, map[string]any{"theme": "dark"},
			[]string{"playlist_editor"}, 1,
			mgmttest.User{AppMetadata: map[string]any{"roles": []any{"playlist_editor"}},
				UserMetadata: map[string]any{"theme": "dark", "displayName": "user"}}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := "auth0|stack-" + strconv.Itoa(i)
			s.seed(t, id, tt.plays, tt.app, tt.user)
			before := s.patches()
			a := decodeAnswer(t, serve(h, s.callout(t, id, tt.app, tt.user).request(t)))
			if !jsonEqual(a.Roles, tt.wantRoles) || a.Plays == nil || *a.Plays != tt.plays {
				t.Errorf("answer = %s; want roles %v, plays %d", a.Raw, tt.wantRoles, tt.plays)
			}
			if got := s.patches() - before; got != tt.wantPatches {
				t.Errorf("PATCHes = %d; want %d", got, tt.wantPatches)
			}
			u, _ := s.tenant.User(id)
			if !jsonEqual(u.AppMetadata, tt.wantTenant.AppMetadata) || !jsonEqual(u.UserMetadata, tt.wantTenant.UserMetadata) {
				t.Errorf("tenant user = %+v; want %+v", u, tt.wantTenant)
			}
		})
	}
	if n := s.tenant.TokenRequests(); n != 1 {
		t.Errorf("token requests = %d; want 1 for every login", n)
	}
}

func TestStackActionModeWritesNothing(t *testing.T) {
	s := newStack(t, func(c *Config) { c.WriteMode = WriteModeAction })
	s.seed(t, alice, 120, nil, nil)
	a := decodeAnswer(t, serve(s.srv.Handler(), s.callout(t, alice, nil, nil).request(t)))
	if a.WrittenBy != writtenByAction || !jsonEqual(a.AppMetadata, map[string]any{"roles": []any{"playlist_editor"}}) ||
		!jsonEqual(a.UserMetadata, map[string]any{"displayName": "user"}) {
		t.Errorf("answer = %s; want both patches for the Action", a.Raw)
	}
	if n := s.tenant.Count("", "/api/v2/"); n != 0 {
		t.Errorf("Management API calls = %d; want 0", n)
	}
}

// TestStackRedisOutage: Redis stopped mid-run demotes nobody, marks the answer degraded, fails
// readiness, and everything recovers when it returns, without a restart.
func TestStackRedisOutage(t *testing.T) {
	s := newStack(t, nil)
	h := s.srv.Handler()
	editor := map[string]any{"roles": []any{"admin", "playlist_editor"}}
	named := map[string]any{"displayName": "A"}
	s.seed(t, alice, 5, editor, named) // below the threshold: only an outage keeps the role

	s.redis.Stop()
	a := decodeAnswer(t, serve(h, s.callout(t, alice, editor, named).request(t)))
	if !jsonEqual(a.Roles, []string{"admin", "playlist_editor"}) || !jsonEqual(a.Degraded, []string{"redis"}) || a.Plays != nil {
		t.Errorf("answer during the outage = %s; want the current roles, degraded redis, plays null", a.Raw)
	}
	if rec := serve(h, httptest.NewRequest("GET", "/readyz", nil)); rec.Code != 503 {
		t.Errorf("readyz during the outage = %d; want 503", rec.Code)
	}
	if rec := serve(h, httptest.NewRequest("GET", "/healthz", nil)); rec.Code != 200 {
		t.Errorf("healthz during the outage = %d; want 200", rec.Code)
	}
	if n := s.patches(); n != 0 {
		t.Errorf("PATCHes during the outage = %d; want 0", n)
	}

	s.redis.Restart()
	if rec := waitStatus(t, h, "/readyz", 200); rec.Code != 200 {
		t.Fatalf("readyz after Redis returned = %d; want 200", rec.Code)
	}
	s.seed(t, alice, 5, editor, named) // the restarted Redis is empty
	a = decodeAnswer(t, serve(h, s.callout(t, alice, editor, named).request(t)))
	if !jsonEqual(a.Roles, []string{"admin"}) || len(a.Degraded) != 0 {
		t.Errorf("answer after recovery = %s; want the demotion the rules ask for", a.Raw)
	}
}

// TestStackClosedPolicy: under FAILURE_POLICY=closed a Redis outage answers 503.
func TestStackClosedPolicy(t *testing.T) {
	s := newStack(t, func(c *Config) { c.FailOpen = false })
	s.seed(t, alice, 150, nil, nil)
	s.redis.Stop()
	rec := serve(s.srv.Handler(), s.callout(t, alice, nil, nil).request(t))
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("status = %d; want 503 (%s)", rec.Code, rec.Body)
	}
	if n := s.patches(); n != 0 {
		t.Errorf("PATCHes = %d; want 0", n)
	}
}

// TestStackHangsAnswerInTime: a frozen Redis or a hanging Management API still gets an answer
// within CALLOUT_DEADLINE.
func TestStackHangsAnswerInTime(t *testing.T) {
	t.Run("management api hangs", func(t *testing.T) {
		s := newStack(t, nil)
		s.seed(t, alice, 150, nil, map[string]any{"displayName": "A"})
		s.tenant.SetFault(http.MethodPatch, "/api/v2/users/*", mgmttest.Fault{Hang: true})
		start := time.Now()
		a := decodeAnswer(t, serve(s.srv.Handler(), s.callout(t, alice, nil, map[string]any{"displayName": "A"}).request(t)))
		if elapsed := time.Since(start); elapsed > testkit.Within(s.cfg.CalloutDeadline) {
			t.Errorf("answered after %s; want it bounded by the %s deadline", elapsed, s.cfg.CalloutDeadline)
		}
		if a.WrittenBy != writtenByRulehook || !jsonEqual(a.Roles, []string{"playlist_editor"}) {
			t.Errorf("answer = %s; want the decision, queued for a retry", a.Raw)
		}
		if n := s.depth(t); n != 1 {
			t.Errorf("queue depth = %d; want 1", n)
		}
	})
	t.Run("management api 429", func(t *testing.T) {
		s := newStack(t, nil)
		s.seed(t, alice, 150, nil, map[string]any{"displayName": "A"})
		s.tenant.SetFault(http.MethodPatch, "/api/v2/users/*", mgmttest.Fault{Status: 429, Reset: time.Now().Add(time.Minute)})
		a := decodeAnswer(t, serve(s.srv.Handler(), s.callout(t, alice, nil, map[string]any{"displayName": "A"}).request(t)))
		if a.WrittenBy != writtenByRulehook || !jsonEqual(a.Degraded, []string{"management_api"}) ||
			!jsonEqual(a.Roles, []string{"playlist_editor"}) {
			t.Errorf("answer = %s; want the decided roles, written_by rulehook (queued), degraded management_api", a.Raw)
		}
	})
	t.Run("redis frozen", func(t *testing.T) {
		s := newStack(t, nil)
		editor := map[string]any{"roles": []any{"playlist_editor"}}
		s.seed(t, alice, 1, editor, map[string]any{"displayName": "A"})
		s.redis.Pause()
		t.Cleanup(s.redis.Resume)
		start := time.Now()
		a := decodeAnswer(t, serve(s.srv.Handler(), s.callout(t, alice, editor, map[string]any{"displayName": "A"}).request(t)))
		if elapsed := time.Since(start); elapsed > testkit.Within(s.cfg.CalloutDeadline) {
			t.Errorf("answered after %s; want it bounded by the %s deadline", elapsed, s.cfg.CalloutDeadline)
		}
		if !jsonEqual(a.Roles, []string{"playlist_editor"}) || !jsonEqual(a.Degraded, []string{"redis"}) {
			t.Errorf("answer = %s; want the role kept, degraded redis", a.Raw)
		}
	})
}

// TestStackAppAPI: the app API on the real adapters: a displayName PUT is one PATCH of only
// user_metadata.displayName, concurrent plays are counted exactly, the play that crosses the
// threshold gets the role written by the queue worker without a login, and the next login
// answers with it.
func TestStackAppAPI(t *testing.T) {
	s := newStack(t, func(c *Config) { c.Policy.Threshold = 40 })
	h := s.srv.Handler()
	s.seed(t, alice, 0, map[string]any{"roles": []any{"admin"}}, map[string]any{"displayName": "A", "theme": "dark"})
	tok := s.tenant.Mint(map[string]any{"sub": alice, "aud": apiAudience})
	appReq := func(method, path, body string) *httptest.ResponseRecorder {
		var req *http.Request
		if body == "" {
			req = httptest.NewRequest(method, path, nil)
		} else {
			req = httptest.NewRequest(method, path, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		return serve(h, req)
	}

	if rec := appReq("PUT", "/displayName", `{"displayName":"Alice"}`); rec.Code != 200 {
		t.Fatalf("PUT /displayName = %d (%s)", rec.Code, rec.Body)
	}
	var patches []mgmttest.Request
	for _, r := range s.tenant.Requests() {
		if r.Method == http.MethodPatch {
			patches = append(patches, r)
		}
	}
	if len(patches) != 1 || !jsonEqualRaw(patches[0].Body, `{"user_metadata":{"displayName":"Alice"}}`) {
		t.Errorf("PATCHes = %+v; want exactly one carrying only user_metadata.displayName", patches)
	}
	u, _ := s.tenant.User(alice)
	if !jsonEqual(u.UserMetadata, map[string]any{"displayName": "Alice", "theme": "dark"}) {
		t.Errorf("tenant user_metadata = %v; want displayName changed, theme kept", u.UserMetadata)
	}

	const plays = 40
	done := make(chan int, plays)
	for range plays {
		go func() { done <- appReq("POST", "/v1/plays", "").Code }()
	}
	for range plays {
		if code := <-done; code != 200 {
			t.Errorf("POST /v1/plays = %d; want 200", code)
		}
	}
	if rec := appReq("GET", "/playlists/getPlays", ""); rec.Body.String() != strconv.Itoa(plays) {
		t.Errorf("plays after %d concurrent POSTs = %s; want %d", plays, rec.Body, plays)
	}
	if n := s.depth(t); n != 1 {
		t.Fatalf("queue depth after crossing the threshold = %d; want 1 (the re-run)", n)
	}

	// A login before the worker ran promotes the user in its answer (the write joins the queue).
	a := decodeAnswer(t, serve(h, s.callout(t, alice, u.AppMetadata, u.UserMetadata).request(t)))
	if !jsonEqual(a.Roles, []string{"admin", "playlist_editor"}) || a.WrittenBy != writtenByRulehook {
		t.Errorf("login after crossing: answer = %s; want playlist_editor, written_by rulehook", a.Raw)
	}

	ctx, stop := context.WithCancel(t.Context())
	worker := make(chan error, 1)
	go func() {
		worker <- s.writer.RunWorker(ctx, "webhook-test", mgmt.WorkerOptions{Poll: 20 * time.Millisecond})
	}()
	testkit.WaitFor(t, func() error {
		u, _ = s.tenant.User(alice)
		if !jsonEqual(u.AppMetadata, map[string]any{"roles": []any{"admin", "playlist_editor"}}) {
			return fmt.Errorf("tenant app_metadata = %v; want the promotion written by the worker", u.AppMetadata)
		}
		return nil
	})
	stop()
	if err := <-worker; err != nil {
		t.Errorf("RunWorker: %v", err)
	}

	before := s.patches()
	a = decodeAnswer(t, serve(h, s.callout(t, alice, u.AppMetadata, u.UserMetadata).request(t)))
	if !jsonEqual(a.Roles, []string{"admin", "playlist_editor"}) || a.WrittenBy != writtenByNone {
		t.Errorf("login after %d plays: answer = %s; want playlist_editor, nothing left to write", plays, a.Raw)
	}
	if n := s.patches() - before; n != 0 {
		t.Errorf("PATCHes for the login = %d; want 0", n)
	}
}

// waitStatus polls path until it answers want, for up to testkit.Patience.
func waitStatus(t *testing.T, h http.Handler, path string, want int) *httptest.ResponseRecorder {
	t.Helper()
	var rec *httptest.ResponseRecorder
	testkit.WaitUntil(t, fmt.Sprintf("%s to answer %d", path, want), func() bool {
		rec = serve(h, httptest.NewRequest(http.MethodGet, path, nil))
		return rec.Code == want
	})
	return rec
}

func jsonEqualRaw(raw, want string) bool {
	var a, b any
	if json.Unmarshal([]byte(raw), &a) != nil || json.Unmarshal([]byte(want), &b) != nil {
		return false
	}
	return jsonEqual(a, b)
}

// TestStackIsolation: on the real store and tenant, one caller never reads or changes another's
// data, whatever the request carries.
func TestStackIsolation(t *testing.T) {
	s := newStack(t, nil)
	h := s.srv.Handler()
	s.seed(t, alice, 0, nil, nil)
	s.seed(t, bob, 0, nil, map[string]any{"displayName": "Bob"})
	ta := s.tenant.Mint(map[string]any{"sub": alice, "aud": apiAudience})
	tb := s.tenant.Mint(map[string]any{"sub": bob, "aud": apiAudience})
	do := func(method, path, tok, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		return serve(h, req)
	}
	for _, r := range []struct{ method, path, body string }{
		{"POST", "/v1/plays?user_id=" + bob, ""},
		{"POST", "/v1/plays", `{"user_id":"` + bob + `"}`},
		{"PUT", "/genres/fav", `{"genre":"Jazz"}`},
		{"POST", "/songs", `{"name":"Alice's song"}`},
		{"PUT", "/displayName", `{"displayName":"Alice"}`},
	} {
		if rec := do(r.method, r.path, ta, r.body); rec.Code >= 300 {
			t.Fatalf("alice %s %s = %d (%s)", r.method, r.path, rec.Code, rec.Body)
		}
	}
	for _, c := range []struct {
		tok, path, want string
		status          int
	}{
		{tb, "/playlists/getPlays", "0", 200},
		{ta, "/playlists/getPlays", "2", 200},
		{tb, "/genres/getFav", `{"error":"not_found","message":"no favourite genre is set"}`, 404},
		{ta, "/genres/getFav", "Jazz", 200},
		{tb, "/songs", `[]`, 200},
		{ta, "/songs", `[{"id":1,"name":"Alice's song"}]`, 200},
		{tb, "/displayName", `{"displayName":"Bob"}`, 200},
		{ta, "/displayName", `{"displayName":"Alice"}`, 200},
	} {
		rec := do("GET", c.path, c.tok, "")
		if got := strings.TrimSpace(rec.Body.String()); rec.Code != c.status || got != c.want {
			t.Errorf("GET %s = %d %s; want %d %s", c.path, rec.Code, got, c.status, c.want)
		}
	}
	keys, err := s.rdb.Keys(context.Background(), "rulehook:{"+bob+"}:*").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if k != redisstore.PlaysKey(bob) {
			t.Errorf("alice's requests created %s", k)
		}
	}
}
