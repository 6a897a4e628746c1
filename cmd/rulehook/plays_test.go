package main

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/rulehook/rulehook/metadata/mgmt/mgmttest"
	"github.com/rulehook/rulehook/metadata/testkit"
)

// TestPlayThatCrossesTheLinePromotesWithoutALogin: the seed's rules only ran at login; rulehook
// owns the counts, so the play that reaches the threshold queues the role write at once.
func TestPlayThatCrossesTheLinePromotesWithoutALogin(t *testing.T) {
	s := startStack(t, nil)
	s.seed(t, mgmttest.User{ID: "auth0|player", AppMetadata: map[string]any{"roles": []any{"admin"}},
		UserMetadata: map[string]any{"displayName": "P"}}, 98)

	s.recordPlay(t, "auth0|player") // 99: below the line, nothing queued
	// The play that crosses the line queues its re-run before it is answered, so the queue is the
	// event to check: no entry now means none will come from this play.
	if n, err := s.redis.Do("EXISTS", "rulehook:{rulehook-queue}:entry:auth0|player"); err != nil || n != int64(0) {
		t.Fatalf("queue entry at 99 plays: EXISTS = %v, %v; want 0", n, err)
	}
	s.recordPlay(t, "auth0|player") // 100

	// The worker PATCHes, then appends the audit entry: wait for the entry, the last event.
	want := `app_metadata.roles: ["admin"] -> ["admin","playlist_editor"]`
	testkit.WaitFor(t, func() error {
		out, err := s.audit("auth0|player")
		if err != nil {
			return err
		}
		if !strings.Contains(out, want) {
			return fmt.Errorf("audit lacks the promotion:\n%s", out)
		}
		return nil
	})
	if got := join(rolesOf(s.stored(t, "auth0|player"))); got != "admin,playlist_editor" {
		t.Errorf("stored roles = %s; want admin,playlist_editor", got)
	}
	if n := s.tenant.Count(http.MethodPatch, "/api/v2/users"); n != 1 {
		t.Errorf("PATCH requests = %d; want 1 (the promotion only)", n)
	}
}

// TestConcurrentPlaysAreCountedExactly records plays from many clients at once.
func TestConcurrentPlaysAreCountedExactly(t *testing.T) {
	s := startStack(t, nil)
	s.seed(t, mgmttest.User{ID: "auth0|busy"}, 0)
	var wg sync.WaitGroup
	for range 40 {
		wg.Go(func() { s.recordPlay(t, "auth0|busy") })
	}
	wg.Wait()
	if code, body := s.appRequest(t, http.MethodGet, "/playlists/getPlays", "auth0|busy", nil); code != 200 || body != "40" {
		t.Errorf("GET /playlists/getPlays = %d %q; want 200 \"40\"", code, body)
	}
}
