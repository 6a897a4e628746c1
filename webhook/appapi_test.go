package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/rulehook/rulehook/metadata"
	"github.com/rulehook/rulehook/metadata/testkit"
)

func TestAppRoutes(t *testing.T) {
	e := newAppEnv(t, nil)
	tok := e.token(alice)
	steps := []struct {
		method, path, body string
		wantStatus         int
		wantType           string
		wantBody           string
	}{
		{"GET", "/playlists/getPlays", "", 200, "text/plain", "0"},
		{"POST", "/v1/plays", "", 200, "application/json", `{"plays":1}`},
		{"POST", "/v1/plays", "", 200, "application/json", `{"plays":2}`},
		{"GET", "/playlists/getPlays", "", 200, "text/plain", "2"},
		{"GET", "/genres/getFav", "", 404, "application/json", `{"error":"not_found","message":"no favourite genre is set"}`},
		{"PUT", "/genres/fav", `{"genre":"  Jazz "}`, 200, "application/json", `{"genre":"Jazz"}`},
		{"GET", "/genres/getFav", "", 200, "text/plain", "Jazz"},
		{"GET", "/songs", "", 200, "application/json", `[]`},
		{"POST", "/songs", `{"name":"Number One Hit"}`, 201, "application/json", `{"id":1,"name":"Number One Hit"}`},
		{"POST", "/songs", `{"name":"B-side"}`, 201, "application/json", `{"id":2,"name":"B-side"}`},
		{"GET", "/songs", "", 200, "application/json", `[{"id":1,"name":"Number One Hit"},{"id":2,"name":"B-side"}]`},
		{"GET", "/displayName", "", 404, "application/json", `{"error":"not_found","message":"no such user"}`},
		{"PUT", "/displayName", `{"displayName":" J-vald3z "}`, 200, "application/json", `{"displayName":"J-vald3z"}`},
		{"GET", "/displayName", "", 200, "application/json", `{"displayName":"J-vald3z"}`},
	}
	for _, st := range steps {
		rec := e.do(st.method, st.path, tok, st.body)
		if rec.Code != st.wantStatus {
			t.Fatalf("%s %s = %d; want %d (%s)", st.method, st.path, rec.Code, st.wantStatus, rec.Body)
		}
		if got := rec.Header().Get("Content-Type"); !strings.HasPrefix(got, st.wantType) {
			t.Errorf("%s %s: Content-Type = %q; want %s", st.method, st.path, got, st.wantType)
		}
		if got := strings.TrimSpace(rec.Body.String()); got != st.wantBody {
			t.Errorf("%s %s: body = %s; want %s", st.method, st.path, got, st.wantBody)
		}
	}
	if got := e.writer.count(); got != 1 {
		t.Fatalf("writes = %d; want 1 (PUT /displayName)", got)
	}
	w := e.writer.last()
	if w.UserID != alice || !w.Explicit || w.Reason != metadata.ReasonAPI || len(w.Patch.AppMetadata) != 0 ||
		!jsonEqual(w.Patch.UserMetadata, map[string]any{"displayName": "J-vald3z"}) {
		t.Errorf("write = %+v; want alice's explicit api write of only user_metadata.displayName", w)
	}
}

func TestAppBadRequests(t *testing.T) {
	e := newAppEnv(t, func(c *Config) { c.MaxBodyBytes = 512 })
	tok := e.token(alice)
	tests := []struct {
		name, method, path, body, contentType string
		want                                  int
		code                                  string
	}{
		{"not JSON", "PUT", "/genres/fav", `genre=jazz`, "application/x-www-form-urlencoded", 415, "unsupported_media_type"},
		{"no content type", "POST", "/songs", `{"name":"a"}`, "", 415, "unsupported_media_type"},
		{"bad JSON", "PUT", "/genres/fav", `{"genre":`, "application/json", 400, "bad_request"},
		{"unknown field", "PUT", "/genres/fav", `{"genre":"a","x":1}`, "application/json", 400, "bad_request"},
		{"missing field", "POST", "/songs", `{}`, "application/json", 400, "bad_request"},
		{"wrong type", "POST", "/songs", `{"name":7}`, "application/json", 400, "bad_request"},
		{"empty name", "POST", "/songs", `{"name":"   "}`, "application/json", 400, "bad_request"},
		{"control character", "PUT", "/displayName", `{"displayName":"a\u0007b"}`, "application/json", 400, "bad_request"},
		{"bidi override", "PUT", "/displayName", `{"displayName":"a\u202Eb"}`, "application/json", 400, "bad_request"},
		{"zero-width genre", "PUT", "/genres/fav", `{"genre":"ja\u200Bzz"}`, "application/json", 400, "bad_request"},
		{"name too long", "PUT", "/displayName", `{"displayName":"` + strings.Repeat("n", 65) + `"}`, "application/json", 400, "bad_request"},
		{"trailing data", "PUT", "/genres/fav", `{"genre":"a"} {}`, "application/json; charset=utf-8", 400, "bad_request"},
		{"body over the limit", "POST", "/songs", `{"name":"` + strings.Repeat("n", 600) + `"}`, "application/json", 413, "too_large"},
		{"body over the limit on a GET", "GET", "/songs", strings.Repeat("n", 600), "text/plain", 413, "too_large"},
		{"body over the limit, no JSON needed", "POST", "/v1/plays", strings.Repeat("n", 600), "", 413, "too_large"},
		{"unknown route", "GET", "/nope", "", "", 404, "not_found"},
		{"wrong method", "DELETE", "/songs", "", "", 405, "method_not_allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, tt.path, strings.NewReader(tt.body))
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			req.Header.Set("Authorization", "Bearer "+tok)
			rec := serve(e.srv.Handler(), req)
			if rec.Code != tt.want {
				t.Fatalf("status = %d; want %d (%s)", rec.Code, tt.want, rec.Body)
			}
			if got := errorOf(t, rec).Error; got != tt.code {
				t.Errorf("error = %q; want %q", got, tt.code)
			}
		})
	}
	if got := e.writer.count(); got != 0 {
		t.Errorf("writes = %d; want 0", got)
	}
	if rec := e.do("GET", "/playlists/getPlays", tok, ""); rec.Body.String() != "0" {
		t.Errorf("plays after rejected requests = %s; want 0", rec.Body)
	}
}

// TestAppIsolation: every route acts on the caller's own data only.
func TestAppIsolation(t *testing.T) {
	e := newAppEnv(t, nil)
	ta, tb := e.token(alice), e.token(bob)
	for _, r := range []struct{ method, path, body, tok string }{
		{"POST", "/v1/plays", "", ta},
		{"POST", "/v1/plays", "", ta},
		{"PUT", "/genres/fav", `{"genre":"Jazz"}`, ta},
		{"POST", "/songs", `{"name":"Alice's song"}`, ta},
		{"PUT", "/displayName", `{"displayName":"Alice"}`, ta},
		{"POST", "/v1/plays", "", tb},
	} {
		if rec := e.do(r.method, r.path, r.tok, r.body); rec.Code >= 300 {
			t.Fatalf("%s %s = %d (%s)", r.method, r.path, rec.Code, rec.Body)
		}
	}
	for _, c := range []struct {
		path, tok  string
		wantStatus int
		want       string
	}{
		{"/playlists/getPlays?user_id=" + alice, tb, 200, "1"},
		{"/playlists/getPlays", ta, 200, "2"},
		{"/genres/getFav", tb, 404, `{"error":"not_found","message":"no favourite genre is set"}`},
		{"/songs", tb, 200, `[]`},
		{"/displayName", tb, 404, `{"error":"not_found","message":"no such user"}`},
		{"/displayName", ta, 200, `{"displayName":"Alice"}`},
	} {
		rec := e.do("GET", c.path, c.tok, "")
		if got := strings.TrimSpace(rec.Body.String()); rec.Code != c.wantStatus || got != c.want {
			t.Errorf("GET %s = %d %s; want %d %s", c.path, rec.Code, got, c.wantStatus, c.want)
		}
	}
}

// recordingRerunner records re-runs; it can fail.
type recordingRerunner struct {
	mu    sync.Mutex
	calls []string
	err   error
}

func (r *recordingRerunner) Rerun(_ context.Context, userID, reason, requestID string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, userID+" "+reason+" "+requestID)
	return r.err
}

func TestAppPlayCrossingThresholdReruns(t *testing.T) {
	for _, failing := range []bool{false, true} {
		t.Run(fmt.Sprintf("rerun fails %v", failing), func(t *testing.T) {
			rr := &recordingRerunner{}
			if failing {
				rr.err = metadata.ErrUnavailable
			}
			e := newAppEnvDeps(t, func(c *Config) { c.Policy.Threshold = 3 }, func(d *Deps) { d.Rerunner = rr })
			tok := e.token(alice)
			for i := 1; i <= 5; i++ {
				req := httptest.NewRequest("POST", "/v1/plays", nil)
				req.Header.Set("Authorization", "Bearer "+tok)
				req.Header.Set("X-Request-Id", fmt.Sprintf("play-%d", i))
				rec := serve(e.srv.Handler(), req)
				if want := fmt.Sprintf(`{"plays":%d}`, i); rec.Code != 200 || strings.TrimSpace(rec.Body.String()) != want {
					t.Fatalf("play %d = %d %s; want 200 %s", i, rec.Code, rec.Body, want)
				}
			}
			if got, want := strings.Join(rr.calls, ","), alice+" play play-3"; got != want {
				t.Errorf("reruns = %q; want %q", got, want)
			}
		})
	}
}

func TestAppDisplayNameFailures(t *testing.T) {
	for _, tt := range []struct {
		name       string
		err        error
		queue      bool
		wantStatus int
	}{
		{"queued", nil, true, 202},
		{"management api down", metadata.ErrUnavailable, false, 503},
		{"rate limited and not queued", &metadata.RateLimitError{}, false, 503},
		{"rejected by the tenant", fmt.Errorf("%w: 400 bad patch", metadata.ErrInvalid), false, 400},
		{"user gone", metadata.ErrNotFound, false, 404},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newAppEnv(t, nil)
			e.writer.err, e.writer.queue = tt.err, tt.queue
			rec := e.do("PUT", "/displayName", e.token(alice), `{"displayName":"A"}`)
			if rec.Code != tt.wantStatus {
				t.Fatalf("status = %d; want %d (%s)", rec.Code, tt.wantStatus, rec.Body)
			}
			if strings.Contains(rec.Body.String(), "400 bad patch") {
				t.Errorf("answer %s leaks the upstream error", rec.Body)
			}
		})
	}
}

func TestAppDisplayNameWithoutManagementAPI(t *testing.T) {
	e := newAppEnvDeps(t, func(c *Config) { c.WriteMode = WriteModeAction }, func(d *Deps) { d.Writer, d.Users = nil, nil })
	for _, m := range []string{"GET", "PUT"} {
		rec := e.do(m, "/displayName", e.token(alice), `{"displayName":"A"}`)
		if rec.Code != http.StatusNotImplemented {
			t.Errorf("%s /displayName = %d; want 501", m, rec.Code)
		}
	}
}

func TestAppStoreDown(t *testing.T) {
	e := newAppEnv(t, nil)
	e.store.err = fmt.Errorf("%w: dial tcp 127.0.0.1:1: refused", metadata.ErrUnavailable)
	for _, r := range []struct{ method, path, body string }{
		{"GET", "/playlists/getPlays", ""}, {"POST", "/v1/plays", ""}, {"GET", "/genres/getFav", ""},
		{"PUT", "/genres/fav", `{"genre":"a"}`}, {"GET", "/songs", ""}, {"POST", "/songs", `{"name":"a"}`},
	} {
		rec := e.do(r.method, r.path, e.token(alice), r.body)
		var body errorBody
		_ = json.Unmarshal(rec.Body.Bytes(), &body)
		if rec.Code != 503 || body.Error != "unavailable" || strings.Contains(rec.Body.String(), "127.0.0.1") {
			t.Errorf("%s %s = %d %s; want 503 unavailable without internals", r.method, r.path, rec.Code, rec.Body)
		}
	}
}

// TestAppErrorLogRedactsTheCaller: a failure whose cause names the caller's id (an email-bearing
// SAML id here) is logged on the request's line with the id replaced by its LogID.
func TestAppErrorLogRedactsTheCaller(t *testing.T) {
	const saml = "samlp|corp|jane@corp.example"
	logs := &testkit.SyncBuffer{}
	e := newAppEnv(t, func(c *Config) { c.Logger = newLogger(logs) })
	e.writer.err = fmt.Errorf("%w: write user %s", metadata.ErrUnavailable, saml)
	if rec := e.do("PUT", "/displayName", e.token(saml), `{"displayName":"A"}`); rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("status = %d; want 503 (%s)", rec.Code, rec.Body)
	}
	if out := logs.String(); strings.Contains(out, "@") || !strings.Contains(out, metadata.LogID(saml)) {
		t.Errorf("log = %s; want the caller's LogID and no '@'", out)
	}
}
