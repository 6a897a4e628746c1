package main

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rulehook/rulehook/metadata/mgmt/mgmttest"
	"github.com/rulehook/rulehook/metadata/redisstore/redistest"
	"github.com/rulehook/rulehook/metadata/testkit"
)

// TestEmailBearingIDsNeverLogged runs an enterprise user whose id embeds an email address through
// the whole loop on the paths that log the most: a 429 that queues the write, the worker that
// applies it after the reset, a PATCH-only 403 insufficient_scope that parks the next one, and an
// app API request. startStack's cleanup then checks that no log line holds an '@'.
func TestEmailBearingIDsNeverLogged(t *testing.T) {
	s := startStack(t, nil)
	id := "samlp|corp|alice.smith@corp.example"
	u := s.seed(t, mgmttest.User{ID: id, Email: "alice.smith@corp.example",
		AppMetadata: map[string]any{"roles": []any{"admin"}}}, 150)

	s.tenant.SetFault(http.MethodPatch, "/api/v2/users/*", mgmttest.Fault{Status: http.StatusTooManyRequests,
		Reset: time.Now().Add(time.Second), Times: 1})
	code, a := s.callout(t, u)
	if code != http.StatusOK || a.WrittenBy != "rulehook" || !slices.Contains(a.Degraded, "management_api") {
		t.Fatalf("callout during a 429 = %d %+v; want 200, queued, degraded management_api", code, a)
	}
	testkit.WaitFor(t, func() error {
		if got := join(rolesOf(s.stored(t, id))); got != "admin,playlist_editor" {
			return fmt.Errorf("stored roles = %s; want the queued write applied", got)
		}
		return nil
	})

	s.tenant.SetFault(http.MethodPatch, "/api/v2/users/*", mgmttest.InsufficientScope("update:users"))
	if err := s.setPlays(id, 5); err != nil {
		t.Fatal(err)
	}
	if code, a := s.callout(t, u); code != http.StatusOK || a.WrittenBy != "rulehook" {
		t.Fatalf("callout during a 403 = %d %+v; want 200, queued", code, a)
	}
	if code, _ := s.appRequest(t, http.MethodGet, "/playlists/getPlays", id, nil); code != http.StatusOK {
		t.Errorf("getPlays = %d; want 200", code)
	}
	testkit.WaitFor(t, func() error {
		if !strings.Contains(s.logs.String(), "update:users") {
			return fmt.Errorf("no log line names the missing scope yet")
		}
		return nil
	})
	if !strings.Contains(s.logs.String(), "user_id_sha256") {
		t.Errorf("logs never name the user by its hash; the test did not exercise a user log line\n%s", s.logs)
	}
}

// TestServeWarnsAboutEviction: serve logs a warning at start when Redis may evict play counts.
func TestServeWarnsAboutEviction(t *testing.T) {
	r := redistest.Start(t, "--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru")
	s := startStackOn(t, map[string]string{"REDIS_URL": r.URL()}, nil, nil)
	testkit.WaitFor(t, func() error {
		for _, line := range strings.Split(s.logs.String(), "\n") {
			if strings.Contains(line, `"level":"WARN"`) && strings.Contains(line, `maxmemory-policy is \"allkeys-lru\"`) {
				return nil
			}
		}
		return fmt.Errorf("no warning about allkeys-lru in the logs yet")
	})
}
