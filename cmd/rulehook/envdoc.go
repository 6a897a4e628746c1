package main

import "strings"

// envVar documents one variable of the environment: its name, default and meaning.
type envVar struct{ name, def, meaning string }

// serveEnv is the environment `serve` and `check-config` read, as their -h prints it (the README
// has the long form). TestServeEnvTableIsComplete holds it to what loadConfig reads.
var serveEnv = []envVar{
	{"LISTEN_ADDR", ":8080", "HTTP listen address"},
	{"METRICS_ADDR", "", "also serve /metrics on this address"},
	{"REDIS_URL", "", "redis:// or rediss:// URL of a single Redis (required unless a Cluster or Sentinel is set)"},
	{"REDIS_CLUSTER_ADDRS", "", "comma-separated seed nodes of a Redis Cluster"},
	{"REDIS_SENTINEL_ADDRS", "", "Sentinel addresses (with REDIS_SENTINEL_MASTER)"},
	{"REDIS_SENTINEL_MASTER", "", "the Sentinels' master name"},
	{"REDIS_USERNAME", "", "username for Cluster nodes and the Sentinels' master"},
	{"REDIS_PASSWORD", "", "password for Cluster nodes and the Sentinels' master"},
	{"REDIS_TIMEOUT", "500ms", "dial, read and write timeout of each Redis call"},
	{"AUTH0_DOMAIN", "", "tenant domain, e.g. example.us.auth0.com (required)"},
	{"AUTH0_CLIENT_ID", "", "M2M application for the Management API (required in management mode)"},
	{"AUTH0_CLIENT_SECRET", "", "its secret (required in management mode)"},
	{"AUTH0_MANAGEMENT_URL", "https://$AUTH0_DOMAIN", "base URL of the tenant; http:// only for loopback"},
	{"CALLOUT_SECRET", "", "HS256 key shared with the Action, at least 32 bytes (required)"},
	{"CALLOUT_SECRET_PREVIOUS", "", "also accepted, for rotation"},
	{"CALLOUT_AUDIENCE", "", "expected aud of callout tokens: the service's public URL (required)"},
	{"CALLOUT_ISSUER", "https://$AUTH0_DOMAIN/", "expected iss of callout tokens"},
	{"CALLOUT_DEADLINE", "2s", "the callout is answered within this time"},
	{"PLAYLIST_EDITOR_THRESHOLD", "100", "plays needed for playlist_editor"},
	{"DEFAULT_DISPLAY_NAME", "user", "displayName given to a user who has none"},
	{"WRITE_MODE", "management", "management (rulehook PATCHes), action (the Action persists) or shadow (decide, write nothing)"},
	{"FAILURE_POLICY", "open", "open (answer current roles, degraded) or closed (503: deny)"},
	{"API_AUDIENCE", "", "audience of the app API's RS256 access tokens (unset: off)"},
	{"API_ISSUER", "https://$AUTH0_DOMAIN/", "expected iss of app API tokens"},
	{"API_LEGACY_HS256_SECRET", "", "opt-in: accept the seed's HS256 app tokens with this secret"},
	{"API_LEGACY_AUDIENCE", "", "their audience (the seed's client id)"},
	{"API_LEGACY_ISSUER", "", "check their iss too"},
	{"MAX_BODY_BYTES", "262144", "larger request bodies get 413"},
	{"MAX_BODY_MEMORY_BYTES", "4194304", "request bodies held in memory at once; past it a callout gets a fast 503 (at least twice MAX_BODY_BYTES)"},
	{"SHUTDOWN_TIMEOUT", "15s", "time in-flight requests get after SIGTERM"},
	{"QUEUE_WORKERS", "1", "retry-queue workers per process (0: only enqueue)"},
	{"LOG_LEVEL", "info", "debug, info, warn or error"},
	{"LOG_FORMAT", "json", "json, or text (dev: text on a terminal)"},
}

func serveEnvTable() string { return envTable("environment", serveEnv) }

// redisEnv is the part of serveEnv that names the Redis.
func redisEnv() []envVar {
	var out []envVar
	for _, v := range serveEnv {
		if strings.HasPrefix(v.name, "REDIS_") {
			out = append(out, v)
		}
	}
	return out
}

// deployActionEnv is what `deploy-action` reads (flags override the last three).
var deployActionEnv = []envVar{
	{"AUTH0_DOMAIN", "", "tenant domain (required)"},
	{"AUTH0_CLIENT_ID", "", "M2M application allowed read:actions, create:actions, update:actions (required)"},
	{"AUTH0_CLIENT_SECRET", "", "its secret (required)"},
	{"AUTH0_MANAGEMENT_URL", "https://$AUTH0_DOMAIN", "base URL of the tenant"},
	{"CALLOUT_SECRET", "", "the Action's HS256 key, the service's CALLOUT_SECRET (required)"},
	{"CALLOUT_AUDIENCE", "", "the Action's aud, when not RULEHOOK_URL"},
	{"CALLOUT_ISSUER", "", "the Action's iss, when not https://$AUTH0_DOMAIN/"},
	{"RULEHOOK_URL", "", "rulehook's public base URL (required; --rulehook-url)"},
	{"CLAIM_NAMESPACE", "", "namespace of the roles claim (required; --claim-namespace)"},
	{"FAILURE_POLICY", "open", "the Action's failure policy (--failure-policy)"},
}
