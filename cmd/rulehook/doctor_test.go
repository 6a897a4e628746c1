package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/rulehook/rulehook/metadata/mgmt/mgmttest"
	"github.com/rulehook/rulehook/metadata/redisstore/redistest"
)

// doctorEnv is serve's environment for a Redis at redisURL and the tenant.
func doctorEnv(tenant *mgmttest.Server, redisURL string) map[string]string {
	return tenantEnv(tenant, map[string]string{
		"REDIS_URL": redisURL, "CALLOUT_SECRET": testSecret, "CALLOUT_AUDIENCE": "https://rulehook.example.com",
	})
}

// runDoctorWith runs `rulehook doctor` and returns its output and exit code.
func runDoctorWith(t *testing.T, env map[string]string, args ...string) (string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), append([]string{"doctor"}, args...), func(k string) string { return env[k] }, &out, &errOut)
	code := exitCode(err, &errOut)
	return out.String() + errOut.String(), code
}

// line returns the output line about subject (the padded second column).
func line(out, subject string) string {
	for _, l := range strings.Split(out, "\n") {
		if len(l) > 25 && strings.TrimSpace(l[6:25]) == subject {
			return l
		}
	}
	return ""
}

func TestDoctorHealthySetup(t *testing.T) {
	r := redistest.Start(t, "--maxmemory-policy", "noeviction")
	tenant := mgmttest.New()
	t.Cleanup(tenant.Close)
	env := doctorEnv(tenant, r.URL())
	env["RULEHOOK_URL"], env["CLAIM_NAMESPACE"] = "https://rulehook.example.com", testNamespace
	var deployOut bytes.Buffer
	if err := run(context.Background(), []string{"deploy-action"}, func(k string) string { return env[k] }, &deployOut, &deployOut); err != nil {
		t.Fatalf("deploy-action: %v\n%s", err, deployOut.String())
	}

	out, code := runDoctorWith(t, env)
	t.Logf("doctor:\n%s", out)
	if code != 0 {
		t.Fatalf("doctor exit %d; want 0:\n%s", code, out)
	}
	for _, subject := range []string{"redis", "redis eviction", "management token", "management scopes",
		"action deployed", "action binding", "action secrets"} {
		if l := line(out, subject); !strings.HasPrefix(l, "ok ") {
			t.Errorf("%s line = %q; want ok\n%s", subject, l, out)
		}
	}
	if strings.Contains(out, testSecret) || strings.Contains(out, tenant.ClientSecret()) {
		t.Errorf("doctor printed a secret:\n%s", out)
	}

	// Another CALLOUT_SECRET than the Action holds: the fingerprint says so.
	env["CALLOUT_SECRET"] = "another-callout-secret-of-32-bytes-or-more"
	out, code = runDoctorWith(t, env)
	if l := line(out, "action secrets"); code != 1 || !strings.HasPrefix(l, "FAIL") {
		t.Errorf("doctor with another secret: exit %d, line %q; want 1 and FAIL\n%s", code, l, out)
	}
}

func TestDoctorMissingScopes(t *testing.T) {
	r := redistest.Start(t)
	tenant := mgmttest.New(mgmttest.WithGrantedScopes("read:users"))
	t.Cleanup(tenant.Close)
	out, code := runDoctorWith(t, doctorEnv(tenant, r.URL()))
	if code != 1 {
		t.Errorf("exit %d; want 1:\n%s", code, out)
	}
	l := line(out, "management scopes")
	if !strings.HasPrefix(l, "FAIL") || !strings.Contains(l, "missing update:users, update:users_app_metadata") || !strings.Contains(l, "fix:") {
		t.Errorf("scopes line = %q; want FAIL naming the two missing scopes with a fix\n%s", l, out)
	}
	if l := line(out, "management token"); !strings.HasPrefix(l, "ok ") {
		t.Errorf("token line = %q; want ok", l)
	}
}

func TestDoctorClosedRedisPort(t *testing.T) {
	tenant := mgmttest.New()
	t.Cleanup(tenant.Close)
	out, code := runDoctorWith(t, doctorEnv(tenant, "redis://"+freeAddr(t)))
	if code != 1 {
		t.Errorf("exit %d; want 1:\n%s", code, out)
	}
	if l := line(out, "redis"); !strings.HasPrefix(l, "FAIL") || !strings.Contains(l, "not reachable") {
		t.Errorf("redis line = %q; want FAIL not reachable\n%s", l, out)
	}
	if l := line(out, "management scopes"); !strings.HasPrefix(l, "ok ") {
		t.Errorf("scopes line = %q; want ok (the other checks still run)", l)
	}
}

func TestDoctorEvictingRedis(t *testing.T) {
	r := redistest.Start(t, "--maxmemory-policy", "allkeys-lru")
	tenant := mgmttest.New()
	t.Cleanup(tenant.Close)
	out, code := runDoctorWith(t, doctorEnv(tenant, r.URL()))
	if l := line(out, "redis eviction"); code != 1 || !strings.HasPrefix(l, "FAIL") || !strings.Contains(l, "allkeys-lru") {
		t.Errorf("exit %d, eviction line %q; want 1 and FAIL naming allkeys-lru\n%s", code, l, out)
	}
}

func TestDoctorActionNotDeployed(t *testing.T) {
	r := redistest.Start(t)
	tenant := mgmttest.New()
	t.Cleanup(tenant.Close)
	env := doctorEnv(tenant, r.URL())
	env["RULEHOOK_URL"], env["CLAIM_NAMESPACE"] = "https://rulehook.example.com", testNamespace
	out, code := runDoctorWith(t, env)
	if l := line(out, "action"); code != 1 || !strings.HasPrefix(l, "FAIL") || !strings.Contains(l, "deploy-action") {
		t.Errorf("exit %d, action line %q; want 1 and FAIL pointing at deploy-action\n%s", code, l, out)
	}
}

func TestDoctorBadEnvironmentAndHelp(t *testing.T) {
	out, code := runDoctorWith(t, map[string]string{})
	if code != 2 || !strings.Contains(out, "AUTH0_DOMAIN") {
		t.Errorf("doctor without an environment: exit %d; want 2 naming AUTH0_DOMAIN\n%s", code, out)
	}
	var stdout bytes.Buffer
	err := run(context.Background(), []string{"doctor", "-h"}, func(string) string { return "" }, &stdout, &stdout)
	if err != nil || !strings.Contains(stdout.String(), "usage: rulehook doctor") {
		t.Errorf("doctor -h = %v, %q; want usage and no error", err, stdout.String())
	}
	if err := run(context.Background(), []string{"doctor", "extra"}, func(string) string { return "" }, &stdout, &stdout); !errors.As(err, new(*exitError)) {
		t.Errorf("doctor extra = %v; want a usage error", err)
	}
}

func TestDoctorConfigGetRefused(t *testing.T) {
	r := redistest.Start(t, "--rename-command", "CONFIG", "")
	tenant := mgmttest.New()
	t.Cleanup(tenant.Close)
	out, code := runDoctorWith(t, doctorEnv(tenant, r.URL()))
	if l := line(out, "redis eviction"); code != 0 || !strings.HasPrefix(l, "skip") {
		t.Errorf("exit %d, eviction line %q; want 0 and skip\n%s", code, l, out)
	}
	if l := line(out, "action"); !strings.HasPrefix(l, "skip") || !strings.Contains(l, "RULEHOOK_URL") {
		t.Errorf("action line = %q; want skip naming RULEHOOK_URL", l)
	}
}

func TestDoctorActionNeedsReadActions(t *testing.T) {
	r := redistest.Start(t)
	tenant := mgmttest.New(mgmttest.WithGrantedScopes("read:users", "update:users", "update:users_app_metadata"))
	t.Cleanup(tenant.Close)
	env := doctorEnv(tenant, r.URL())
	env["RULEHOOK_URL"], env["CLAIM_NAMESPACE"] = "https://rulehook.example.com", testNamespace
	out, code := runDoctorWith(t, env)
	l := line(out, "action")
	if code != 1 || !strings.HasPrefix(l, "FAIL") || !strings.Contains(l, "read:actions") {
		t.Errorf("exit %d, action line %q; want 1 and FAIL naming read:actions\n%s", code, l, out)
	}
	if l := line(out, "management scopes"); !strings.HasPrefix(l, "ok ") {
		t.Errorf("scopes line = %q; want ok", l)
	}
}
