package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/rulehook/rulehook/metadata/mgmt/mgmttest"
)

func TestAuditShowsWhatALoginChanged(t *testing.T) {
	s := startStack(t, nil)
	u := s.seed(t, mgmttest.User{ID: "auth0|audited", Email: "secret-person@example.com",
		AppMetadata: map[string]any{"roles": []any{"admin"}}}, 150)
	if code, _ := s.callout(t, u); code != 200 {
		t.Fatalf("callout = %d; want 200", code)
	}

	var out bytes.Buffer
	getenv := func(k string) string { return map[string]string{"REDIS_URL": s.redis.URL()}[k] }
	if err := run(context.Background(), []string{"audit", "--user", "auth0|audited"}, getenv, &out, &out); err != nil {
		t.Fatalf("audit: %v\n%s", err, out.String())
	}
	got := out.String()
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
