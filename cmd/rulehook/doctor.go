package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/rulehook/rulehook/cmd/rulehook/internal/deployaction"
	"github.com/rulehook/rulehook/metadata/mgmt"
	"github.com/rulehook/rulehook/metadata/redisstore"
	"github.com/rulehook/rulehook/webhook"
)

// neededScopes are the Management API scopes serve uses: read a user, write its metadata.
var neededScopes = []string{"read:users", "update:users", "update:users_app_metadata"}

// doctorTimeout bounds each check, so a hung dependency shows as a FAIL line, not a hang.
const doctorTimeout = 5 * time.Second

// Results of a check. warn and skip are printed but do not fail the run.
const (
	checkOK   = "ok"
	checkFail = "FAIL"
	checkWarn = "warn"
	checkSkip = "skip"
)

// checkLine is one line of doctor's report.
type checkLine struct {
	result, subject, detail, fix string
}

func (l checkLine) String() string {
	s := fmt.Sprintf("%-4s  %-18s %s", l.result, l.subject, l.detail)
	if l.fix != "" {
		s += " (fix: " + l.fix + ")"
	}
	return s
}

func okLine(subject, detail string) checkLine { return checkLine{checkOK, subject, detail, ""} }
func failLine(subject, detail, fix string) checkLine {
	return checkLine{checkFail, subject, detail, fix}
}

// runDoctor checks, for real, every dependency of serve with serve's environment and prints one
// line per check. Exit status: 0 when every check passes, 1 when one fails, 2 for a bad
// environment (as serve would refuse it).
func runDoctor(ctx context.Context, args []string, env *environment) error {
	fs := newFlagSet(env, "doctor",
		"It checks, with serve's environment: Redis and its maxmemory-policy, the Management API token and\n"+
			"its scopes, and, when RULEHOOK_URL is set, that the Action is deployed, bound to post-login and\n"+
			"holds this environment's secrets (CALLOUT_SECRET, CLAIM_NAMESPACE, ...).\n"+
			"Exit status: 0 all passed, 1 a check failed, 2 a bad environment.")
	name := fs.String("action-name", deployaction.DefaultName, "the Action's name in the tenant (as given to deploy-action)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := loadConfig(env.getenv)
	if err != nil {
		return err
	}
	lines := doctorRedis(ctx, cfg)
	lines = append(lines, doctorTenant(ctx, cfg)...)
	if url := env.getenv("RULEHOOK_URL"); url != "" {
		lines = append(lines, doctorAction(ctx, cfg, env.getenv, url, *name)...)
	} else {
		lines = append(lines, checkLine{checkSkip, "action", "RULEHOOK_URL is not set", "set it (and CLAIM_NAMESPACE) as for deploy-action to check the Action"})
	}
	return report(env.stdout, lines)
}

// report prints the lines and fails the run when one of them failed.
func report(w io.Writer, lines []checkLine) error {
	failed := 0
	for _, l := range lines {
		fmt.Fprintln(w, l)
		if l.result == checkFail {
			failed++
		}
	}
	if failed > 0 {
		return &exitError{code: 1, err: fmt.Errorf("doctor: %d of %d checks failed", failed, len(lines))}
	}
	fmt.Fprintf(w, "all %d checks passed\n", len(lines))
	return nil
}

// doctorRedis pings Redis and reads its eviction policy: an evicting Redis loses play counts,
// and an absent count never promotes (CONTRACT.md, rule 6).
func doctorRedis(ctx context.Context, cfg config) []checkLine {
	rdb, err := cfg.openRedis()
	if err != nil {
		return []checkLine{failLine("redis", err.Error(), "correct the REDIS_* variables")}
	}
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(ctx, doctorTimeout)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		return []checkLine{failLine("redis", "not reachable: "+err.Error(), "start Redis, or point REDIS_URL (or the Cluster/Sentinel variables) at it")}
	}
	lines := []checkLine{okLine("redis", "reachable")}
	policy, err := redisstore.New(rdb).MaxmemoryPolicy(ctx) // every master of a Cluster
	switch {
	case err != nil:
		lines = append(lines, failLine("redis eviction", "CONFIG GET maxmemory-policy: "+err.Error(), "make sure its maxmemory-policy is noeviction"))
	case policy == "":
		lines = append(lines, checkLine{checkSkip, "redis eviction", "CONFIG GET maxmemory-policy refused (a managed Redis?)", "make sure its maxmemory-policy is noeviction"})
	case policy == redisstore.PolicyNoEviction:
		lines = append(lines, okLine("redis eviction", "maxmemory-policy noeviction"))
	case webhook.EvictsOnlyExpiring(policy):
		lines = append(lines, checkLine{checkWarn, "redis eviction", "maxmemory-policy " + policy + " evicts keys with a TTL (replay ids, queue leases), never play counts", "CONFIG SET maxmemory-policy noeviction"})
	default:
		lines = append(lines, failLine("redis eviction", "maxmemory-policy "+policy+" evicts play counts under memory pressure", "CONFIG SET maxmemory-policy noeviction (and in redis.conf)"))
	}
	return lines
}

// doctorTenant gets a Management API token and compares its granted scopes with neededScopes.
func doctorTenant(ctx context.Context, cfg config) []checkLine {
	if cfg.Auth0ClientID == "" {
		return []checkLine{{checkSkip, "management token", "WRITE_MODE=action and no AUTH0_CLIENT_ID: rulehook makes no Management API call", ""}}
	}
	conn, err := cfg.managementClient()
	if err != nil {
		return []checkLine{failLine("management token", err.Error(), "correct AUTH0_MANAGEMENT_URL")}
	}
	ctx, cancel := context.WithTimeout(ctx, doctorTimeout)
	defer cancel()
	g, err := conn.Grant(ctx)
	if err != nil {
		return []checkLine{failLine("management token", tokenProblem(err), "check AUTH0_CLIENT_ID/AUTH0_CLIENT_SECRET and that the application is authorised for the Management API")}
	}
	lines := []checkLine{okLine("management token", "granted to "+cfg.Auth0ClientID)}
	var missing []string
	for _, s := range neededScopes {
		if !slices.Contains(g.Scopes, s) {
			missing = append(missing, s)
		}
	}
	if len(missing) > 0 {
		return append(lines, failLine("management scopes", "missing "+strings.Join(missing, ", "),
			"grant them to the M2M application (Dashboard > APIs > Auth0 Management API > Machine to Machine Applications)"))
	}
	return append(lines, okLine("management scopes", strings.Join(neededScopes, ", ")))
}

// tokenProblem says why the token request failed, by status when there was an answer.
func tokenProblem(err error) string {
	switch status, _ := mgmt.StatusOf(err); status {
	case 0:
		return "token request failed: " + err.Error()
	case 401, 403:
		return fmt.Sprintf("token refused (%d)", status)
	default:
		return fmt.Sprintf("token request answered %d", status)
	}
}

// managementClient is the Management API client of serve's environment.
func (c config) managementClient() (*mgmt.Client, error) {
	return mgmt.NewClient(mgmt.ClientConfig{
		BaseURL: c.Auth0ManagementURL, ClientID: c.Auth0ClientID, ClientSecret: c.Auth0ClientSecret,
		Audience: "https://" + c.Auth0Domain + "/api/v2/", Timeout: doctorTimeout,
	})
}
