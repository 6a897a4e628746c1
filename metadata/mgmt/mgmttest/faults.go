package mgmttest

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Fault is a misbehaviour injected on the requests matching a SetFault rule. The steps run in
// this order: Delay, then Hang, then Status; a fault with neither Hang nor Status lets the request
// through to the real endpoint after the Delay.
type Fault struct {
	// Status answers with this status instead of the endpoint (429, 500, 502, 503, ...), with an
	// Auth0-shaped JSON body. 0 passes the request through.
	Status int
	// Reset is the X-RateLimit-Reset (Unix seconds) of the answer. On a 429 it defaults to one
	// second from now; on other answers it replaces the computed header only when set.
	Reset time.Time
	// Remaining is the X-RateLimit-Remaining of the answer: always on a 429 (default 0), and on
	// other answers when > 0 (a low value that passes, to test slowing down).
	Remaining int
	// Hang holds the request without answering until the client gives up or the server closes.
	Hang bool
	// Delay holds the request this long before the rest of the fault (or the endpoint) runs; a
	// client that gives up meanwhile gets no answer.
	Delay time.Duration
	// Message is the message of a non-429 Status answer's body, e.g. an Auth0 error text a test
	// needs; default "emulated fault".
	Message string
	// Times is how many requests the fault applies to before it removes itself; 0 = until cleared.
	Times int
	// Release, when set, holds the request (after Delay) until the channel is closed, then runs
	// the rest of the fault: a slow answer whose end the test decides, without sleeping.
	Release <-chan struct{}
	// Body, with a non-zero Status, is the exact JSON body of the answer instead of the
	// emulator's own: an Auth0 answer the emulator does not make by itself (InsufficientScope), or
	// a tenant misbehaving (Status 200, Body "{}").
	Body string
}

// InsufficientScope is the 403 Auth0 answers when the token lacks a scope the endpoint needs,
// with the body recorded in auth0/auth0-cli (internal/cli/api_test.go,
// TestAPICmd_IsInsufficientScopeError): {"statusCode":403,"error":"Forbidden","message":
// "Insufficient scope, expected any of: <scopes, comma-separated>","errorCode":"insufficient_scope"}.
func InsufficientScope(scopes ...string) Fault {
	body, _ := json.Marshal(map[string]any{
		"statusCode": http.StatusForbidden,
		"error":      http.StatusText(http.StatusForbidden),
		"message":    "Insufficient scope, expected any of: " + strings.Join(scopes, ","),
		"errorCode":  "insufficient_scope",
	})
	return Fault{Status: http.StatusForbidden, Body: string(body)}
}

type faultRule struct {
	method, path string
	f            Fault
	left         int // remaining applications when f.Times > 0
}

// SetFault injects f on requests with the method ("" = any) and path: a decoded path such as
// "/api/v2/users/auth0|123", a prefix ending in "*" such as "/api/v2/users/*", or "" for every
// path. A rule for the same method and path replaces the earlier one; otherwise the first rule
// set that matches wins.
func (s *Server) SetFault(method, path string, f Fault) {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	rule := &faultRule{method: method, path: path, f: f, left: f.Times}
	for i, r := range s.faults {
		if r.method == method && r.path == path {
			s.faults[i] = rule
			return
		}
	}
	s.faults = append(s.faults, rule)
}

// ClearFaults removes every fault.
func (s *Server) ClearFaults() {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	s.faults = nil
}

func (r *faultRule) matches(method, path string) bool {
	if r.method != "" && r.method != method {
		return false
	}
	switch {
	case r.path == "":
		return true
	case strings.HasSuffix(r.path, "*"):
		return strings.HasPrefix(path, strings.TrimSuffix(r.path, "*"))
	}
	return r.path == path
}

// takeFault returns the fault for a request and counts one application of it.
func (s *Server) takeFault(method, path string) (Fault, bool) {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	for i, r := range s.faults {
		if !r.matches(method, path) {
			continue
		}
		if r.f.Times > 0 {
			r.left--
			if r.left <= 0 {
				s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
			}
		}
		return r.f, true
	}
	return Fault{}, false
}

// applyFault runs the fault and reports whether the request goes on to the endpoint. A request
// whose client gave up, or that the server's Close released, is aborted without an answer (a
// handler that simply returned would send an empty 200).
func (s *Server) applyFault(w http.ResponseWriter, r *http.Request, f Fault) bool {
	if f.Delay > 0 && !s.wait(r, f.Delay) {
		panic(http.ErrAbortHandler)
	}
	if f.Release != nil {
		select {
		case <-f.Release:
		case <-r.Context().Done():
			panic(http.ErrAbortHandler)
		case <-s.closed:
			panic(http.ErrAbortHandler)
		}
	}
	if f.Hang {
		select {
		case <-r.Context().Done():
		case <-s.closed:
		}
		panic(http.ErrAbortHandler)
	}
	if f.Status == 0 {
		return true
	}
	now := time.Now()
	s.rl.headers(w, r, now)
	if f.Status == http.StatusTooManyRequests {
		reset := f.Reset
		if reset.IsZero() {
			reset = now.Add(time.Second)
		}
		w.Header().Set("X-RateLimit-Remaining", strconv.Itoa(f.Remaining))
		w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(ceilUnix(reset), 10))
		tooManyRequests(w, r)
		return false
	}
	f.overrideHeaders(w)
	if f.Body != "" {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(f.Status)
		_, _ = io.WriteString(w, f.Body)
		return false
	}
	if r.URL.Path == "/oauth/token" {
		oauthError(w, f.Status, "server_error", "emulated fault")
		return false
	}
	msg := f.Message
	if msg == "" {
		msg = "emulated fault"
	}
	apiError(w, f.Status, "", msg)
	return false
}

// overrideHeaders applies the fault's X-RateLimit values to an answer that is not a 429.
func (f Fault) overrideHeaders(w http.ResponseWriter) {
	if f.Remaining > 0 {
		w.Header().Set("X-RateLimit-Remaining", strconv.Itoa(f.Remaining))
	}
	if !f.Reset.IsZero() {
		w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(ceilUnix(f.Reset), 10))
	}
}

// tooManyRequests writes Auth0's 429 body; the caller has set the headers.
func tooManyRequests(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/oauth/token" {
		oauthError(w, http.StatusTooManyRequests, "too_many_requests", "Global limit has been reached")
		return
	}
	apiError(w, http.StatusTooManyRequests, "too_many_requests", "Global limit has been reached")
}
