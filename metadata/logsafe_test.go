package metadata

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestLogIDHidesEmails(t *testing.T) {
	if got, want := LogID("auth0|123"), "auth0|123"; got != want {
		t.Errorf("LogID(plain id) = %q; want %q", got, want)
	}
	id := "samlp|corp|alice.smith@corp.example"
	got := LogID(id)
	if strings.Contains(got, "@") || !strings.HasPrefix(got, "sha256:") || len(got) != len("sha256:")+16 {
		t.Errorf("LogID(%q) = %q; want sha256: and 16 hex digits", id, got)
	}
	if again := LogID(id); again != got {
		t.Errorf("LogID is not stable: %q then %q", got, again)
	}
	if a := UserAttr(id); a.Key != "user_id_sha256" || a.Value.String() != strings.TrimPrefix(got, "sha256:") {
		t.Errorf("UserAttr(%q) = %v; want user_id_sha256=%s", id, a, strings.TrimPrefix(got, "sha256:"))
	}
	if a := UserAttr("auth0|1"); a.Key != "user_id" || a.Value.String() != "auth0|1" {
		t.Errorf("UserAttr(plain id) = %v; want user_id=auth0|1", a)
	}
	err := fmt.Errorf("mgmt: read user %s: %w", id, errors.New("answered 503"))
	if msg := Redact(err.Error(), id, ""); strings.Contains(msg, "@") || !strings.Contains(msg, got) {
		t.Errorf("Redact(%q) = %q; want the id replaced by %s", err, msg, got)
	}
}
