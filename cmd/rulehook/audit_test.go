package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/rulehook/rulehook/metadata/mgmt/mgmttest"
)

// audit runs rulehook audit --user id with nothing but the stack's REDIS_URL in the environment,
// and returns what it printed.
func (s *testStack) audit(id string) (string, error) {
	var out bytes.Buffer
	err := run(context.Background(), []string{"audit", "--user", id}, envOf(map[string]string{"REDIS_URL": s.redis.URL()}), &out, &out)
	return out.String(), err
}

func TestAuditShowsWhatALoginChanged(t *testing.T) {
	s := startStack(t, nil)
	u := s.seed(t, mgmttest.User{ID: "auth0|audited", Email: "secret-person@example.com",
		AppMetadata: map[string]any{"roles": []any{"admin"}}}, 150)
	if code, _ := s.callout(t, u); code != 200 {
		t.Fatalf("callout = %d; want 200", code)
	}

	got, err := s.audit("auth0|audited")
	if err != nil {
		t.Fatalf("audit: %v\n%s", err, got)
	}
	for _, want := range []string{
		"auth0|audited", "login",
		`app_metadata.roles: ["admin"] -> ["admin","playlist_editor"]`,
		`user_metadata.displayName: (absent) -> "user"`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("audit output lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "secret-person") {
		t.Errorf("audit output carries an email:\n%s", got)
	}
}

// TestAuditOfDisplayNamePUT: the entry holds the real "before", and a PUT that does not change the
// name records nothing.
func TestAuditOfDisplayNamePUT(t *testing.T) {
	s := startStack(t, nil)
	s.seed(t, mgmttest.User{ID: "auth0|namer", UserMetadata: map[string]any{"displayName": "Old"}}, 0)
	for range 2 {
		if code, body := s.appRequest(t, "PUT", "/displayName", "auth0|namer", []byte(`{"displayName":"New"}`)); code != 200 {
			t.Fatalf("PUT /displayName = %d %s; want 200", code, body)
		}
	}
	got, err := s.audit("auth0|namer")
	if err != nil {
		t.Fatalf("audit: %v\n%s", err, got)
	}
	if n := strings.Count(got, "user_metadata.displayName"); n != 1 || !strings.Contains(got, `user_metadata.displayName: "Old" -> "New"`) {
		t.Errorf("audit after two PUTs of the same name:\n%s\nwant one entry, \"Old\" -> \"New\"", got)
	}
}
