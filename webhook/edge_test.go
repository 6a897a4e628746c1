package webhook

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rulehook/rulehook/metadata"
)

func TestHealthAndReadiness(t *testing.T) {
	deps, store, _ := fakeDeps()
	s := newServer(t, testConfig(), deps)
	get := func(path string) *httptest.ResponseRecorder {
		return serve(s.Handler(), httptest.NewRequest(http.MethodGet, path, nil))
	}
	check := func(step, path string, want int) {
		t.Helper()
		if rec := get(path); rec.Code != want {
			t.Errorf("%s: GET %s = %d; want %d (%s)", step, path, rec.Code, want, rec.Body)
		}
	}
	check("redis up", "/healthz", 200)
	check("redis up", "/readyz", 200)

	store.err = errors.Join(metadata.ErrUnavailable, errors.New("dial tcp 127.0.0.1:6379: refused"))
	check("redis down", "/healthz", 200)
	check("redis down", "/readyz", 503)
	if rec := get("/readyz"); strings.Contains(rec.Body.String(), "127.0.0.1") {
		t.Errorf("readyz answer %s leaks internals", rec.Body)
	}

	store.err = nil
	check("redis back", "/readyz", 200)

	s.Drain()
	check("draining", "/readyz", 503)
	check("draining", "/healthz", 200)
	if got := errorOf(t, get("/readyz")).Error; got != "draining" {
		t.Errorf("draining readyz error = %q; want draining", got)
	}
}

func TestRequestIDs(t *testing.T) {
	long := strings.Repeat("a", MaxRequestIDBytes+1)
	for _, tt := range []struct {
		name, given string
		keep        bool
	}{
		{"given", "abc-123_X.y", true},
		{"longest", strings.Repeat("z", MaxRequestIDBytes), true},
		{"absent", "", false},
		{"too long", long, false},
		{"bad characters", "abc def", false},
		{"header injection attempt", "a\"b", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var logs logBuffer
			cfg := testConfig()
			cfg.Logger = newLogger(&logs)
			deps, store, _ := fakeDeps()
			store.err = metadata.ErrUnavailable // a degraded login also logs a warning line
			s := newServer(t, cfg, deps)
			req := newCallout(t, alice, eventBody(t, alice, nil, map[string]any{"displayName": "A"})).request(t)
			if tt.given != "" {
				req.Header.Set("X-Request-Id", tt.given)
			}
			rec := serve(s.Handler(), req)
			got := rec.Header().Get("X-Request-Id")
			if tt.keep && got != tt.given {
				t.Errorf("X-Request-Id = %q; want %q", got, tt.given)
			}
			if !tt.keep && (got == tt.given || !validRequestID(got)) {
				t.Errorf("X-Request-Id = %q; want a fresh valid id instead of %q", got, tt.given)
			}
			lines := logs.lines(t)
			if len(lines) < 2 {
				t.Fatalf("log lines = %d; want the warning and the request line:\n%s", len(lines), logs.String())
			}
			for _, l := range lines {
				if l["request_id"] != got {
					t.Errorf("log line %v: request_id = %v; want %q", l, l["request_id"], got)
				}
			}
		})
	}
}

func TestLogsCarryNoSecrets(t *testing.T) {
	var logs logBuffer
	cfg := testConfig()
	cfg.Logger = newLogger(&logs)
	deps, store, writer := fakeDeps()
	store.plays[alice] = 100
	writer.err = errors.New("PATCH failed")
	s := newServer(t, cfg, deps)

	co := newCallout(t, alice, eventBody(t, alice, map[string]any{"roles": []any{"admin"}}, nil))
	tok := co.token(t)
	rec := serve(s.Handler(), co.request(t))
	if rec.Code != http.StatusOK {
		t.Fatalf("status = %d; want 200", rec.Code)
	}
	bad := co.request(t)
	bad.Header.Set("Authorization", "Bearer "+tok+"x")
	serve(s.Handler(), bad)

	out := logs.String()
	for _, secret := range []string{"someone@example.com", tok, string(testSecret), string(testPrevSecret), `"app_metadata"`} {
		if strings.Contains(out, secret) {
			t.Errorf("logs contain %q:\n%s", secret, out)
		}
	}
	var callout map[string]any
	for _, l := range logs.lines(t) {
		if l["route"] == routePostLogin && l["status"] == float64(200) {
			callout = l
		}
	}
	if callout == nil {
		t.Fatalf("no request line for the callout:\n%s", out)
	}
	for k, want := range map[string]any{"transaction_id": "txn-123", "user_id": alice, "outcome": "degraded", "reason": "management_api"} {
		if callout[k] != want {
			t.Errorf("callout log %s = %v; want %v", k, callout[k], want)
		}
	}
}

// TestMetricsScrape runs a scripted set of logins and reads the counts back from /metrics.
func TestMetricsScrape(t *testing.T) {
	deps, store, writer := fakeDeps()
	s := newServer(t, testConfig(), deps)
	h := s.Handler()
	store.plays[alice] = 100
	store.plays[bob] = 5

	send := func(co *callout) int { return serve(h, co.request(t)).Code }
	named := map[string]any{"displayName": "A"}

	promote := newCallout(t, alice, eventBody(t, alice, nil, named))
	mustStatus(t, "promote", send(promote), 200)
	mustStatus(t, "replay", serve(h, replayOf(t, promote)).Code, 409)
	mustStatus(t, "no change", send(newCallout(t, bob, eventBody(t, bob, nil, named))), 200)
	mustStatus(t, "no change again", send(newCallout(t, bob, eventBody(t, bob, nil, named))), 200)
	mustStatus(t, "default name", send(newCallout(t, bob, eventBody(t, bob, nil, nil))), 200)
	writer.queue = true
	mustStatus(t, "demote, queued", send(newCallout(t, bob, eventBody(t, bob, map[string]any{"roles": []any{"playlist_editor"}}, named))), 200)
	writer.queue = false
	expired := newCallout(t, alice, eventBody(t, alice, nil, named))
	expired.claims["exp"] = testNow.Add(-time.Hour).Unix()
	expired.claims["iat"] = testNow.Add(-time.Hour - time.Minute).Unix()
	mustStatus(t, "expired", send(expired), 401)
	wrongSub := newCallout(t, alice, eventBody(t, bob, nil, named))
	mustStatus(t, "wrong sub", send(wrongSub), 403)
	store.err = metadata.ErrUnavailable
	mustStatus(t, "redis down", send(newCallout(t, alice, eventBody(t, alice, nil, named))), 200)
	store.err = nil
	serve(h, httptest.NewRequest(http.MethodGet, "/playlists/getPlays", nil)) // 401

	rec := serve(h, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics = %d", rec.Code)
	}
	text := rec.Body.String()
	for _, want := range []string{
		`rulehook_logins_total{outcome="ok",reason="written"} 2`,
		`rulehook_logins_total{outcome="degraded",reason="queued"} 1`,
		`rulehook_logins_total{outcome="ok",reason="unchanged"} 2`,
		`rulehook_logins_total{outcome="ok",reason="action"} 0`,
		`rulehook_logins_total{outcome="rejected",reason="replay"} 1`,
		`rulehook_logins_total{outcome="rejected",reason="expired"} 1`,
		`rulehook_logins_total{outcome="rejected",reason="subject_mismatch"} 1`,
		`rulehook_logins_total{outcome="degraded",reason="redis"} 1`,
		`rulehook_decisions_total{decision="promote"} 1`,
		`rulehook_decisions_total{decision="demote"} 1`,
		`rulehook_decisions_total{decision="default_name"} 1`,
		`rulehook_decisions_total{decision="no_change"} 3`,
		`rulehook_callout_duration_seconds_count 9`,
		`rulehook_redis_errors_total 1`,
		`rulehook_api_requests_total{code="200",method="POST",route="/v1/post-login"} 6`,
		`rulehook_api_requests_total{code="401",method="GET",route="/playlists/getPlays"} 1`,
		`rulehook_api_request_duration_seconds_count{method="GET",route="/playlists/getPlays"} 1`,
		`rulehook_build_info{goversion="`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(text, `rulehook_api_request_duration_seconds_count{method="POST",route="/v1/post-login"}`) {
		t.Errorf("/metrics times the callout twice; rulehook_callout_duration_seconds is its histogram")
	}
	for _, id := range []string{alice, bob} {
		if strings.Contains(text, id) {
			t.Errorf("/metrics mentions user %s", id)
		}
	}
}

func mustStatus(t *testing.T, step string, got, want int) {
	t.Helper()
	if got != want {
		t.Fatalf("%s: status = %d; want %d", step, got, want)
	}
}

// replayOf sends co's exact token and body again.
func replayOf(t *testing.T, co *callout) *http.Request {
	t.Helper()
	return co.request(t)
}

func TestMetricsRegistry(t *testing.T) {
	deps, _, _ := fakeDeps()
	cfg := testConfig()
	s := newServer(t, cfg, deps)
	if s.Registry() == nil {
		t.Fatal("Registry() = nil; want the registry New created")
	}
	extra := prometheus.NewCounter(prometheus.CounterOpts{Name: "rulehook_extra_total", Help: "x"})
	s.Registry().MustRegister(extra)
	extra.Inc()
	rec := serve(s.Handler(), httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if !strings.Contains(rec.Body.String(), "rulehook_extra_total 1") {
		t.Errorf("/metrics lacks a collector added by cmd")
	}

	cfg.Registry = s.Registry()
	if _, err := New(cfg, deps); err == nil {
		t.Error("New on a registry that already holds the metrics: err = nil; want an error")
	}
}

func TestUserAttrHidesEmails(t *testing.T) {
	if got := userAttr("auth0|123"); got.Key != "user_id" || got.Value.String() != "auth0|123" {
		t.Errorf("userAttr(auth0|123) = %v; want user_id auth0|123", got)
	}
	got := userAttr("samlp|corp|jane@example.com")
	if got.Key != "user_id_sha256" || strings.Contains(got.Value.String(), "example.com") || len(got.Value.String()) != 16 {
		t.Errorf("userAttr(saml id with an email) = %v; want a 16-digit hash under user_id_sha256", got)
	}
}

// TestTextAnswersAreNosniff: every plain-text answer carries X-Content-Type-Options: nosniff, so
// that a genre holding markup is never sniffed as HTML.
func TestTextAnswersAreNosniff(t *testing.T) {
	e := newAppEnv(t, nil)
	if rec := e.do("PUT", "/genres/fav", e.token(alice), `{"genre":"<b>jazz</b>"}`); rec.Code != 200 {
		t.Fatalf("PUT /genres/fav = %d %s", rec.Code, rec.Body)
	}
	for _, path := range []string{"/genres/getFav", "/playlists/getPlays"} {
		rec := e.do("GET", path, e.token(alice), "")
		if rec.Code != 200 || rec.Header().Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s = %d, X-Content-Type-Options %q; want 200 nosniff", path, rec.Code, rec.Header().Get("X-Content-Type-Options"))
		}
	}
	rec := httptest.NewRecorder()
	e.srv.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	if rec.Header().Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("GET /healthz X-Content-Type-Options = %q; want nosniff", rec.Header().Get("X-Content-Type-Options"))
	}
}
