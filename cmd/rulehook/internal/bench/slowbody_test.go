package bench

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// tokenFirst is a callout endpoint that, like rulehook, checks the token before the body and
// closes the connection on a refusal; a valid callout is answered after its body.
type tokenFirst struct{ t *testing.T }

func (h tokenFirst) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	_, err := jwt.Parse(tok, func(*jwt.Token) (any, error) { return testSecret, nil }, jwt.WithValidMethods([]string{"HS256"}))
	if err != nil {
		w.Header().Set("Connection", "close")
		http.Error(w, `{"error":"invalid_token","message":"no"}`, http.StatusUnauthorized)
		return
	}
	io.Copy(io.Discard, r.Body)
	io.WriteString(w, `{}`)
}

func TestRunSlowBodies(t *testing.T) {
	srv := httptest.NewServer(tokenFirst{t})
	defer srv.Close()
	o := baseOptions(srv.URL)
	o.Duration = time.Second
	var samples int
	rep, err := RunSlowBodies(t.Context(), o, SlowBodyOptions{
		Connections: 20, Dribble: 50 * time.Millisecond, LoginEvery: 10 * time.Millisecond,
		Deadline: time.Minute, // what is measured here is the attack's accounting, not latency
		RSS:      func() (int64, bool) { samples++; return 1 << 20, true },
	})
	if err != nil {
		t.Fatalf("RunSlowBodies: %v", err)
	}
	if rep.Opened < 20 || rep.Answers[http.StatusUnauthorized] < 20 || rep.Answered != rep.Answers[http.StatusUnauthorized] {
		t.Errorf("opened %d, answers %v; want at least 20 connections, every one answered 401", rep.Opened, rep.Answers)
	}
	if rep.Logins.Requests == 0 || rep.Late != 0 || rep.Logins.Errors != 0 {
		t.Errorf("valid logins: %d sent, %d late, %d errors; want some, all answered 200", rep.Logins.Requests, rep.Late, rep.Logins.Errors)
	}
	if rep.PeakRSS != 1<<20 || samples == 0 {
		t.Errorf("peak RSS = %d after %d samples; want 1 MiB", rep.PeakRSS, samples)
	}
}

func TestRunSlowBodiesFailsAboveTheMemoryLimit(t *testing.T) {
	srv := httptest.NewServer(tokenFirst{t})
	defer srv.Close()
	o := baseOptions(srv.URL)
	o.Duration = 200 * time.Millisecond
	_, err := RunSlowBodies(t.Context(), o, SlowBodyOptions{Connections: 2, Deadline: time.Minute,
		RSS: func() (int64, bool) { return 100 << 20, true }})
	if err == nil || !strings.Contains(err.Error(), "resident memory") {
		t.Errorf("RunSlowBodies with a 100 MiB server = %v; want the memory error", err)
	}
}
