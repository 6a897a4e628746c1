package console

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// refusing is a Backend for requests that must never reach one.
type refusing struct{ t *testing.T }

func (r refusing) fail()                                 { r.t.Helper(); r.t.Error("the request reached the backend") }
func (r refusing) Users(context.Context) ([]User, error) { r.fail(); return nil, nil }
func (r refusing) CreateUser(context.Context, NewUser) (User, error) {
	r.fail()
	return User{}, nil
}
func (r refusing) Login(context.Context, LoginRequest) (LoginResult, error) {
	r.fail()
	return LoginResult{}, nil
}
func (r refusing) RecordPlay(context.Context, string) (PlayResult, error) {
	r.fail()
	return PlayResult{}, nil
}
func (r refusing) SetFaults(context.Context, Faults) error { r.fail(); return nil }
func (r refusing) Status(context.Context) Status           { r.fail(); return Status{} }
func (r refusing) History(context.Context, string) ([]json.RawMessage, error) {
	r.fail()
	return nil, nil
}

func TestGuardRefusesWhatIsNotTheLocalDeveloper(t *testing.T) {
	service := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("service")) })
	h := Handler(refusing{t}, service)
	for _, tc := range []struct {
		name, method, target, host, site, ctype, body string
		want                                          int
	}{
		{"another host name (DNS rebinding)", "GET", "/dev/api/users", "evil.example:8080", "", "", "", http.StatusForbidden},
		{"a cross-site fetch", "POST", "/dev/api/login", "127.0.0.1:8080", "cross-site", "application/json", `{"user_id":"auth0|a"}`, http.StatusForbidden},
		{"a form post", "POST", "/dev/api/login", "127.0.0.1:8080", "", "text/plain", `{"user_id":"auth0|a"}`, http.StatusBadRequest},
		{"an unknown field", "POST", "/dev/api/login", "localhost:8080", "same-origin", "application/json", `{"user_id":"auth0|a","admin":true}`, http.StatusBadRequest},
		{"negative plays", "POST", "/dev/api/login", "[::1]:8080", "", "application/json", `{"user_id":"auth0|a","plays":-1}`, http.StatusBadRequest},
		{"an unknown fault", "PUT", "/dev/api/faults", "127.0.0.1:8080", "", "application/json", `{"tenant":"418"}`, http.StatusBadRequest},
		{"an unknown console route", "GET", "/dev/api/nothing", "127.0.0.1:8080", "", "", "", http.StatusNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, tc.target, strings.NewReader(tc.body))
			req.Host = tc.host
			if tc.site != "" {
				req.Header.Set("Sec-Fetch-Site", tc.site)
			}
			if tc.ctype != "" {
				req.Header.Set("Content-Type", tc.ctype)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.want {
				t.Errorf("%s %s = %d %s; want %d", tc.method, tc.target, rec.Code, rec.Body, tc.want)
			}
		})
	}
}

func TestServiceRoutesPassThroughAndThePageHasItsHeaders(t *testing.T) {
	service := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("service " + r.URL.Path)) })
	h := Handler(refusing{t}, service)

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "http://evil.example/healthz", nil))
	if got := rec.Body.String(); got != "service /healthz" {
		t.Errorf("GET /healthz on any host = %q; want the service's answer", got)
	}

	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "http://127.0.0.1:8080/", nil))
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "rulehook dev console") {
		t.Fatalf("GET / = %d; want the console page", rec.Code)
	}
	if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
		t.Errorf("Content-Security-Policy = %q; want scripts from this origin only", csp)
	}
	for _, asset := range []string{"/dev/console.js", "/dev/console.css"} {
		rec = httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "http://127.0.0.1:8080"+asset, nil))
		if rec.Code != http.StatusOK || rec.Body.Len() == 0 {
			t.Errorf("GET %s = %d, %d bytes; want the embedded file", asset, rec.Code, rec.Body.Len())
		}
	}
}

func TestRecorderKeepsTheLastCalloutAnswerPerUser(t *testing.T) {
	rec := NewRecorder()
	h := rec.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"user_id":"auth0|a","roles":["x"]}`))
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/v1/post-login", nil))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/healthz", nil))
	if got := string(rec.Take("auth0|a")); got != `{"user_id":"auth0|a","roles":["x"]}` {
		t.Errorf("Take after a callout = %s; want its answer", got)
	}
	if got := rec.Take("auth0|a"); got != nil {
		t.Errorf("second Take = %s; want nil", got)
	}
}
