package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/alicebob/miniredis/v2"

	"github.com/rulehook/rulehook/metadata/mgmt/mgmttest"
)

// devState is what `rulehook dev` writes for `rulehook login` to find it. It holds a throwaway
// callout secret, so the file is private to the user.
type devState struct {
	RulehookURL    string `json:"rulehook_url"`
	RedisURL       string `json:"redis_url"`
	TenantURL      string `json:"tenant_url"`
	Domain         string `json:"domain"`
	ClientID       string `json:"client_id"`
	ClientSecret   string `json:"client_secret"`
	CalloutSecret  string `json:"callout_secret"`
	Audience       string `json:"audience"`
	Issuer         string `json:"issuer"`
	ClaimNamespace string `json:"claim_namespace"`
	WriteMode      string `json:"write_mode"`
	FailurePolicy  string `json:"failure_policy"`
}

const devDomain = "rulehook-dev.local"

func defaultDevStatePath() string { return filepath.Join(os.TempDir(), "rulehook-dev.json") }

// devOwned are the variables dev sets itself; a value for them in the environment is reported
// and ignored. Every other variable of serve is honoured.
var devOwned = []string{
	"REDIS_URL", "REDIS_CLUSTER_ADDRS", "REDIS_SENTINEL_ADDRS", "REDIS_SENTINEL_MASTER",
	"REDIS_USERNAME", "REDIS_PASSWORD", "AUTH0_DOMAIN", "AUTH0_CLIENT_ID", "AUTH0_CLIENT_SECRET",
	"AUTH0_MANAGEMENT_URL", "CALLOUT_SECRET", "CALLOUT_SECRET_PREVIOUS", "CALLOUT_AUDIENCE",
	"CALLOUT_ISSUER", "API_AUDIENCE", "API_ISSUER",
}

func runDev(ctx context.Context, args []string, env *environment) error {
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	statePath := fs.String("state", defaultDevStatePath(), "where to write the connection details `rulehook login` reads")
	if err := fs.Parse(args); err != nil {
		return usageErrorf("dev: %v", err)
	}

	listen, err := devListenAddr(env.getenv("LISTEN_ADDR"))
	if err != nil {
		return usageErrorf("LISTEN_ADDR: %v", err)
	}
	mr := miniredis.NewMiniRedis()
	if err := mr.StartAddr("127.0.0.1:0"); err != nil {
		return fmt.Errorf("embedded redis: %w", err)
	}
	defer mr.Close()
	tenant, err := mgmttest.Start(mgmttest.WithDomain(devDomain))
	if err != nil {
		return fmt.Errorf("emulated tenant: %w", err)
	}
	defer tenant.Close()

	st := devState{
		RulehookURL:    "http://" + listen,
		RedisURL:       "redis://" + mr.Addr(),
		TenantURL:      tenant.URL(),
		Domain:         tenant.Domain(),
		ClientID:       tenant.ClientID(),
		ClientSecret:   tenant.ClientSecret(),
		CalloutSecret:  randomSecret(),
		Issuer:         tenant.Issuer(),
		ClaimNamespace: "https://music.example.com",
	}
	st.Audience = st.RulehookURL
	owned := map[string]string{
		"LISTEN_ADDR":          listen,
		"REDIS_URL":            st.RedisURL,
		"AUTH0_DOMAIN":         st.Domain,
		"AUTH0_MANAGEMENT_URL": st.TenantURL,
		"AUTH0_CLIENT_ID":      st.ClientID,
		"AUTH0_CLIENT_SECRET":  st.ClientSecret,
		"CALLOUT_SECRET":       st.CalloutSecret,
		"CALLOUT_AUDIENCE":     st.Audience,
		"API_AUDIENCE":         "https://music.example.com/api",
	}
	var ignored []string
	for _, k := range devOwned {
		if env.getenv(k) != "" {
			ignored = append(ignored, k)
		}
	}
	cfg, err := loadConfig(func(k string) string {
		if v, ok := owned[k]; ok {
			return v
		}
		if contains(devOwned, k) {
			return ""
		}
		return env.getenv(k)
	})
	if err != nil {
		return err
	}
	st.WriteMode = cfg.WriteMode
	st.FailurePolicy = map[bool]string{true: policyOpen, false: policyClosed}[cfg.FailOpen]
	if err := writeDevState(*statePath, st); err != nil {
		return err
	}
	defer os.Remove(*statePath)

	logger := newLogger(env.stderr, cfg.LogLevel)
	s, err := newStack(ctx, cfg, logger)
	if err != nil {
		return err
	}
	main := newDevConsole(s, cfg, st, tenant, mr).handler(s.edge.Handler())
	return s.serve(ctx, cfg, logger, main, func(addr string) {
		printDevBanner(env, st, cfg, *statePath, ignored)
	})
}

func printDevBanner(env *environment, st devState, cfg config, statePath string, ignored []string) {
	w := env.stdout
	fmt.Fprintln(w, "!! rulehook dev: embedded Redis and an emulated Auth0 tenant, throwaway secrets.")
	fmt.Fprintln(w, "!! NOT FOR PRODUCTION: nothing is persisted; use `rulehook serve` with real Redis and a real tenant.")
	fmt.Fprintf(w, "\n  console         %s/  (open it in a browser: users, logins, plays, faults, history)\n", st.RulehookURL)
	fmt.Fprintf(w, "  rulehook        %s  (POST /v1/post-login, app API, /healthz, /readyz, /metrics)\n", st.RulehookURL)
	fmt.Fprintf(w, "  redis (embedded) %s\n", st.RedisURL)
	fmt.Fprintf(w, "  tenant (emulated) %s  (domain %s; /oauth/token, /api/v2/users, /.well-known/jwks.json)\n", st.TenantURL, st.Domain)
	fmt.Fprintf(w, "  rules           playlist_editor at %d plays, default displayName %q, WRITE_MODE=%s, FAILURE_POLICY=%s\n",
		cfg.Policy.Threshold, cfg.Policy.DefaultDisplayName, st.WriteMode, st.FailurePolicy)
	fmt.Fprintf(w, "  details for `rulehook login` in %s\n", statePath)
	if len(ignored) > 0 {
		fmt.Fprintf(w, "\n  ignored (dev sets these itself): %s\n", strings.Join(ignored, ", "))
	}
	stateFlag := ""
	if statePath != defaultDevStatePath() {
		stateFlag = " --state " + statePath
	}
	fmt.Fprintf(w, "\nTry a login through the real Action (needs node), in another terminal:\n\n")
	fmt.Fprintf(w, "  go run ./cmd/rulehook login%s --user 'auth0|alice' --plays 150\n\n", stateFlag)
}

// devListenAddr resolves LISTEN_ADDR for dev: loopback by default, and a concrete port (a free
// one for port 0), because the callout audience is the URL the Action calls.
func devListenAddr(raw string) (string, error) {
	if raw == "" {
		raw = "127.0.0.1:8080"
	}
	host, port, err := net.SplitHostPort(raw)
	if err != nil {
		return "", err
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	if port == "0" {
		ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			return "", err
		}
		defer ln.Close()
		return ln.Addr().String(), nil
	}
	return net.JoinHostPort(host, port), nil
}

func writeDevState(path string, st devState) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return fmt.Errorf("write dev state: %w", err)
	}
	return nil
}

func readDevState(path string) (devState, error) {
	var st devState
	b, err := os.ReadFile(path)
	if err != nil {
		return st, fmt.Errorf("no running `rulehook dev` found (%w); start one, or pass --url", err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("read %s: %w", path, err)
	}
	return st, nil
}

func randomSecret() string {
	b := make([]byte, 32)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
