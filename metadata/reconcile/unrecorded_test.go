package reconcile_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/rulehook/rulehook/metadata"
	"github.com/rulehook/rulehook/metadata/mgmt/mgmttest"
	"github.com/rulehook/rulehook/metadata/reconcile"
	"github.com/rulehook/rulehook/metadata/redisstore"
	"github.com/rulehook/rulehook/metadata/testkit"
)

// TestEmptiedRedisNeverDemotes holds CONTRACT rule 6 for reconcile: after the play counts are
// lost (FLUSHALL on the real redis-server), a run demotes nobody and writes no role, and it
// reports the editors whose count is not recorded. A recorded count still promotes.
func TestEmptiedRedisNeverDemotes(t *testing.T) {
	for _, name := range []string{"write", "dry-run"} {
		dry := name == "dry-run"
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			ctx := context.Background()
			editor := mgmttest.User{ID: "auth0|editor", AppMetadata: map[string]any{"roles": []any{"playlist_editor", "admin"}},
				UserMetadata: map[string]any{"displayName": "E"}}
			unnamed := mgmttest.User{ID: "auth0|unnamed-editor", AppMetadata: map[string]any{"roles": []any{"playlist_editor"}}}
			plain := mgmttest.User{ID: "auth0|plain", AppMetadata: map[string]any{"roles": []any{"admin"}},
				UserMetadata: map[string]any{"displayName": "P"}}
			promoted := mgmttest.User{ID: "auth0|promoted", AppMetadata: map[string]any{"roles": []any{}},
				UserMetadata: map[string]any{"displayName": "Q"}}
			for _, u := range []mgmttest.User{editor, unnamed, plain, promoted} {
				e.tenant.PutUser(u)
				e.rdb.Set(ctx, redisstore.PlaysKey(u.ID), "150", 0)
			}
			if err := e.rdb.FlushAll(ctx).Err(); err != nil {
				t.Fatalf("FLUSHALL: %v", err)
			}
			e.rdb.Set(ctx, redisstore.PlaysKey(promoted.ID), "150", 0) // the one count restored

			var report testkit.SyncBuffer
			sum, err := reconcile.Run(ctx, reconcile.Options{Policy: metadata.DefaultPolicy, Rate: 100, DryRun: dry,
				Unrecorded: &report}, e.deps())
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if sum.Unrecorded != 2 {
				t.Errorf("Summary.Unrecorded = %d; want 2 (editor, unnamed-editor)\n%s", sum.Unrecorded, sum)
			}
			got := report.String()
			if n := strings.Count(got, "\n"); n != 2 || !strings.Contains(got, editor.ID+" app_metadata.roles: holds playlist_editor") ||
				!strings.Contains(got, unnamed.ID+" app_metadata.roles: holds playlist_editor") {
				t.Errorf("Unrecorded report = %q; want one line for each of %s and %s", got, editor.ID, unnamed.ID)
			}
			if !strings.Contains(sum.String(), "2 editors with no recorded play count") {
				t.Errorf("Summary.String() = %q; want it to name the 2 editors with no recorded count", sum)
			}
			for _, r := range e.tenant.Requests() {
				if r.Method == http.MethodPatch && strings.Contains(r.Body, "app_metadata") && !strings.HasSuffix(r.Path, promoted.ID) {
					t.Errorf("PATCH %s carries app_metadata with no recorded count: %s", r.Path, r.Body)
				}
			}
			for id, want := range map[string]string{editor.ID: "[playlist_editor admin]", unnamed.ID: "[playlist_editor]", plain.ID: "[admin]"} {
				if u, _ := e.tenant.User(id); fmtRoles(u) != want {
					t.Errorf("roles of %s = %s; want %s (kept)", id, fmtRoles(u), want)
				}
			}
			wantPromoted := "[playlist_editor]"
			if dry {
				wantPromoted = "[]"
			}
			if u, _ := e.tenant.User(promoted.ID); fmtRoles(u) != wantPromoted {
				t.Errorf("roles of %s (150 plays recorded) = %s; want %s", promoted.ID, fmtRoles(u), wantPromoted)
			}
		})
	}
}

func fmtRoles(u mgmttest.User) string { return fmt.Sprint(u.AppMetadata["roles"]) }
