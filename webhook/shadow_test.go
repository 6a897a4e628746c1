package webhook

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rulehook/rulehook/metadata"
)

// TestShadowRedisOutage: in shadow mode a Redis outage still answers the current roles, writes
// nothing, and says Redis is degraded; the login is counted in the metrics though it cannot be
// recorded in Redis.
func TestShadowRedisOutage(t *testing.T) {
	s := newStack(t, func(c *Config) { c.WriteMode = WriteModeShadow })
	editor := map[string]any{"roles": []any{"playlist_editor"}}
	s.seed(t, alice, 5, editor, nil)
	s.redis.Stop()
	a := decodeAnswer(t, serve(s.srv.Handler(), s.callout(t, alice, editor, nil).request(t)))
	if !jsonEqual(a.Roles, []string{"playlist_editor"}) || !jsonEqual(a.Degraded, []string{"redis"}) ||
		a.WrittenBy != writtenByNone || len(a.UserMetadata) != 0 {
		t.Errorf("answer = %s; want the current roles, nothing to write, degraded redis", a.Raw)
	}
	if n := s.patches(); n != 0 {
		t.Errorf("PATCHes = %d; want 0", n)
	}
	// One outage, one Redis error: the login does not try to record itself on the Redis it
	// could not read.
	rec := serve(s.srv.Handler(), httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if !strings.Contains(rec.Body.String(), "\nrulehook_redis_errors_total 1\n") {
		t.Errorf("/metrics: want rulehook_redis_errors_total 1 after one login on a stopped Redis\n%s", rec.Body)
	}
}

// TestShadowRecordsBeforeAndAfter: a would-be change lands in the audit trail with its before
// and after, under the shadow reason, and in the hour's counts.
func TestShadowRecordsBeforeAndAfter(t *testing.T) {
	s := newStack(t, func(c *Config) { c.WriteMode = WriteModeShadow })
	s.seed(t, alice, 150, map[string]any{"roles": []any{"admin"}}, nil)
	a := decodeAnswer(t, serve(s.srv.Handler(), s.callout(t, alice, map[string]any{"roles": []any{"admin"}}, nil).request(t)))
	if !jsonEqual(a.Roles, []string{"admin"}) || a.WrittenBy != writtenByNone {
		t.Fatalf("answer = %s; want the current roles, written_by none", a.Raw)
	}
	ctx := context.Background()
	entries, err := s.store.Audit(ctx, alice, 10)
	if err != nil || len(entries) != 1 || entries[0].Reason != metadata.ReasonShadow || len(entries[0].Changes) != 2 {
		t.Fatalf("audit = %+v, %v; want one shadow entry with two changes", entries, err)
	}
	if c := entries[0].Changes[0]; c.Key != "roles" || !jsonEqual(c.Before, []any{"admin"}) || !jsonEqual(c.After, []any{"admin", "playlist_editor"}) {
		t.Errorf("roles change = %+v; want [admin] -> [admin playlist_editor]", c)
	}
	st, err := s.store.ShadowStats(ctx, time.Now().Add(-time.Hour), time.Now())
	if err != nil || st.Logins != 1 || st.Agreed != 0 || st.Disagreements[metadata.ShadowPromote] != 1 || st.Disagreements[metadata.ShadowDisplayName] != 1 {
		t.Errorf("ShadowStats = %+v, %v; want 1 login, promote 1, display_name 1", st, err)
	}
}

func TestShadowModeNeedsARecorder(t *testing.T) {
	deps, _, _ := fakeDeps()
	cfg := testConfig()
	cfg.WriteMode = WriteModeShadow
	if _, err := New(cfg, deps); err == nil || !strings.Contains(err.Error(), "Shadow is required") {
		t.Errorf("New(shadow, no recorder) = %v; want an error naming Shadow", err)
	}
}
