package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/rulehook/rulehook/metadata"
	"github.com/rulehook/rulehook/metadata/mgmt/mgmttest"
	"github.com/rulehook/rulehook/metadata/redisstore/redistest"
)

// shadowUsers are the scripted logins' users: who they are, their plays, and the kinds of
// disagreement a login of theirs must be counted as.
var shadowUsers = []struct {
	user  mgmttest.User
	plays int
	kinds []string
}{
	{mgmttest.User{ID: "auth0|sh-editor", AppMetadata: map[string]any{"roles": []any{"admin", "playlist_editor"}},
		UserMetadata: map[string]any{"displayName": "A"}}, 150, nil},
	{mgmttest.User{ID: "auth0|sh-listener", UserMetadata: map[string]any{"displayName": "B"}}, 3, nil},
	{mgmttest.User{ID: "auth0|sh-promote", AppMetadata: map[string]any{"roles": []any{"admin"}},
		UserMetadata: map[string]any{"displayName": "C"}}, 120, []string{metadata.ShadowPromote}},
	{mgmttest.User{ID: "auth0|sh-demote", AppMetadata: map[string]any{"roles": []any{"playlist_editor"}},
		UserMetadata: map[string]any{"displayName": "D"}}, 10, []string{metadata.ShadowDemote}},
	{mgmttest.User{ID: "samlp|corp|jane@example.com", Email: "jane@example.com"}, 200,
		[]string{metadata.ShadowPromote, metadata.ShadowDisplayName}},
}

// TestShadowModeFullLoop logs scripted users in with WRITE_MODE=shadow: rulehook must never
// PATCH, must answer each user's current roles with empty objects, and must count and audit
// exactly the disagreements the script holds.
func TestShadowModeFullLoop(t *testing.T) {
	s := startStack(t, map[string]string{"WRITE_MODE": "shadow"})
	for i, su := range shadowUsers {
		u := s.seed(t, su.user, su.plays)
		times := 1
		if i == 0 {
			times = 2 // an agreeing login seen twice counts twice
		}
		for range times {
			code, a := s.callout(t, u)
			want := metadata.User{AppMetadata: su.user.AppMetadata}.Roles()
			if code != 200 || !reflect.DeepEqual(a.Roles, want) || len(a.AppMetadata) != 0 || len(a.UserMetadata) != 0 || a.WrittenBy != "none" {
				t.Errorf("%s: %d %+v; want 200, roles %v, empty objects, written_by none", su.user.ID, code, a, want)
			}
		}
	}
	// The real Action, for a user rulehook would promote: the token keeps the current roles.
	promote := shadowUsers[2]
	res := s.login(t, s.seed(t, promote.user, promote.plays))
	if roles, _ := res.Roles(testNamespace); join(roles) != "admin" || len(res.AppMetadataSet) != 0 {
		t.Errorf("Action in shadow mode: roles %v, app_metadata set %v; want [admin] and nothing set", roles, res.AppMetadataSet)
	}

	if n := s.tenant.Count(http.MethodPatch, "/api/v2/users"); n != 0 {
		t.Errorf("%d PATCHes in shadow mode; want 0", n)
	}
	for _, su := range shadowUsers {
		if got := s.stored(t, su.user.ID); !reflect.DeepEqual(got.AppMetadata, su.user.AppMetadata) || !reflect.DeepEqual(got.UserMetadata, su.user.UserMetadata) {
			t.Errorf("%s changed in the tenant: %+v", su.user.ID, got)
		}
	}

	metrics := scrape(t, s.url)
	for _, want := range []string{
		`rulehook_shadow_agreements_total 3`,
		`rulehook_shadow_disagreements_total{change="promote"} 3`,
		`rulehook_shadow_disagreements_total{change="demote"} 1`,
		`rulehook_shadow_disagreements_total{change="display_name"} 1`,
		`rulehook_logins_total{outcome="ok",reason="shadow"} 7`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q:\n%s", want, grepLines(metrics, "rulehook_shadow"))
		}
	}

	checkShadowAudit(t, s.redis)
}

// checkShadowAudit checks the audit trail and audit --shadow after TestShadowModeFullLoop's logins.
func checkShadowAudit(t *testing.T, r *redistest.Server) {
	t.Helper()
	out := auditCmd(t, r, "--user", "auth0|sh-promote")
	if strings.Count(out, " shadow ") != 2 || !strings.Contains(out, `app_metadata.roles: ["admin"] -> ["admin","playlist_editor"]`) {
		t.Errorf("audit of auth0|sh-promote lacks its two would-be promotions:\n%s", out)
	}
	if out := auditCmd(t, r, "--user", "auth0|sh-editor"); !strings.Contains(out, "no metadata changes recorded") {
		t.Errorf("an agreeing user has audit entries:\n%s", out)
	}
	sum := auditCmd(t, r, "--shadow", "--since", "1h")
	for _, want := range []string{"logins seen   7", "agreed        3 (42.9%)", "disagreed     4",
		"promote      3   e.g. ", "auth0|sh-promote", metadata.LogID("samlp|corp|jane@example.com"),
		"demote       1   e.g. auth0|sh-demote", "display_name 1   e.g. sha256:"} {
		if !strings.Contains(sum, want) {
			t.Errorf("audit --shadow lacks %q:\n%s", want, sum)
		}
	}
	if strings.Contains(sum, "jane@example.com") {
		t.Errorf("audit --shadow prints an email:\n%s", sum)
	}
}

// TestShadowThenManagementOnTheSameRedis runs shadow mode, then management mode on the same
// Redis: the plays and the shadow record carry over, and the first management login writes
// what shadow mode only predicted.
func TestShadowThenManagementOnTheSameRedis(t *testing.T) {
	shadow := startStack(t, map[string]string{"WRITE_MODE": "shadow"})
	su := shadowUsers[2]
	if _, a := shadow.callout(t, shadow.seed(t, su.user, su.plays)); a.WrittenBy != "none" {
		t.Fatalf("shadow answer written_by %q; want none", a.WrittenBy)
	}
	if err := shadow.stop(); err != nil {
		t.Fatal(err)
	}

	r := shadow.redis
	mgmt := startStackOn(t, map[string]string{"REDIS_URL": r.URL()}, nil, map[string]string{"WRITE_MODE": "management"})
	mgmt.tenant.PutUser(su.user) // the same user, plays already in Redis
	u := shadow.seed(t, su.user, su.plays)
	_, a := mgmt.callout(t, u)
	if a.WrittenBy != "rulehook" || join(a.Roles) != "admin,playlist_editor" {
		t.Errorf("management answer %+v; want the promotion, written by rulehook", a)
	}
	if got := rolesOf(mgmt.stored(t, su.user.ID)); join(got) != "admin,playlist_editor" {
		t.Errorf("tenant roles %v after the switch; want admin,playlist_editor", got)
	}
	out := auditCmd(t, r, "--user", su.user.ID)
	if !strings.Contains(out, " shadow ") || !strings.Contains(out, " login ") {
		t.Errorf("audit after the switch lacks the shadow entry or the real change:\n%s", out)
	}
	if sum := auditCmd(t, r, "--shadow"); !strings.Contains(sum, "logins seen   1") {
		t.Errorf("management logins counted as shadow logins:\n%s", sum)
	}
}

func auditCmd(t *testing.T, r *redistest.Server, args ...string) string {
	t.Helper()
	var out bytes.Buffer
	getenv := func(k string) string { return map[string]string{"REDIS_URL": r.URL()}[k] }
	if err := run(context.Background(), append([]string{"audit"}, args...), getenv, &out, &out); err != nil {
		t.Fatalf("audit %q: %v\n%s", args, err, out.String())
	}
	return out.String()
}

func scrape(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
