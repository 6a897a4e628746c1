package webhook

import (
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/rulehook/rulehook/metadata/mgmt"
	"github.com/rulehook/rulehook/metadata/mgmt/mgmttest"
	"github.com/rulehook/rulehook/metadata/redisstore"
	"github.com/rulehook/rulehook/metadata/redisstore/redistest"
)

// TestStackDegradedAnswers holds CONTRACT "Degraded answers" with the real writer: a write the
// tenant refuses with 503 is queued and answers the decided roles, written_by rulehook and
// degraded management_api; when the queue's Redis is down too, the write is neither made nor
// queued and the answer is the current roles, empty objects, and degraded naming both.
func TestStackDegradedAnswers(t *testing.T) {
	s := newStack(t, nil)
	editor := map[string]any{"roles": []any{"admin"}}
	named := map[string]any{"displayName": "A"}
	s.seed(t, alice, 150, editor, named)
	s.tenant.SetFault(http.MethodPatch, "/api/v2/users/*", mgmttest.Fault{Status: http.StatusServiceUnavailable})
	h := s.srv.Handler()

	a := decodeAnswer(t, serve(h, s.callout(t, alice, editor, named).request(t)))
	if !jsonEqual(a.Roles, []string{"admin", "playlist_editor"}) || a.WrittenBy != "rulehook" ||
		!jsonEqual(a.Degraded, []string{"management_api"}) || len(a.AppMetadata) == 0 {
		t.Errorf("queued write answer = %s; want the decided roles, written_by rulehook, degraded [management_api]", a.Raw)
	}
	if d := s.depth(t); d != 1 {
		t.Errorf("queue depth = %d; want 1", d)
	}
	// The next login joins the pending entry without calling the tenant: nothing failed for it.
	a = decodeAnswer(t, serve(h, s.callout(t, alice, editor, named).request(t)))
	if a.WrittenBy != "rulehook" || len(a.Degraded) != 0 {
		t.Errorf("login behind a pending write = %s; want written_by rulehook, nothing degraded", a.Raw)
	}

	// A second edge whose writer queues into a Redis that is down.
	down := redistest.Start(t)
	qstore, _ := redistest.Open(t, redisstore.Options{URL: down.URL(), Timeout: 100 * time.Millisecond})
	down.Stop()
	writer, err := mgmt.New(mgmt.Config{BaseURL: s.tenant.URL(), ClientID: s.tenant.ClientID(),
		ClientSecret: s.tenant.ClientSecret(), Policy: s.cfg.Policy, Timeout: 300 * time.Millisecond,
		QueueReserve: 200 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)}, qstore, s.store)
	if err != nil {
		t.Fatalf("mgmt.New: %v", err)
	}
	cfg := s.cfg
	cfg.Registry = nil
	srv := newServer(t, cfg, Deps{Logins: s.store, Plays: s.store, App: s.store, Pinger: s.store, Writer: writer, Users: writer})
	a = decodeAnswer(t, serve(srv.Handler(), s.callout(t, alice, editor, named).request(t)))
	if !jsonEqual(a.Roles, []string{"admin"}) || len(a.AppMetadata) != 0 || len(a.UserMetadata) != 0 ||
		!jsonEqual(a.Degraded, []string{"management_api", "redis"}) {
		t.Errorf("neither written nor queued answer = %s; want the current roles, empty objects, degraded [management_api redis]", a.Raw)
	}
}
