package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"

	"github.com/alicebob/miniredis/v2"

	"github.com/rulehook/rulehook/metadata/mgmt/mgmttest"
)

const (
	devDomain      = "rulehook-dev.local"
	devAPIAudience = "https://music.example.com/api"
	devNamespace   = "https://music.example.com"
)

// devOwned are the variables dev sets itself; a value for them in the environment is reported
// and ignored. Every other variable of serve is honoured.
var devOwned = []string{
	"REDIS_URL", "REDIS_CLUSTER_ADDRS", "REDIS_SENTINEL_ADDRS", "REDIS_SENTINEL_MASTER",
	"REDIS_USERNAME", "REDIS_PASSWORD", "AUTH0_DOMAIN", "AUTH0_CLIENT_ID", "AUTH0_CLIENT_SECRET",
	"AUTH0_MANAGEMENT_URL", "CALLOUT_SECRET", "CALLOUT_SECRET_PREVIOUS", "CALLOUT_AUDIENCE",
	"CALLOUT_ISSUER", "API_AUDIENCE", "API_ISSUER",
}

// devStack is one `rulehook dev` before it serves: its port (already open), the embedded Redis,
// the emulated tenant, serve's configuration, and the state file other commands find it by.
// startDev builds it and printDevBanner describes it; nothing here prints.
type devStack struct {
	st        devState
	cfg       config
	statePath string
	ignored   []string // variables of the environment dev overrides
	replaced  string   // why a state file found at statePath was replaced, if one was
	redis     *miniredis.Miniredis
	tenant    *mgmttest.Server
}

func runDev(ctx context.Context, args []string, env *environment) error {
	fs := newFlagSet(env, "dev", "dev honours LISTEN_ADDR (default 127.0.0.1:8080; port 0 picks a free one) and the\n"+
		"rule settings of `rulehook serve -h`, and sets the Redis, tenant and callout variables itself.")
	statePath := fs.String("state", defaultDevStatePath(), "where to write the connection details that login, token, audit and reconcile read")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	d, err := startDev(env.getenv, *statePath)
	if err != nil {
		return err
	}
	defer d.close()
	logger := newLogger(env.stderr, d.cfg.LogLevel, devLogFormat(d.cfg.LogFormat, env.stderr))
	s, err := newStack(ctx, d.cfg, logger)
	if err != nil {
		return err
	}
	main := newDevConsole(s, d.cfg, d.st, d.tenant, d.redis).handler(s.edge.Handler())
	return s.serve(ctx, d.cfg, logger, main, func(string) { printDevBanner(env.stdout, d) })
}

// startDev opens dev's port first, so that a second dev on a taken port fails before it touches
// the first one's state file; refuses a state file of a dev that still answers; then starts the
// embedded parts and writes the state file (0600, atomically).
func startDev(getenv func(string) string, statePath string) (_ *devStack, err error) {
	ln, err := devListen(getenv("LISTEN_ADDR"))
	if err != nil {
		return nil, err
	}
	d := &devStack{statePath: statePath}
	defer func() {
		if err != nil {
			ln.Close()
			d.close()
		}
	}()
	if err := d.checkStateFile(); err != nil {
		return nil, err
	}
	d.redis = miniredis.NewMiniRedis()
	if err := d.redis.StartAddr("127.0.0.1:0"); err != nil {
		return nil, fmt.Errorf("embedded redis: %w", err)
	}
	if d.tenant, err = mgmttest.Start(mgmttest.WithDomain(devDomain), mgmttest.WithAPI(devAPIAudience)); err != nil {
		return nil, fmt.Errorf("emulated tenant: %w", err)
	}
	d.st = newDevState("http://"+ln.Addr().String(), "redis://"+d.redis.Addr(), d.tenant)
	if d.cfg, d.ignored, err = devConfig(getenv, d.st); err != nil {
		return nil, err
	}
	d.cfg.listener = ln
	d.st.WriteMode, d.st.FailurePolicy = d.cfg.WriteMode, map[bool]string{true: policyOpen, false: policyClosed}[d.cfg.FailOpen]
	d.st.Threshold, d.st.DefaultDisplayName = d.cfg.Policy.Threshold, d.cfg.Policy.DefaultDisplayName
	if err := writeDevState(statePath, d.st); err != nil {
		return nil, err
	}
	return d, nil
}

// checkStateFile refuses to replace the state file of a dev that still answers, and remembers a
// stale one it will replace.
func (d *devStack) checkStateFile() error {
	old, err := readDevState(d.statePath)
	if errors.Is(err, errNoDev) {
		return nil
	}
	if err == nil && devAnswers(old) {
		return usageErrorf("dev: a rulehook dev already runs at %s and owns %s; stop it, or give this one its own --state",
			old.RulehookURL, d.statePath)
	}
	d.replaced = "left by a dev at " + old.RulehookURL + " that no longer answers"
	if err != nil {
		d.replaced = "that could not be read: " + err.Error()
	}
	return nil
}

// devConfig is serve's configuration for dev: the variables dev owns come from st, the others
// from the environment. ignored lists the owned ones the environment set.
func devConfig(getenv func(string) string, st devState) (config, []string, error) {
	owned := map[string]string{
		"LISTEN_ADDR":          st.RulehookURL[len("http://"):],
		"REDIS_URL":            st.RedisURL,
		"AUTH0_DOMAIN":         st.Domain,
		"AUTH0_MANAGEMENT_URL": st.TenantURL,
		"AUTH0_CLIENT_ID":      st.ClientID,
		"AUTH0_CLIENT_SECRET":  st.ClientSecret,
		"CALLOUT_SECRET":       st.CalloutSecret,
		"CALLOUT_AUDIENCE":     st.Audience,
		"API_AUDIENCE":         st.APIAudience,
	}
	var ignored []string
	for _, k := range devOwned {
		if getenv(k) != "" {
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
		return getenv(k)
	})
	return cfg, ignored, err
}

// close stops the embedded parts and removes the state file if it is still this dev's.
func (d *devStack) close() {
	if d.tenant != nil {
		d.tenant.Close()
	}
	if d.redis != nil {
		d.redis.Close()
	}
	if cur, err := readDevState(d.statePath); err == nil && d.st.CalloutSecret != "" && cur.CalloutSecret == d.st.CalloutSecret {
		os.Remove(d.statePath)
	}
}

// devListen opens dev's port: loopback by default (the callout audience is the URL the Action
// calls, so it must be concrete; port 0 picks a free one).
func devListen(raw string) (net.Listener, error) {
	if raw == "" {
		raw = "127.0.0.1:8080"
	}
	host, port, err := net.SplitHostPort(raw)
	if err != nil {
		return nil, usageErrorf("LISTEN_ADDR=%q: %v", raw, err)
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	addr := net.JoinHostPort(host, port)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("dev: cannot listen on %s (is another rulehook dev running? LISTEN_ADDR=127.0.0.1:0 picks a free port): %w", addr, err)
	}
	return ln, nil
}

// devLogFormat is dev's log format: LOG_FORMAT when set, else text on a terminal, else JSON.
func devLogFormat(set string, w io.Writer) string {
	if set != "" {
		return set
	}
	if isTerminal(w) {
		return "text"
	}
	return "json"
}

// isTerminal reports whether w is a character device other than /dev/null: a terminal, for
// choosing a log format (no ioctl needed).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return false
	}
	null, err := os.Stat(os.DevNull)
	return err != nil || !os.SameFile(fi, null)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
