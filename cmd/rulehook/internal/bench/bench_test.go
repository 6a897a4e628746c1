package bench

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/rulehook/rulehook/metadata/testkit"
)

const (
	testIssuer   = "https://rulehook-dev.local/"
	testAudience = "http://rulehook.test"
)

var testSecret = []byte("0123456789abcdef0123456789abcdef-bench")

// fakeRulehook verifies every callout as rulehook must (CONTRACT.md) and answers the no-change
// decision. fail, when set, picks the status of callout n (0-based); 0 means verify and answer.
type fakeRulehook struct {
	t        *testing.T
	fail     func(n int64) int
	callouts atomic.Int64
	healthz  atomic.Int64
	failed   atomic.Int64

	mu   sync.Mutex
	jtis map[string]bool
}

func newFake(t *testing.T) (*fakeRulehook, *httptest.Server) {
	f := &fakeRulehook{t: t, jtis: map[string]bool{}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func (f *fakeRulehook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/healthz":
		f.healthz.Add(1)
		io.WriteString(w, "ok")
	case r.Method == http.MethodPost && r.URL.Path == "/v1/post-login":
		n := f.callouts.Add(1) - 1
		if f.fail != nil {
			if code := f.fail(n); code != 0 {
				f.failed.Add(1)
				http.Error(w, `{"error":"unavailable","message":"try later"}`, code)
				return
			}
		}
		f.callout(w, r)
	default:
		f.t.Errorf("unexpected request %s %s", r.Method, r.URL.Path)
		http.NotFound(w, r)
	}
}

func (f *fakeRulehook) callout(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		f.t.Errorf("read body: %v", err)
		return
	}
	userID, err := f.verify(r.Header.Get("Authorization"), body)
	if err != nil {
		f.t.Errorf("callout rejected: %v", err)
		http.Error(w, `{"error":"unauthorized","message":"bad token"}`, http.StatusUnauthorized)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{
		"user_id": userID, "plays": 0, "roles": []string{}, "app_metadata": map[string]any{},
		"user_metadata": map[string]any{}, "written_by": "none", "degraded": []string{},
	})
}

// verify checks the token and the body; it returns the user id.
func (f *fakeRulehook) verify(auth string, body []byte) (string, error) {
	tok, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok {
		return "", errors.New("no bearer token")
	}
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(tok, claims, func(*jwt.Token) (any, error) { return testSecret, nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithIssuer(testIssuer), jwt.WithAudience(testAudience),
		jwt.WithExpirationRequired(), jwt.WithIssuedAt(), jwt.WithLeeway(30*time.Second))
	if err != nil {
		return "", err
	}
	iat, _ := claims["iat"].(float64)
	exp, _ := claims["exp"].(float64)
	if iat == 0 || exp <= iat || exp-iat > 300 {
		return "", errors.New("want 0 < exp-iat <= 300")
	}
	sum := sha256.Sum256(body)
	if claims["bsh"] != base64.RawURLEncoding.EncodeToString(sum[:]) {
		return "", errors.New("bsh does not match the body")
	}
	jti, _ := claims["jti"].(string)
	f.mu.Lock()
	seen := f.jtis[jti]
	f.jtis[jti] = true
	f.mu.Unlock()
	if jti == "" || seen {
		return "", errors.New("jti missing or replayed")
	}
	var ev event
	if err := json.Unmarshal(body, &ev); err != nil {
		return "", err
	}
	if claims["sub"] != ev.User.UserID || !strings.HasPrefix(ev.User.UserID, "bench|") {
		return "", errors.New("sub is not user.user_id")
	}
	if ev.User.AppMetadata.Roles == nil || len(ev.User.AppMetadata.Roles) != 0 || ev.User.UserMetadata.DisplayName == "" {
		return "", errors.New("event is not a no-change login")
	}
	return ev.User.UserID, nil
}

func (f *fakeRulehook) distinctJTIs() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.jtis)
}

func baseOptions(url string) Options {
	return Options{URL: url, Secret: testSecret, Issuer: testIssuer, Audience: testAudience, Users: 50, Connections: 4}
}

func TestClosedLoopComparesHealthz(t *testing.T) {
	progressInterval = 100 * time.Millisecond
	t.Cleanup(func() { progressInterval = time.Second })
	f, srv := newFake(t)
	var progress testkit.SyncBuffer
	o := baseOptions(srv.URL)
	o.Duration, o.Warmup, o.CompareHealthz, o.Progress = 600*time.Millisecond, 250*time.Millisecond, true, &progress
	o.Timeout = time.Minute // a request a loaded machine delays is slow, not an error

	rep, err := Run(context.Background(), o)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if rep.Requests == 0 || rep.Errors != 0 || len(rep.ErrorsByStatus) != 0 {
		t.Fatalf("callout report = %+v; want requests and no errors", rep)
	}
	if got, want := f.distinctJTIs(), int(f.callouts.Load()); got != want {
		t.Errorf("distinct jti = %d; want one per callout (%d)", got, want)
	}
	if got := f.callouts.Load(); got < int64(rep.Requests) {
		t.Errorf("server saw %d callouts; want at least the %d measured", got, rep.Requests)
	}
	h := rep.Healthz
	if h == nil || h.Requests == 0 || h.Errors != 0 || h.Target != TargetHealthz {
		t.Fatalf("Healthz = %+v; want a healthz report without errors", h)
	}
	if got := f.healthz.Load(); got < int64(h.Requests) {
		t.Errorf("server saw %d healthz; want at least the %d measured", got, h.Requests)
	}
	if want := rep.RPS / h.RPS; rep.Ratio != want || rep.Ratio <= 0 {
		t.Errorf("Ratio = %v; want callout/healthz = %v", rep.Ratio, want)
	}
	// The window is the duration; requests in flight at its end may finish late on a busy machine.
	for _, e := range []time.Duration{rep.Elapsed, h.Elapsed} {
		if e < o.Duration*3/4 || e > testkit.Within(o.Duration) {
			t.Errorf("Elapsed = %v (callout), %v (healthz); want about %v each", rep.Elapsed, h.Elapsed, o.Duration)
		}
	}
	if !(rep.P50 > 0 && rep.P50 <= rep.P90 && rep.P90 <= rep.P99 && rep.P99 <= rep.Max) {
		t.Errorf("latencies p50 %v p90 %v p99 %v max %v; want positive and ordered", rep.P50, rep.P90, rep.P99, rep.Max)
	}
	out := progress.String()
	for _, want := range []string{"healthz (before)", "callout", "healthz (after)", "warmup", "req/s"} {
		if !strings.Contains(out, want) {
			t.Errorf("progress lacks %q:\n%s", want, out)
		}
	}
	var b strings.Builder
	rep.Print(&b)
	for _, want := range []string{"closed loop, 4 connections, 50 users", "callout", "healthz", "p99", "throughput ratio"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("Print lacks %q:\n%s", want, b.String())
		}
	}
}

func TestOpenLoopHoldsItsRate(t *testing.T) {
	f, srv := newFake(t)
	rate := 200
	if raceEnabled {
		rate = 50
	}
	o := baseOptions(srv.URL)
	o.Rate, o.Duration, o.Warmup, o.Connections = rate, time.Second, 100*time.Millisecond, DefaultConnections
	o.Timeout = time.Minute // a request a loaded machine delays is late, not an error

	rep, err := Run(context.Background(), o)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	// The timetable fixes the number of requests exactly; only the achieved rate can drift.
	if got, want := rep.Requests, rate; got != want {
		t.Errorf("Requests = %d; want %d (rate x duration)", got, want)
	}
	if got, want := f.callouts.Load(), int64(rate+rate/10); got != want {
		t.Errorf("server saw %d callouts; want %d (warmup included)", got, want)
	}
	// Never above the schedule; below it only as far as a busy machine delays the last answers.
	if got, want := rep.RPS, float64(rate); got < 0.5*want || got > 1.02*want {
		t.Errorf("RPS = %.1f; want %.0f, at most +2%% (a loaded machine may lag behind); report %+v", got, want, rep)
	}
	if rep.Errors != 0 {
		t.Errorf("Errors = %d (%v); want 0", rep.Errors, rep.ErrorsByStatus)
	}
	if rep.LagMax <= 0 || rep.LagP99 > rep.LagMax {
		t.Errorf("lag p99 %v max %v; want the send lag measured", rep.LagP99, rep.LagMax)
	}
	var b strings.Builder
	rep.Print(&b)
	if !strings.Contains(b.String(), fmt.Sprintf("open loop, %d req/s", rate)) || !strings.Contains(b.String(), "send lag") {
		t.Errorf("Print:\n%s\nwant the open-loop mode and the send lag", b.String())
	}
}

// TestOpenLoopCountsQueueingInLatency: a server slower than the schedule makes requests wait for
// a worker; that wait belongs in the latency (no coordinated omission).
func TestOpenLoopCountsQueueingInLatency(t *testing.T) {
	const delay = 20 * time.Millisecond
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		time.Sleep(delay)
	}))
	t.Cleanup(srv.Close)
	o := baseOptions(srv.URL)
	// One worker can serve 50 req/s; 100 req/s are scheduled, so the queue grows by 50/s.
	o.Rate, o.Connections, o.Duration, o.Timeout = 100, 1, 500*time.Millisecond, 100*time.Millisecond

	rep, err := Run(context.Background(), o)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if rep.Max < 200*time.Millisecond {
		t.Errorf("Max = %v; want the queueing delay counted (>= 200ms, send-to-answer would be ~%v)", rep.Max, delay)
	}
	if rep.ErrorsByStatus["unsent"] == 0 || rep.Requests != 50 {
		t.Errorf("Requests %d, errors %v; want all 50 scheduled requests, the ones never sent counted as unsent", rep.Requests, rep.ErrorsByStatus)
	}
}

func TestErrorsCountedByStatus(t *testing.T) {
	f, srv := newFake(t)
	f.fail = func(n int64) int {
		switch {
		case n%4 == 1:
			return http.StatusServiceUnavailable
		case n%10 == 3:
			return http.StatusTooManyRequests
		}
		return 0
	}
	o := baseOptions(srv.URL)
	o.Duration = 300 * time.Millisecond

	rep, err := Run(context.Background(), o)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	// No warmup and no cancellation: every request the server saw is measured.
	if got, want := int64(rep.Requests), f.callouts.Load(); got != want {
		t.Errorf("Requests = %d; want the %d the server saw", got, want)
	}
	if got, want := int64(rep.Errors), f.failed.Load(); got != want || got == 0 {
		t.Errorf("Errors = %d; want the %d the server failed", got, want)
	}
	if rep.ErrorsByStatus["503"] == 0 || rep.ErrorsByStatus["429"] == 0 ||
		rep.ErrorsByStatus["503"]+rep.ErrorsByStatus["429"] != rep.Errors {
		t.Errorf("ErrorsByStatus = %v; want only 503 and 429 adding up to %d", rep.ErrorsByStatus, rep.Errors)
	}
	var b strings.Builder
	rep.Print(&b)
	if !strings.Contains(b.String(), "429=") || !strings.Contains(b.String(), "503=") {
		t.Errorf("Print:\n%s\nwant the errors by status", b.String())
	}
}

func TestTransportFailuresAreNetworkOrTimeout(t *testing.T) {
	t.Run("timeout", func(t *testing.T) {
		release := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}))
		t.Cleanup(srv.Close)
		t.Cleanup(func() { close(release) })
		o := baseOptions(srv.URL)
		o.Duration, o.Timeout, o.Connections = 100*time.Millisecond, 50*time.Millisecond, 2
		rep, err := Run(context.Background(), o)
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		if rep.Errors == 0 || rep.ErrorsByStatus["timeout"] != rep.Errors {
			t.Errorf("ErrorsByStatus = %v (errors %d); want only timeouts", rep.ErrorsByStatus, rep.Errors)
		}
	})
	t.Run("network", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		url := "http://" + ln.Addr().String()
		ln.Close() // nothing listens: connection refused
		o := baseOptions(url)
		o.Duration, o.Connections = 50*time.Millisecond, 1
		rep, err := Run(context.Background(), o)
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		if rep.Errors == 0 || rep.ErrorsByStatus["network"] != rep.Errors {
			t.Errorf("ErrorsByStatus = %v (errors %d); want only network errors", rep.ErrorsByStatus, rep.Errors)
		}
	})
}

func TestOnlyTheGivenURLIsRequested(t *testing.T) {
	var elsewhere atomic.Int64
	other := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { elsewhere.Add(1) }))
	t.Cleanup(other.Close)
	var paths sync.Map
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		paths.Store(r.Method+" "+r.URL.Path, true)
		http.Redirect(w, r, other.URL+"/", http.StatusFound)
	}))
	t.Cleanup(srv.Close)
	o := baseOptions(srv.URL + "/base/")
	o.Duration, o.CompareHealthz, o.Connections = 50*time.Millisecond, true, 1
	o.HTTPClient = &http.Client{} // a supplied client must not follow redirects either

	rep, err := Run(context.Background(), o)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if n := elsewhere.Load(); n != 0 {
		t.Errorf("redirect target got %d requests; want 0", n)
	}
	var got []string
	paths.Range(func(k, _ any) bool { got = append(got, k.(string)); return true })
	if len(got) != 2 {
		t.Errorf("paths = %v; want only POST /base/v1/post-login and GET /base/healthz", got)
	}
	for _, p := range []string{"POST /base/v1/post-login", "GET /base/healthz"} {
		if _, ok := paths.Load(p); !ok {
			t.Errorf("paths = %v; want %q", got, p)
		}
	}
	if rep.ErrorsByStatus["302"] != rep.Errors || rep.Errors == 0 {
		t.Errorf("ErrorsByStatus = %v; want every answer counted as 302", rep.ErrorsByStatus)
	}
}

func TestCancelStopsAndKeepsWhatWasMeasured(t *testing.T) {
	for _, rate := range []int{0, 200} {
		_, srv := newFake(t)
		o := baseOptions(srv.URL)
		o.Rate, o.Duration, o.CompareHealthz = rate, time.Minute, true
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(300*time.Millisecond, cancel)
		start := time.Now()

		rep, err := Run(ctx, o)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("rate %d: Run err = %v; want context.Canceled", rate, err)
		}
		if d := time.Since(start); d > testkit.Within(300*time.Millisecond) {
			t.Errorf("rate %d: Run took %v after cancel at 300ms; want prompt", rate, d)
		}
		if !rep.Interrupted || rep.Healthz == nil || rep.Healthz.Requests == 0 || rep.Healthz.Errors != 0 {
			t.Errorf("rate %d: report = %+v; want interrupted with the healthz figures measured, no errors", rate, rep)
		}
		var b strings.Builder
		rep.Print(&b)
		if !strings.Contains(b.String(), "interrupted") {
			t.Errorf("rate %d: Print:\n%s\nwant it marked interrupted", rate, b.String())
		}
	}
}

func TestManagementCallsAroundTheMeasuredWindow(t *testing.T) {
	_, srv := newFake(t)
	var reads atomic.Int64
	o := baseOptions(srv.URL)
	o.Duration, o.Warmup = 100*time.Millisecond, 50*time.Millisecond
	o.ManagementCalls = func(context.Context) (int64, error) { return 10 + 3*reads.Add(1), nil }

	rep, err := Run(context.Background(), o)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got, want := reads.Load(), int64(2); got != want {
		t.Errorf("ManagementCalls read %d times; want %d", got, want)
	}
	if !rep.ManagementCallsKnown || rep.ManagementCalls != 3 {
		t.Errorf("ManagementCalls = %d (known %v); want 3", rep.ManagementCalls, rep.ManagementCallsKnown)
	}
	var b strings.Builder
	rep.Print(&b)
	if !strings.Contains(b.String(), "management API calls per login") {
		t.Errorf("Print:\n%s\nwant the calls per login", b.String())
	}

	o.ManagementCalls = func(context.Context) (int64, error) { return 0, errors.New("scrape failed") }
	if _, err := Run(context.Background(), o); err == nil || !strings.Contains(err.Error(), "scrape failed") {
		t.Errorf("Run with a failing counter: err = %v; want it reported", err)
	}
}

func TestInvalidOptionsListEveryProblem(t *testing.T) {
	_, err := Run(context.Background(), Options{URL: "ftp://x", Secret: []byte("short"), Rate: -1, Warmup: -1})
	if !errors.Is(err, ErrOptions) {
		t.Fatalf("err = %v; want ErrOptions", err)
	}
	for _, want := range []string{"URL", "Secret", "Issuer", "Audience", "Rate", "Duration", "Warmup"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("err = %q; want it to name %s", err, want)
		}
	}
}
