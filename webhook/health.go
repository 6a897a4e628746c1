package webhook

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
)

// readyTimeout bounds the Redis ping of /readyz.
const readyTimeout = time.Second

// PolicyReader reports Redis's maxmemory-policy (redisstore.Store): "" when the server refuses
// CONFIG GET. When the Pinger implements it, /readyz names a policy that may evict play counts.
type PolicyReader interface {
	MaxmemoryPolicy(ctx context.Context) (string, error)
}

// EvictionWarning returns the warning for a Redis whose maxmemory-policy is policy, or "" when
// the policy is noeviction or unknown (""). Play counts have no TTL, so a volatile-* policy
// cannot evict them, but it can evict callout replay ids and queue leases, which have one.
func EvictionWarning(policy string) string {
	switch {
	case policy == "" || policy == "noeviction":
		return ""
	case EvictsOnlyExpiring(policy):
		return fmt.Sprintf("redis maxmemory-policy is %q, not \"noeviction\": when Redis is full it deletes keys "+
			"that have a TTL, callout replay ids and retry-queue leases included (play counts have none) "+
			"(set maxmemory-policy noeviction)", policy)
	}
	return fmt.Sprintf("redis maxmemory-policy is %q, not \"noeviction\": when Redis is full it deletes keys, "+
		"play counts included; an evicted count is not recorded, so nobody is demoted but nobody is promoted "+
		"until their count is restored (set maxmemory-policy noeviction)", policy)
}

// EvictsOnlyExpiring reports whether policy evicts only keys that have a TTL (volatile-*), so
// never a play count.
func EvictsOnlyExpiring(policy string) bool { return strings.HasPrefix(policy, "volatile-") }

// healthz answers 200 while the process serves; it checks nothing else.
func (s *Server) healthz(c echo.Context) error {
	return text(c, http.StatusOK, "ok")
}

// readyz answers 200 when Redis answers, 503 when it does not or when the server is draining. It
// never depends on Auth0. A Redis that may evict keys is still ready; the answer's second line
// warns about it.
func (s *Server) readyz(c echo.Context) error {
	if s.drain.Load() {
		return newError(http.StatusServiceUnavailable, "draining", "the server is shutting down", nil)
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), min(readyTimeout, s.cfg.CalloutDeadline))
	defer cancel()
	if err := s.deps.Pinger.Ping(ctx); err != nil {
		s.m.redisErrors.Inc()
		return unavailable("redis does not answer", err)
	}
	body := "ok"
	if pr, ok := s.deps.Pinger.(PolicyReader); ok {
		if policy, err := pr.MaxmemoryPolicy(ctx); err == nil && EvictionWarning(policy) != "" {
			body += "\nwarning: " + EvictionWarning(policy)
		}
	}
	return text(c, http.StatusOK, body)
}

// text writes a plain-text answer with X-Content-Type-Options: nosniff, so that no browser reads
// a user's own text (a genre, say) as HTML.
func text(c echo.Context, code int, body string) error {
	return textBytes(c, code, []byte(body))
}

// The header values of every plain-text answer, shared rather than built per answer: net/http
// copies header values when it writes them and never changes them, and each slice is full, so
// that an append elsewhere copies instead of writing into it.
var (
	textPlainValue = []string{echo.MIMETextPlainCharsetUTF8}[:1:1]
	nosniffValue   = []string{"nosniff"}[:1:1]
)

// textBytes is text for a body already in bytes: the same headers and bytes as echo's c.String,
// without its header canonicalization and string copy (GET /playlists/getPlays is the app's
// hottest route).
func textBytes(c echo.Context, code int, body []byte) error {
	r := c.Response()
	h := r.Header()
	h[echo.HeaderContentType] = textPlainValue
	h["X-Content-Type-Options"] = nosniffValue
	r.WriteHeader(code)
	_, err := r.Write(body)
	return err
}
