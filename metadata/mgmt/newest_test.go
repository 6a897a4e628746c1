package mgmt

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/rulehook/rulehook/metadata"
	"github.com/rulehook/rulehook/metadata/mgmt/mgmttest"
	"github.com/rulehook/rulehook/metadata/testkit"
)

// TestNewestDisplayNameWins drives the interleaving of issue 11 item 7 with the emulator's
// Release fault, without sleeping: a first PUT's PATCH is held by the tenant, a second PUT comes
// meanwhile, then the first PATCH ends (with a 429, or succeeds late). Whatever the first one's
// fate, the second, newer name is the one the user ends with, and it is written last.
func TestNewestDisplayNameWins(t *testing.T) {
	for name, status := range map[string]int{"first fails with 429": http.StatusTooManyRequests, "first succeeds late": 0} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			id := "auth0|names"
			path := "/api/v2/users/" + id
			e.tenant.PutUser(tenantUser(id, nil, "Old"))
			release := make(chan struct{})
			e.tenant.SetFault(http.MethodPatch, path, mgmttest.Fault{Release: release, Status: status, Reset: time.Now(), Times: 1})

			first := make(chan metadata.Outcome, 1)
			go func() {
				out, err := e.w.Write(context.Background(), explicitName(id, "First"))
				if err != nil {
					t.Errorf("first Write: %v", err)
				}
				first <- out
			}()
			testkit.WaitUntil(t, "the first PATCH at the tenant", func() bool { return e.tenant.Count(http.MethodPatch, path) == 1 })
			out, err := e.w.Write(context.Background(), explicitName(id, "Second"))
			if err != nil || out != metadata.Merged {
				t.Fatalf("second Write while the first PATCH is in flight = %v, %v; want merged behind it", out, err)
			}
			if n := e.tenant.Count(http.MethodPatch, path); n != 1 {
				t.Fatalf("PATCHes while the first is in flight = %d; want 1 (the second waits in the queue)", n)
			}
			close(release)
			<-first
			e.startWorker(e.w, "w1")
			testkit.WaitUntil(t, "the queue drained", func() bool { return e.depth() == 0 })
			if got := e.user(id).UserMetadata["displayName"]; got != "Second" {
				t.Errorf("displayName = %v; want Second, the newest", got)
			}
			if last := lastPatchedName(e.tenant, path); last != "Second" {
				t.Errorf("last PATCHed displayName = %q; want Second", last)
			}
		})
	}
}

func explicitName(id, name string) metadata.Write {
	return metadata.Write{UserID: id, Patch: metadata.DisplayNamePatch(name), Explicit: true, Reason: metadata.ReasonAPI}
}

func lastPatchedName(tenant *mgmttest.Server, path string) string {
	last := ""
	for _, r := range tenant.Requests() {
		var body struct {
			UserMetadata map[string]any `json:"user_metadata"`
		}
		if r.Method != http.MethodPatch || r.Path != path || json.Unmarshal([]byte(r.Body), &body) != nil {
			continue
		}
		if n, ok := body.UserMetadata["displayName"].(string); ok && r.Status == http.StatusOK {
			last = n
		}
	}
	return last
}
