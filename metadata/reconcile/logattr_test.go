package reconcile

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestUserAttrsHideEmails(t *testing.T) {
	got := fmt.Sprint(userAttrs("auth0|123", errors.New("write for auth0|123 failed")))
	if want := "[user_id=auth0|123 error=write for auth0|123 failed]"; got != want {
		t.Errorf("userAttrs(plain id) = %s; want %s", got, want)
	}
	id := "samlp|corp|jane@example.com"
	attrs := userAttrs(id, fmt.Errorf("mgmt: write for %s: answered 503", id))
	if got := fmt.Sprint(attrs); strings.Contains(got, "example.com") || !strings.Contains(got, "user_id_sha256=") {
		t.Errorf("userAttrs(id with an email) = %s; want the id hashed everywhere", got)
	}
	if a := attrs[0].(slog.Attr); len(a.Value.String()) != 16 {
		t.Errorf("user_id_sha256 = %q; want 16 hex digits", a.Value.String())
	}
}
