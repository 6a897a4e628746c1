package mgmttest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Request is one request the tenant received, as recorded in its log.
type Request struct {
	Method string
	// Path is the decoded path: "/api/v2/users/auth0|123" for /api/v2/users/auth0%7C123.
	Path  string
	Query string // raw query string
	// Body is the request body; a client_secret sent to /oauth/token is replaced by "REDACTED".
	Body string
	// Status is the status answered, or 0 while the request is in flight or when the client gave
	// up before an answer (a hang, a delay longer than the client's timeout).
	Status int
	Time   time.Time // arrival
}

// maxLog bounds the request log; beyond it the older half is dropped.
const maxLog = 100000

// Requests returns a copy of the request log, oldest first. The log keeps at most the last
// 100000 requests.
func (s *Server) Requests() []Request {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	return append([]Request(nil), s.log...)
}

// Count returns how many logged requests have the method (any when "") and a path starting with
// pathPrefix (decoded, e.g. "/api/v2/users/auth0|1"), in flight ones included.
func (s *Server) Count(method, pathPrefix string) int {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	n := 0
	for _, r := range s.log {
		if (method == "" || r.Method == method) && strings.HasPrefix(r.Path, pathPrefix) {
			n++
		}
	}
	return n
}

// CountStatus returns how many logged requests were answered with status.
func (s *Server) CountStatus(status int) int {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	n := 0
	for _, r := range s.log {
		if r.Status == status {
			n++
		}
	}
	return n
}

// TokenRequests returns how many requests reached POST /oauth/token.
func (s *Server) TokenRequests() int { return s.Count(http.MethodPost, "/oauth/token") }

// ResetLog empties the request log.
func (s *Server) ResetLog() {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	s.log = nil
	s.logBase = s.logSeq
}

func (s *Server) logStart(r *http.Request, body []byte) int {
	b := string(body)
	if r.URL.Path == "/oauth/token" {
		b = redactSecret(r.Header.Get("Content-Type"), body)
	}
	s.logMu.Lock()
	defer s.logMu.Unlock()
	if len(s.log) >= maxLog { // a long `rulehook dev` session: keep the newer half
		drop := len(s.log) / 2
		s.log = append([]Request(nil), s.log[drop:]...)
		s.logBase += drop
	}
	s.log = append(s.log, Request{
		Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Body: b, Time: time.Now(),
	})
	s.logSeq++
	return s.logSeq - 1
}

func (s *Server) logEnd(seq, status int) {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	if i := seq - s.logBase; i >= 0 && i < len(s.log) { // ResetLog may have run meanwhile
		s.log[i].Status = status
	}
}

// redactSecret hides client_secret in a token request body, JSON or form.
func redactSecret(contentType string, body []byte) string {
	if strings.HasPrefix(contentType, "application/json") {
		var m map[string]any
		if json.Unmarshal(body, &m) != nil {
			return ""
		}
		if _, ok := m["client_secret"]; ok {
			m["client_secret"] = "REDACTED"
		}
		out, _ := json.Marshal(m)
		return string(out)
	}
	v, err := url.ParseQuery(string(body))
	if err != nil {
		return ""
	}
	if v.Has("client_secret") {
		v.Set("client_secret", "REDACTED")
	}
	return v.Encode()
}
