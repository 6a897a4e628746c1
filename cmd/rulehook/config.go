package main

import (
	"bytes"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/rulehook/rulehook/metadata"
	"github.com/rulehook/rulehook/metadata/mgmt"
)

// Write modes and failure policies (CONTRACT.md).
const (
	writeModeManagement = "management"
	writeModeAction     = "action"
	writeModeShadow     = "shadow"
	policyOpen          = "open"
	policyClosed        = "closed"
)

// config is the whole environment of `rulehook serve`, validated.
type config struct {
	ListenAddr  string
	MetricsAddr string // "" serves /metrics on ListenAddr

	RedisURL            string
	RedisClusterAddrs   []string
	RedisSentinelAddrs  []string
	RedisSentinelMaster string
	RedisUsername       string // for Cluster nodes and the Sentinels' master; a URL carries its own
	RedisPassword       string
	RedisTimeout        time.Duration

	Auth0Domain        string
	Auth0ClientID      string
	Auth0ClientSecret  string
	Auth0ManagementURL string

	CalloutSecret         []byte
	CalloutSecretPrevious []byte
	CalloutAudience       string
	CalloutIssuer         string
	CalloutDeadline       time.Duration

	Policy         metadata.Policy
	WriteMode      string
	FailOpen       bool
	MaxBodyBytes   int64
	MaxBodyMemory  int64
	APIAudience    string
	APIIssuer      string
	LegacySecret   []byte
	LegacyAudience string
	LegacyIssuer   string

	ShutdownTimeout time.Duration
	QueueWorkers    int
	LogLevel        slog.Level
	LogFormat       string // "json", "text", or "" (dev: text on a terminal, else JSON)

	listener net.Listener // not from the environment: dev opens its port before anything else
}

// configError lists every problem of an environment at once.
type configError struct{ problems []string }

func (e *configError) Error() string {
	return "invalid configuration:\n  - " + strings.Join(e.problems, "\n  - ")
}

// envReader reads variables and collects problems, so one run reports all of them.
type envReader struct {
	getenv   func(string) string
	problems []string
}

func (r *envReader) problem(format string, args ...any) {
	r.problems = append(r.problems, fmt.Sprintf(format, args...))
}

func (r *envReader) str(name, def string) string {
	if v := strings.TrimSpace(r.getenv(name)); v != "" {
		return v
	}
	return def
}

func (r *envReader) required(name, why string) string {
	v := r.str(name, "")
	if v == "" {
		r.problem("%s is required%s", name, why)
	}
	return v
}

func (r *envReader) list(name string) []string {
	var out []string
	for _, part := range strings.Split(r.getenv(name), ",") {
		if p := strings.TrimSpace(part); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func (r *envReader) duration(name string, def, lo, hi time.Duration) time.Duration {
	raw := r.str(name, "")
	if raw == "" {
		return def
	}
	d, err := time.ParseDuration(raw)
	if err != nil || d < lo || d > hi {
		r.problem("%s=%q must be a duration between %s and %s (e.g. %s)", name, raw, lo, hi, def)
		return def
	}
	return d
}

func (r *envReader) integer(name string, def, lo, hi int64) int64 {
	raw := r.str(name, "")
	if raw == "" {
		return def
	}
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || n < lo || n > hi {
		r.problem("%s=%q must be a whole number between %d and %d", name, raw, lo, hi)
		return def
	}
	return n
}

func (r *envReader) oneOf(name, def string, allowed ...string) string {
	v := r.str(name, def)
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	r.problem("%s=%q must be one of %s", name, v, strings.Join(allowed, ", "))
	return def
}

func (r *envReader) secret(name string, required bool) []byte {
	v := r.getenv(name) // secrets are not trimmed: every byte counts
	switch {
	case v == "" && required:
		r.problem("%s is required (at least 32 bytes)", name)
	case v != "" && len(v) < 32:
		r.problem("%s is %d bytes; it must be at least 32", name, len(v))
	}
	if v == "" {
		return nil
	}
	return []byte(v)
}

// loadConfig reads and validates the environment of `serve`. On failure the error is a
// *configError naming every problem; no value of a secret appears in it.
func loadConfig(getenv func(string) string) (config, error) {
	return readConfig(getenv, readServer, readRedis, readAuth0, readCallout, readPolicy, readAppAPI)
}

// loadRedisConfig reads only the Redis variables, for commands that need nothing else (audit).
func loadRedisConfig(getenv func(string) string) (config, error) {
	return readConfig(getenv, readRedis)
}

// loadManagementConfig reads what a command that writes users needs (reconcile): Redis, the
// tenant with its M2M credentials, and the rules. The callout and HTTP variables are not read.
func loadManagementConfig(getenv func(string) string) (config, error) {
	return readConfig(func(k string) string {
		if k == "WRITE_MODE" {
			return writeModeManagement // the credentials are required whatever the service's mode
		}
		return getenv(k)
	}, readRedis, readAuth0, readPolicy)
}

// readConfig runs every part reader and returns every problem they found at once.
func readConfig(getenv func(string) string, parts ...func(*envReader, *config)) (config, error) {
	r := &envReader{getenv: getenv}
	var c config
	for _, read := range parts {
		read(r, &c)
	}
	if len(r.problems) > 0 {
		return config{}, &configError{problems: r.problems}
	}
	return c, nil
}

func readServer(r *envReader, c *config) {
	c.ListenAddr = r.str("LISTEN_ADDR", ":8080")
	checkListenAddr(r, "LISTEN_ADDR", c.ListenAddr)
	c.MetricsAddr = r.str("METRICS_ADDR", "")
	if c.MetricsAddr != "" {
		checkListenAddr(r, "METRICS_ADDR", c.MetricsAddr)
	}
	c.MaxBodyBytes = r.integer("MAX_BODY_BYTES", 262144, 1024, 16<<20)
	c.MaxBodyMemory = r.integer("MAX_BODY_MEMORY_BYTES", max(4<<20, 2*c.MaxBodyBytes), 2*c.MaxBodyBytes, 1<<30)
	c.ShutdownTimeout = r.duration("SHUTDOWN_TIMEOUT", 15*time.Second, time.Second, 5*time.Minute)
	c.QueueWorkers = int(r.integer("QUEUE_WORKERS", 1, 0, 16))
	if err := c.LogLevel.UnmarshalText([]byte(r.str("LOG_LEVEL", "info"))); err != nil {
		r.problem("LOG_LEVEL=%q must be debug, info, warn or error", r.getenv("LOG_LEVEL"))
	}
	if r.str("LOG_FORMAT", "") != "" {
		c.LogFormat = r.oneOf("LOG_FORMAT", "json", "json", "text")
	}
}

func readAuth0(r *envReader, c *config) {
	c.Auth0Domain = r.required("AUTH0_DOMAIN", " (the tenant domain, e.g. example.us.auth0.com)")
	if c.Auth0Domain != "" && !validHost(c.Auth0Domain) {
		r.problem("AUTH0_DOMAIN=%q must be a host name without scheme or path, e.g. example.us.auth0.com", c.Auth0Domain)
	}
	c.WriteMode = r.oneOf("WRITE_MODE", writeModeManagement, writeModeManagement, writeModeAction, writeModeShadow)
	if c.WriteMode == writeModeManagement {
		c.Auth0ClientID = r.required("AUTH0_CLIENT_ID", " when WRITE_MODE=management")
		c.Auth0ClientSecret = r.required("AUTH0_CLIENT_SECRET", " when WRITE_MODE=management")
	} else {
		c.Auth0ClientID = r.str("AUTH0_CLIENT_ID", "")
		c.Auth0ClientSecret = r.str("AUTH0_CLIENT_SECRET", "")
	}
	c.Auth0ManagementURL = strings.TrimRight(r.str("AUTH0_MANAGEMENT_URL", "https://"+c.Auth0Domain), "/")
	checkManagementURL(r, c.Auth0ManagementURL)
	// The Management API's timeout derives from the callout deadline, read here so that commands
	// without a callout (reconcile) get the same default.
	c.CalloutDeadline = r.duration("CALLOUT_DEADLINE", 2*time.Second, 50*time.Millisecond, 10*time.Second)
}

func readCallout(r *envReader, c *config) {
	c.CalloutSecret = r.secret("CALLOUT_SECRET", true)
	c.CalloutSecretPrevious = r.secret("CALLOUT_SECRET_PREVIOUS", false)
	c.CalloutAudience = r.required("CALLOUT_AUDIENCE", " (the service's public URL, the aud of callout tokens)")
	c.CalloutIssuer = r.str("CALLOUT_ISSUER", "https://"+c.Auth0Domain+"/")
	c.FailOpen = r.oneOf("FAILURE_POLICY", policyOpen, policyOpen, policyClosed) == policyOpen
}

func readPolicy(r *envReader, c *config) {
	c.Policy = metadata.Policy{
		Threshold:          r.integer("PLAYLIST_EDITOR_THRESHOLD", 100, 1, 1<<53),
		DefaultDisplayName: r.str("DEFAULT_DISPLAY_NAME", "user"),
	}
	if err := c.Policy.Validate(); err != nil {
		r.problem("DEFAULT_DISPLAY_NAME: %s", strings.TrimPrefix(err.Error(), metadata.ErrInvalid.Error()+": "))
	}
}

func readAppAPI(r *envReader, c *config) {
	c.APIAudience = r.str("API_AUDIENCE", "")
	c.APIIssuer = r.str("API_ISSUER", "https://"+c.Auth0Domain+"/")
	c.LegacySecret = r.secret("API_LEGACY_HS256_SECRET", false)
	c.LegacyAudience = r.str("API_LEGACY_AUDIENCE", "")
	c.LegacyIssuer = r.str("API_LEGACY_ISSUER", "")
	if (c.LegacySecret == nil) != (c.LegacyAudience == "") {
		r.problem("API_LEGACY_HS256_SECRET and API_LEGACY_AUDIENCE go together: set both or neither")
	}
	if c.LegacySecret != nil && (bytes.Equal(c.LegacySecret, c.CalloutSecret) || bytes.Equal(c.LegacySecret, c.CalloutSecretPrevious)) {
		r.problem("API_LEGACY_HS256_SECRET must differ from CALLOUT_SECRET and CALLOUT_SECRET_PREVIOUS: a callout token would pass as an app token")
	}
}

func checkListenAddr(r *envReader, name, addr string) {
	if _, port, err := net.SplitHostPort(addr); err != nil || port == "" {
		r.problem("%s=%q must be host:port or :port", name, addr)
	}
}

func readRedis(r *envReader, c *config) {
	c.RedisURL = r.str("REDIS_URL", "")
	c.RedisClusterAddrs = r.list("REDIS_CLUSTER_ADDRS")
	c.RedisSentinelAddrs = r.list("REDIS_SENTINEL_ADDRS")
	c.RedisSentinelMaster = r.str("REDIS_SENTINEL_MASTER", "")
	c.RedisUsername = r.str("REDIS_USERNAME", "")
	c.RedisPassword = r.getenv("REDIS_PASSWORD")
	c.RedisTimeout = r.duration("REDIS_TIMEOUT", 500*time.Millisecond, 10*time.Millisecond, 10*time.Second)
	checkRedis(r, c)
}

func checkRedis(r *envReader, c *config) {
	set := 0
	if c.RedisURL != "" {
		set++
		u, err := url.Parse(c.RedisURL)
		if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host == "" {
			r.problem("REDIS_URL must be a redis:// or rediss:// URL with a host")
		}
	}
	if len(c.RedisClusterAddrs) > 0 {
		set++
	}
	if len(c.RedisSentinelAddrs) > 0 || c.RedisSentinelMaster != "" {
		set++
		if len(c.RedisSentinelAddrs) == 0 || c.RedisSentinelMaster == "" {
			r.problem("REDIS_SENTINEL_ADDRS and REDIS_SENTINEL_MASTER go together: set both")
		}
	}
	switch set {
	case 0:
		r.problem("REDIS_URL is required (or REDIS_CLUSTER_ADDRS, or REDIS_SENTINEL_ADDRS with REDIS_SENTINEL_MASTER)")
	case 1:
	default:
		r.problem("set exactly one Redis topology: REDIS_URL, REDIS_CLUSTER_ADDRS or REDIS_SENTINEL_ADDRS")
	}
}

func checkManagementURL(r *envReader, raw string) {
	if _, err := mgmt.ParseBaseURL(raw); err != nil {
		r.problem("AUTH0_MANAGEMENT_URL: %v", err)
	}
}

func validHost(h string) bool {
	if strings.ContainsAny(h, "/:@ ?#") {
		return false
	}
	u, err := url.Parse("https://" + h)
	return err == nil && u.Host == h
}

// calloutSecrets returns the accepted callout keys, the current one first.
func (c config) calloutSecrets() [][]byte {
	keys := [][]byte{c.CalloutSecret}
	if c.CalloutSecretPrevious != nil {
		keys = append(keys, c.CalloutSecretPrevious)
	}
	return keys
}
