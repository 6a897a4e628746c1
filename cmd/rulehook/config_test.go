package main

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func validEnv() map[string]string {
	return map[string]string{
		"REDIS_URL":           "redis://127.0.0.1:6390/0",
		"AUTH0_DOMAIN":        "example.us.auth0.com",
		"AUTH0_CLIENT_ID":     "client-id",
		"AUTH0_CLIENT_SECRET": "client-secret",
		"CALLOUT_SECRET":      strings.Repeat("s", 32),
		"CALLOUT_AUDIENCE":    "https://rulehook.example.com",
	}
}

func TestLoadConfigDefaults(t *testing.T) {
	c, err := loadConfig(envOf(validEnv()))
	if err != nil {
		t.Fatalf("loadConfig(valid) = %v", err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"ListenAddr", c.ListenAddr, ":8080"},
		{"Auth0ManagementURL", c.Auth0ManagementURL, "https://example.us.auth0.com"},
		{"CalloutIssuer", c.CalloutIssuer, "https://example.us.auth0.com/"},
		{"Threshold", c.Policy.Threshold, int64(100)},
		{"DefaultDisplayName", c.Policy.DefaultDisplayName, "user"},
		{"WriteMode", c.WriteMode, "management"},
		{"FailOpen", c.FailOpen, true},
		{"CalloutDeadline", c.CalloutDeadline, 2 * time.Second},
		{"MaxBodyBytes", c.MaxBodyBytes, int64(262144)},
		{"MaxBodyMemory", c.MaxBodyMemory, int64(4 << 20)},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %v; want %v", ch.name, ch.got, ch.want)
		}
	}
}

func TestLoadConfigListsEveryProblem(t *testing.T) {
	_, err := loadConfig(envOf(map[string]string{
		"CALLOUT_SECRET":            "short-secret-value",
		"PLAYLIST_EDITOR_THRESHOLD": "lots",
		"WRITE_MODE":                "sometimes",
		"AUTH0_MANAGEMENT_URL":      "http://tenant.example.com",
	}))
	var ce *configError
	if !errors.As(err, &ce) {
		t.Fatalf("loadConfig(bad) = %v; want a *configError", err)
	}
	msg := err.Error()
	for _, want := range []string{"REDIS_URL", "AUTH0_DOMAIN", "CALLOUT_SECRET is 18 bytes", "CALLOUT_AUDIENCE",
		"PLAYLIST_EDITOR_THRESHOLD", "WRITE_MODE", "AUTH0_MANAGEMENT_URL: base url \"http://tenant.example.com\": http is accepted only for loopback hosts"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error does not mention %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "short-secret-value") {
		t.Errorf("error reveals a secret:\n%s", msg)
	}
}

func TestLoadConfigCases(t *testing.T) {
	tests := []struct {
		name    string
		change  map[string]string
		wantErr string // "" = valid
	}{
		{"action mode needs no client", map[string]string{"WRITE_MODE": "action", "AUTH0_CLIENT_ID": "", "AUTH0_CLIENT_SECRET": ""}, ""},
		{"shadow mode needs no client", map[string]string{"WRITE_MODE": "shadow", "AUTH0_CLIENT_ID": "", "AUTH0_CLIENT_SECRET": ""}, ""},
		{"management mode needs client", map[string]string{"AUTH0_CLIENT_SECRET": ""}, "AUTH0_CLIENT_SECRET is required"},
		{"http loopback management url", map[string]string{"AUTH0_MANAGEMENT_URL": "http://127.0.0.1:9999"}, ""},
		{"ftp management url", map[string]string{"AUTH0_MANAGEMENT_URL": "ftp://x"}, "scheme must be https"},
		{"two topologies", map[string]string{"REDIS_CLUSTER_ADDRS": "a:1,b:2"}, "exactly one Redis topology"},
		{"sentinel without master", map[string]string{"REDIS_URL": "", "REDIS_SENTINEL_ADDRS": "a:26379"}, "go together"},
		{"sentinel", map[string]string{"REDIS_URL": "", "REDIS_SENTINEL_ADDRS": "a:26379, b:26379", "REDIS_SENTINEL_MASTER": "mymaster"}, ""},
		{"cluster", map[string]string{"REDIS_URL": "", "REDIS_CLUSTER_ADDRS": "a:7000,b:7001"}, ""},
		{"bad redis scheme", map[string]string{"REDIS_URL": "http://x"}, "redis:// or rediss://"},
		{"domain with scheme", map[string]string{"AUTH0_DOMAIN": "https://x.auth0.com"}, "AUTH0_DOMAIN"},
		{"short previous secret", map[string]string{"CALLOUT_SECRET_PREVIOUS": "abc"}, "CALLOUT_SECRET_PREVIOUS is 3 bytes"},
		{"legacy half set", map[string]string{"API_LEGACY_HS256_SECRET": strings.Repeat("x", 32)}, "go together"},
		{"legacy secret is the callout secret", map[string]string{"API_LEGACY_HS256_SECRET": strings.Repeat("s", 32), "API_LEGACY_AUDIENCE": "client"}, "must differ from CALLOUT_SECRET"},
		{"legacy secret is the previous callout secret", map[string]string{"CALLOUT_SECRET_PREVIOUS": strings.Repeat("p", 32),
			"API_LEGACY_HS256_SECRET": strings.Repeat("p", 32), "API_LEGACY_AUDIENCE": "client"}, "must differ from CALLOUT_SECRET"},
		{"bad deadline", map[string]string{"CALLOUT_DEADLINE": "forever"}, "CALLOUT_DEADLINE"},
		{"deadline too long", map[string]string{"CALLOUT_DEADLINE": "30s"}, "CALLOUT_DEADLINE"},
		{"zero threshold", map[string]string{"PLAYLIST_EDITOR_THRESHOLD": "0"}, "PLAYLIST_EDITOR_THRESHOLD"},
		{"bad display name", map[string]string{"DEFAULT_DISPLAY_NAME": "a\x01b"}, "DEFAULT_DISPLAY_NAME"},
		{"bad policy", map[string]string{"FAILURE_POLICY": "maybe"}, "FAILURE_POLICY"},
		{"bad listen addr", map[string]string{"LISTEN_ADDR": "8080"}, "LISTEN_ADDR"},
		{"body memory budget", map[string]string{"MAX_BODY_MEMORY_BYTES": "1048576"}, ""},
		{"body memory under twice the body limit", map[string]string{"MAX_BODY_MEMORY_BYTES": "300000"}, "MAX_BODY_MEMORY_BYTES"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := validEnv()
			for k, v := range tt.change {
				env[k] = v
			}
			_, err := loadConfig(envOf(env))
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("loadConfig = %v; want valid", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("loadConfig = %v; want an error mentioning %q", err, tt.wantErr)
			}
		})
	}
}
