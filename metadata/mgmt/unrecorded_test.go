package mgmt

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/rulehook/rulehook/metadata"
	"github.com/rulehook/rulehook/metadata/testkit"
)

// TestWorkerNeverDemotesOnLostCounts holds CONTRACT rule 6 for the worker: a queued re-run whose
// user's play count is gone (redis-server restarted empty) keeps playlist_editor, and still
// applies the rest (the default displayName).
func TestWorkerNeverDemotesOnLostCounts(t *testing.T) {
	e := newEnv(t)
	id := "auth0|lost"
	e.tenant.PutUser(tenantUser(id, []any{"playlist_editor", "admin"}, nil))
	e.setPlays(id, 150)
	if err := e.w.Rerun(context.Background(), id, metadata.ReasonPlay, "req-1"); err != nil {
		t.Fatalf("Rerun: %v", err)
	}
	e.redis.Restart() // persistence is off: the restarted Redis has lost the count and the queue
	if err := e.w.Rerun(context.Background(), id, metadata.ReasonPlay, "req-2"); err != nil {
		t.Fatalf("Rerun after the restart: %v", err)
	}
	e.startWorker(e.w, "w1")
	testkit.WaitUntil(t, "the entry applied", func() bool { return e.depth() == 0 })
	u := e.user(id)
	if got := roles(u); !slices.Equal(got, []any{"playlist_editor", "admin"}) {
		t.Errorf("roles after the re-run = %v; want [playlist_editor admin] kept", got)
	}
	if u.UserMetadata["displayName"] != "user" {
		t.Errorf("displayName = %v; want the default still given", u.UserMetadata["displayName"])
	}
	for _, r := range e.tenant.Requests() {
		if r.Method == http.MethodPatch && strings.Contains(r.Body, "app_metadata") {
			t.Errorf("PATCH carries app_metadata with no recorded count: %s", r.Body)
		}
	}
}
