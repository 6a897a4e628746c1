package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rulehook/rulehook/metadata/mgmt/mgmttest"
)

// TestPlayThatCrossesTheLinePromotesWithoutALogin: the seed's rules only ran at login; rulehook
// owns the counts, so the play that reaches the threshold queues the role write at once.
func TestPlayThatCrossesTheLinePromotesWithoutALogin(t *testing.T) {
	s := startStack(t, nil)
	s.seed(t, mgmttest.User{ID: "auth0|player", AppMetadata: map[string]any{"roles": []any{"admin"}},
		UserMetadata: map[string]any{"displayName": "P"}}, 98)

	s.recordPlay(t, "auth0|player") // 99: below the line, nothing queued
	time.Sleep(300 * time.Millisecond)
	if n := s.tenant.Count(http.MethodPatch, "/api/v2/users"); n != 0 {
		t.Fatalf("PATCH requests at 99 plays = %d; want 0", n)
	}
	s.recordPlay(t, "auth0|player") // 100
	waitFor(t, 5*time.Second, func() error {
		if got := join(rolesOf(s.stored(t, "auth0|player"))); got != "admin,playlist_editor" {
			return fmt.Errorf("stored roles = %s", got)
		}
		return nil
	})

	var out bytes.Buffer
	getenv := func(k string) string { return s.env[k] }
	if err := run(context.Background(), []string{"audit", "--user", "auth0|player"}, getenv, &out, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), `app_metadata.roles: ["admin"] -> ["admin","playlist_editor"]`) {
		t.Errorf("audit lacks the promotion:\n%s", out.String())
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
