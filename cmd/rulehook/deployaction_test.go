package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/rulehook/rulehook/metadata/mgmt/mgmttest"
)

func TestDeployActionTwiceLeavesOneBoundDeployedAction(t *testing.T) {
	tenant := mgmttest.New()
	t.Cleanup(tenant.Close)
	other := tenant.SeedBoundAction("post-login", "someone else's action")
	env := tenantEnv(tenant, map[string]string{
		"CALLOUT_SECRET": testSecret, "RULEHOOK_URL": "https://rulehook.example.com", "CLAIM_NAMESPACE": testNamespace,
	})
	getenv := func(k string) string { return env[k] }

	var dry bytes.Buffer
	if err := run(context.Background(), []string{"deploy-action", "--dry-run"}, getenv, &dry, &dry); err != nil {
		t.Fatalf("deploy-action --dry-run: %v\n%s", err, dry.String())
	}
	if n := len(tenant.Actions()); n != 1 {
		t.Fatalf("actions after a dry run = %d; want 1 (only the seeded one)", n)
	}
	wantLast := []string{
		`action "rulehook post-login" created and deployed (version 1); bound to post-login once (2 bindings)`,
		`action "rulehook post-login" is deployed and current (version 1); bound to post-login once (2 bindings)`,
	}
	for _, want := range wantLast {
		var out bytes.Buffer
		if err := run(context.Background(), []string{"deploy-action"}, getenv, &out, &out); err != nil {
			t.Fatalf("deploy-action: %v\n%s", err, out.String())
		}
		if strings.Contains(out.String(), testSecret) {
			t.Errorf("deploy-action printed the callout secret:\n%s", out.String())
		}
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		if got := lines[len(lines)-1]; got != want {
			t.Errorf("last line = %q; want %q", got, want)
		}
	}

	var ours []mgmttest.Action
	for _, a := range tenant.Actions() {
		if a.Name == "rulehook post-login" {
			ours = append(ours, a)
		}
	}
	if len(ours) != 1 || ours[0].DeployedVersion == 0 || ours[0].Runtime != "node22" {
		t.Fatalf("rulehook actions = %+v; want one, deployed, node22", ours)
	}
	if ours[0].Secrets["CALLOUT_SECRET"] != testSecret || ours[0].Secrets["RULEHOOK_URL"] != "https://rulehook.example.com" {
		t.Errorf("action secrets not set: %v", keys(ours[0].Secrets))
	}
	b := tenant.Bindings("post-login")
	if len(b) != 2 || b[0].ActionID != other.ID || b[1].ActionID != ours[0].ID {
		t.Errorf("post-login bindings = %+v; want the existing one first, then rulehook's once", b)
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestDeployActionRefusesARestrictedClaimNamespace(t *testing.T) {
	tenant := mgmttest.New()
	t.Cleanup(tenant.Close)
	for _, ns := range []string{"roles", "https://tenant.auth0.com", "https://x.webtask.io", "http://webtask.run/ns"} {
		env := tenantEnv(tenant, map[string]string{
			"CALLOUT_SECRET": testSecret, "RULEHOOK_URL": "https://rulehook.example.com", "CLAIM_NAMESPACE": ns,
		})
		var out bytes.Buffer
		err := run(context.Background(), []string{"deploy-action"}, func(k string) string { return env[k] }, &out, &out)
		if err == nil || !strings.Contains(err.Error(), "CLAIM_NAMESPACE") {
			t.Errorf("deploy-action with CLAIM_NAMESPACE=%q = %v; want it refused", ns, err)
		}
	}
	if n := len(tenant.Actions()); n != 0 {
		t.Errorf("actions = %d; want none created", n)
	}
}
