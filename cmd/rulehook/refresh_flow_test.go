package main

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/rulehook/rulehook/actions/harness"
	"github.com/rulehook/rulehook/metadata/mgmt/mgmttest"
)

// loginEvent runs the real Action under node against the stack with an event shaped by l
// (protocol, omitted optional properties), for u.
func (s *testStack) loginEvent(t *testing.T, u harness.User, l harness.Login) harness.Result {
	t.Helper()
	l.User = u
	l.Secrets = map[string]string{
		"RULEHOOK_URL": s.url, "CALLOUT_SECRET": testSecret,
		"CLAIM_NAMESPACE": testNamespace, "AUTH0_DOMAIN": s.tenant.Domain(),
	}
	res, err := harness.Run(context.Background(), l)
	if errors.Is(err, harness.ErrNodeMissing) {
		t.Skip("node is not installed")
	}
	if err != nil {
		t.Fatalf("login through the Action: %v", err)
	}
	if len(res.DroppedClaims) > 0 {
		t.Errorf("claims Auth0 would drop: %v", res.DroppedClaims)
	}
	return res
}

// TestRefreshTokenExchange: Auth0 runs post-login on every refresh-token exchange
// (transaction.protocol "oauth2-refresh-token"); the refresh gets the same roles, and once
// nothing changes it writes nothing.
func TestRefreshTokenExchange(t *testing.T) {
	s := startStack(t, nil)
	u := s.seed(t, mgmttest.User{ID: "auth0|rita", AppMetadata: map[string]any{"roles": []any{"admin"}}}, 120)
	first := s.loginEvent(t, u, harness.Login{})
	// The refresh's event carries the user as Auth0 stores it after the first login.
	stored := s.stored(t, "auth0|rita")
	u = harness.User{ID: stored.ID, AppMetadata: stored.AppMetadata, UserMetadata: stored.UserMetadata}
	s.tenant.ResetLog()

	refresh := s.loginEvent(t, u, harness.Login{Protocol: harness.ProtocolRefreshToken})
	want := []string{"admin", "playlist_editor"}
	for name, res := range map[string]harness.Result{"login": first, "refresh": refresh} {
		if roles, _ := res.Roles(testNamespace); !reflect.DeepEqual(roles, want) {
			t.Errorf("%s roles claim = %v; want %v", name, roles, want)
		}
	}
	if got := len(patchBodies(s.tenant)); got != 0 {
		t.Errorf("PATCHes on the refresh = %d; want 0 (nothing changed)", got)
	}
}

// TestEventWithoutOptionalProperties: Auth0 documents event.transaction (and its id) and
// event.request.hostname as optional; a login without them is decided like any other.
func TestEventWithoutOptionalProperties(t *testing.T) {
	s := startStack(t, nil)
	for _, omit := range [][]string{{"transaction.id", "request.hostname"}, {"transaction"}} {
		id := "auth0|bare-" + omit[0]
		u := s.seed(t, mgmttest.User{ID: id}, 100)
		res := s.loginEvent(t, u, harness.Login{Protocol: harness.ProtocolRefreshToken, Omit: omit})
		if roles, _ := res.Roles(testNamespace); !reflect.DeepEqual(roles, []string{"playlist_editor"}) {
			t.Errorf("omit %v: roles claim = %v; want [playlist_editor]", omit, roles)
		}
		if got := rolesOf(s.stored(t, id)); !reflect.DeepEqual(got, []string{"playlist_editor"}) {
			t.Errorf("omit %v: stored roles = %v; want [playlist_editor]", omit, got)
		}
	}
}
