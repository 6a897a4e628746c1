package main

import (
	"errors"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rulehook/rulehook/metadata/mgmt/mgmttest"
	"github.com/rulehook/rulehook/metadata/testkit"
)

// The tests in this file run the whole login: the real Action under node, rulehook's serve on a
// free port, a real redis-server and the emulated tenant reached through go-auth0.

func TestLoginPromotesAtThresholdKeepingOtherRolesInOnePatch(t *testing.T) {
	s := startStack(t, nil)
	u := s.seed(t, mgmttest.User{ID: "auth0|alice", Email: "alice@example.com",
		AppMetadata: map[string]any{"roles": []any{"admin"}, "plan": "gold"}}, 100)

	res := s.login(t, u)

	roles, _ := res.Roles(testNamespace)
	if want := []string{"admin", "playlist_editor"}; !reflect.DeepEqual(roles, want) {
		t.Errorf("roles claim = %v; want %v", roles, want)
	}
	if got := res.AccessTokenClaims[testNamespace+"/roles"]; !reflect.DeepEqual(got, res.IDTokenClaims[testNamespace+"/roles"]) {
		t.Errorf("access token roles = %v; want the ID token's", got)
	}
	stored := s.stored(t, "auth0|alice")
	if got := join(rolesOf(stored)); got != "admin,playlist_editor" {
		t.Errorf("stored roles = %s; want admin,playlist_editor", got)
	}
	if stored.AppMetadata["plan"] != "gold" || stored.UserMetadata["displayName"] != "user" {
		t.Errorf("stored user = %+v; want plan kept and displayName defaulted", stored)
	}
	patches := patchBodies(s.tenant)
	if len(patches) != 1 {
		t.Fatalf("PATCH requests = %d; want exactly 1 for two changes", len(patches))
	}
	if !strings.Contains(patches[0], `"app_metadata"`) || !strings.Contains(patches[0], `"user_metadata"`) {
		t.Errorf("PATCH body = %s; want both objects in one request", patches[0])
	}
	if strings.Contains(patches[0], `"plan"`) {
		t.Errorf("PATCH body = %s; want only the changed top-level keys", patches[0])
	}
}

func TestLoginDemotesBelowThresholdKeepingOtherRoles(t *testing.T) {
	s := startStack(t, nil)
	u := s.seed(t, mgmttest.User{ID: "auth0|bob",
		AppMetadata:  map[string]any{"roles": []any{"playlist_editor", "admin"}},
		UserMetadata: map[string]any{"displayName": "Bobby"}}, 99)

	res := s.login(t, u)

	if roles, _ := res.Roles(testNamespace); join(roles) != "admin" {
		t.Errorf("roles claim = %v; want [admin]", roles)
	}
	stored := s.stored(t, "auth0|bob")
	if got := join(rolesOf(stored)); got != "admin" {
		t.Errorf("stored roles = %s; want admin", got)
	}
	if stored.UserMetadata["displayName"] != "Bobby" {
		t.Errorf("displayName = %v; want the user's own Bobby kept", stored.UserMetadata["displayName"])
	}
	if patches := patchBodies(s.tenant); len(patches) != 1 || strings.Contains(patches[0], "user_metadata") {
		t.Errorf("PATCH bodies = %v; want one PATCH with app_metadata only", patches)
	}
}

func TestNoChangeLoginMakesNoManagementCall(t *testing.T) {
	s := startStack(t, nil)
	u := s.seed(t, mgmttest.User{ID: "auth0|carol",
		AppMetadata:  map[string]any{"roles": []any{"playlist_editor"}},
		UserMetadata: map[string]any{"displayName": "C"}}, 300)
	s.tenant.ResetLog()

	for range 3 {
		res := s.login(t, u)
		if roles, _ := res.Roles(testNamespace); join(roles) != "playlist_editor" {
			t.Fatalf("roles claim = %v; want [playlist_editor]", roles)
		}
	}
	if n := len(s.tenant.Requests()); n != 0 {
		t.Errorf("tenant requests after 3 no-change logins = %d; want 0 (no token, no GET, no PATCH)", n)
	}
}

func TestDisplayNameDefaultOnlyWhenMissing(t *testing.T) {
	s := startStack(t, map[string]string{"DEFAULT_DISPLAY_NAME": "listener"})
	cases := []struct {
		id   string
		meta map[string]any
		want string
	}{
		{"auth0|none", nil, "listener"},
		{"auth0|empty", map[string]any{"displayName": ""}, "listener"},
		{"auth0|own", map[string]any{"displayName": "J-vald3z"}, "J-vald3z"},
	}
	for _, c := range cases {
		u := s.seed(t, mgmttest.User{ID: c.id, UserMetadata: c.meta}, 0)
		s.login(t, u)
		if got := s.stored(t, c.id).UserMetadata["displayName"]; got != c.want {
			t.Errorf("%s: displayName = %v; want %q", c.id, got, c.want)
		}
	}
	if n := len(patchBodies(s.tenant)); n != 2 {
		t.Errorf("PATCH requests = %d; want 2 (the user with a name is not written)", n)
	}
}

func TestActionWriteModeMakesNoPatchAndTheActionPersists(t *testing.T) {
	s := startStack(t, map[string]string{"WRITE_MODE": "action"})
	u := s.seed(t, mgmttest.User{ID: "auth0|dave", AppMetadata: map[string]any{"roles": []any{"beta"}}}, 150)

	res := s.login(t, u)

	if roles, _ := res.Roles(testNamespace); join(roles) != "beta,playlist_editor" {
		t.Errorf("roles claim = %v; want [beta playlist_editor]", roles)
	}
	if got := res.AppMetadataSet["roles"]; !reflect.DeepEqual(got, []any{"beta", "playlist_editor"}) {
		t.Errorf("Action setAppMetadata(roles) = %v; want [beta playlist_editor]", got)
	}
	if got := res.UserMetadataSet["displayName"]; got != "user" {
		t.Errorf("Action setUserMetadata(displayName) = %v; want user", got)
	}
	if n := s.tenant.Count(http.MethodPatch, "/api/v2/users"); n != 0 {
		t.Errorf("PATCH requests in action mode = %d; want 0", n)
	}
}

func TestOneTokenRequestAcrossManyLogins(t *testing.T) {
	s := startStack(t, nil)
	for i, plays := range []int{150, 10, 150, 10} {
		u := s.seed(t, mgmttest.User{ID: "auth0|tok" + string(rune('a'+i))}, plays)
		s.callout(t, u)
	}
	if got := s.tenant.Count(http.MethodPatch, "/api/v2/users"); got != 4 {
		t.Errorf("PATCH requests = %d; want 4", got)
	}
	if got := s.tenant.TokenRequests(); got != 1 {
		t.Errorf("token requests = %d; want 1 for 4 writes", got)
	}
}

func TestRedisDownNeverDemotesAndRecoversWithoutRestart(t *testing.T) {
	s := startStack(t, nil)
	u := s.seed(t, mgmttest.User{ID: "auth0|erin",
		AppMetadata:  map[string]any{"roles": []any{"playlist_editor", "admin"}},
		UserMetadata: map[string]any{"displayName": "E"}}, 5) // a demotion is due

	s.redis.Stop()
	start := time.Now()
	code, a := s.callout(t, u)
	elapsed := time.Since(start)
	if code != http.StatusOK || join(a.Roles) != "playlist_editor,admin" || !slices.Contains(a.Degraded, "redis") {
		t.Errorf("callout with Redis down = %d %+v; want 200, the current roles, degraded [redis]", code, a)
	}
	if limit := testkit.Within(stackDeadline); elapsed > limit {
		t.Errorf("callout with Redis down took %s; want it bounded by the %s deadline (limit %s)", elapsed, stackDeadline, limit)
	}
	res := s.login(t, u)
	if roles, _ := res.Roles(testNamespace); join(roles) != "playlist_editor,admin" || res.Denied {
		t.Errorf("Action with Redis down: roles %v denied %v; want current roles, not denied", roles, res.Denied)
	}
	if got := status(t, s.url+"/readyz"); got != http.StatusServiceUnavailable {
		t.Errorf("readyz with Redis down = %d; want 503", got)
	}
	if got := status(t, s.url+"/healthz"); got != http.StatusOK {
		t.Errorf("healthz with Redis down = %d; want 200", got)
	}
	if n := s.tenant.Count(http.MethodPatch, "/api/v2/users"); n != 0 {
		t.Errorf("PATCH requests while Redis is down = %d; want 0 (nothing demoted)", n)
	}

	s.redis.Restart()
	if _, err := s.redis.Do("SET", "rulehook:{auth0|erin}:plays", "5"); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, func() error {
		if status(t, s.url+"/readyz") != http.StatusOK {
			return errNotReady
		}
		return nil
	})
	if code, a := s.callout(t, u); code != http.StatusOK || join(a.Roles) != "admin" || len(a.Degraded) != 0 {
		t.Errorf("callout after Redis returned = %d %+v; want 200 and the demotion applied", code, a)
	}
}

func TestManagementAPIFailuresAnswerWithinTheDeadline(t *testing.T) {
	cases := []struct {
		name  string
		fault mgmttest.Fault
	}{
		{"429", mgmttest.Fault{Status: http.StatusTooManyRequests, Reset: time.Now().Add(30 * time.Second)}},
		{"503", mgmttest.Fault{Status: http.StatusServiceUnavailable}},
		{"hang", mgmttest.Fault{Hang: true}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := startStack(t, nil)
			u := s.seed(t, mgmttest.User{ID: "auth0|frank", UserMetadata: map[string]any{"displayName": "F"}}, 120)
			s.tenant.SetFault(http.MethodPatch, "/api/v2/users/*", c.fault)

			start := time.Now()
			code, a := s.callout(t, u)
			if elapsed, limit := time.Since(start), testkit.Within(stackDeadline); elapsed > limit {
				t.Errorf("callout took %s; want it bounded by the %s deadline (limit %s)", elapsed, stackDeadline, limit)
			}
			// The write is queued durably, so the login is answered as written by rulehook.
			if code != http.StatusOK || join(a.Roles) != "playlist_editor" || a.WrittenBy != "rulehook" {
				t.Errorf("callout = %d %+v; want 200, promoted, written_by rulehook (queued)", code, a)
			}
		})
	}
}

func TestClosedPolicyDeniesWhenRedisIsDown(t *testing.T) {
	s := startStack(t, map[string]string{"FAILURE_POLICY": "closed"})
	u := s.seed(t, mgmttest.User{ID: "auth0|gina", AppMetadata: map[string]any{"roles": []any{"admin"}}}, 150)
	s.redis.Stop()

	if code, _ := s.callout(t, u); code != http.StatusServiceUnavailable {
		t.Errorf("callout under the closed policy with Redis down = %d; want 503", code)
	}
	res := s.login(t, u) // the Action's own FAILURE_POLICY is open: rulehook's 503 still denies
	if !res.Denied {
		t.Errorf("Action result = %+v; want the login denied", res)
	}
	if strings.Contains(strings.ToLower(res.DenyReason), "redis") {
		t.Errorf("deny reason %q reveals an internal detail", res.DenyReason)
	}
}

func patchBodies(tenant *mgmttest.Server) []string {
	var out []string
	for _, r := range tenant.Requests() {
		if r.Method == http.MethodPatch && strings.HasPrefix(r.Path, "/api/v2/users/") {
			out = append(out, r.Body)
		}
	}
	return out
}

var errNotReady = errors.New("not ready")

func TestActionWhenRulehookIsDown(t *testing.T) {
	s := startStack(t, nil)
	u := s.seed(t, mgmttest.User{ID: "auth0|henry", AppMetadata: map[string]any{"roles": []any{"playlist_editor", "admin"}}}, 0)
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}

	open := s.login(t, u)
	if roles, _ := open.Roles(testNamespace); join(roles) != "playlist_editor,admin" || open.Denied {
		t.Errorf("fail-open with rulehook down: roles %v, denied %v; want the current roles, not denied", roles, open.Denied)
	}
	closed := s.login(t, u, "FAILURE_POLICY", "closed")
	if !closed.Denied {
		t.Errorf("fail-closed with rulehook down: %+v; want the login denied", closed)
	}
	if n := s.tenant.Count(http.MethodPatch, "/api/v2/users"); n != 0 {
		t.Errorf("PATCH requests = %d; want 0", n)
	}
}
