package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"reflect"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/rulehook/rulehook/actions/harness"
	"github.com/rulehook/rulehook/metadata/redisstore"
)

// loginReport is what `rulehook login` shows, and prints with --json.
type loginReport struct {
	UserID      string         `json:"user_id"`
	Plays       *int64         `json:"plays,omitempty"`
	Before      tenantUser     `json:"before"`
	After       *tenantUser    `json:"after,omitempty"`
	IDClaims    map[string]any `json:"id_token_claims"`
	AccessClaim map[string]any `json:"access_token_claims"`
	ActionSet   struct {
		AppMetadata  map[string]any `json:"app_metadata"`
		UserMetadata map[string]any `json:"user_metadata"`
	} `json:"action_set"`
	WrittenBy  string   `json:"written_by"`
	Denied     bool     `json:"denied"`
	DenyReason string   `json:"deny_reason,omitempty"`
	Logs       []string `json:"action_logs"`
}

func runLogin(ctx context.Context, args []string, env *environment) error {
	fs := flag.NewFlagSet("login", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	statePath := fs.String("state", defaultDevStatePath(), "the file `rulehook dev` wrote")
	userID := fs.String("user", "auth0|alice", "the user_id that logs in")
	plays := fs.Int64("plays", -1, "set the user's play count in Redis first (dev only; -1 leaves it)")
	roles := fs.String("roles", "", "comma-separated app_metadata.roles for a user the tenant does not have yet")
	name := fs.String("display-name", "", "user_metadata.displayName for a user the tenant does not have yet")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if err := fs.Parse(args); err != nil {
		return usageErrorf("login: %v", err)
	}
	if fs.NArg() > 0 {
		return usageErrorf("login: unexpected argument %q", fs.Arg(0))
	}
	st, err := readDevState(*statePath)
	if err != nil {
		return err
	}
	rep, err := devLogin(ctx, st, loginInput{UserID: *userID, Plays: *plays, Roles: splitList(*roles), DisplayName: *name})
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(env.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	printLoginReport(env.stdout, st, rep)
	return nil
}

type loginInput struct {
	UserID      string
	Plays       int64 // < 0 leaves the count as it is
	Roles       []string
	DisplayName string
}

// devLogin performs one login through the real Action against a `rulehook dev`: it sets the play
// count, makes sure the tenant has the user, runs the Action under node and reads the user back.
func devLogin(ctx context.Context, st devState, in loginInput) (loginReport, error) {
	rep := loginReport{UserID: in.UserID}
	if in.Plays >= 0 {
		if err := setPlays(ctx, st.RedisURL, in.UserID, in.Plays); err != nil {
			return rep, err
		}
		rep.Plays = &in.Plays
	}
	tc := newTenantClient(st)
	before, err := tc.user(ctx, in.UserID)
	if errors.Is(err, errNoSuchUser) && !strings.HasPrefix(in.UserID, "auth0|") {
		return rep, usageErrorf("login: the emulated tenant has no user %q and creates only database users; use an id such as auth0|alice", in.UserID)
	}
	if errors.Is(err, errNoSuchUser) {
		nu := tenantUser{UserID: in.UserID, Email: emailFor(in.UserID)}
		if len(in.Roles) > 0 {
			nu.AppMetadata = map[string]any{"roles": in.Roles}
		}
		if in.DisplayName != "" {
			nu.UserMetadata = map[string]any{"displayName": in.DisplayName}
		}
		before, err = tc.createUser(ctx, nu)
	}
	if err != nil {
		return rep, fmt.Errorf("emulated tenant: %w", err)
	}
	rep.Before = before

	res, err := harness.Run(ctx, harness.Login{
		User: harness.User{ID: before.UserID, Email: before.Email, AppMetadata: before.AppMetadata, UserMetadata: before.UserMetadata},
		Secrets: map[string]string{
			"RULEHOOK_URL":    st.RulehookURL,
			"CALLOUT_SECRET":  st.CalloutSecret,
			"CLAIM_NAMESPACE": st.ClaimNamespace,
			"FAILURE_POLICY":  st.FailurePolicy,
			"AUTH0_DOMAIN":    st.Domain,
		},
		Hostname: st.Domain,
	})
	if err != nil {
		return rep, fmt.Errorf("run the Action: %w", err)
	}
	rep.IDClaims, rep.AccessClaim = res.IDTokenClaims, res.AccessTokenClaims
	rep.ActionSet.AppMetadata, rep.ActionSet.UserMetadata = res.AppMetadataSet, res.UserMetadataSet
	rep.Denied, rep.DenyReason, rep.Logs = res.Denied, res.DenyReason, res.Logs

	after, err := tc.user(ctx, in.UserID)
	if err == nil && len(res.AppMetadataSet)+len(res.UserMetadataSet) > 0 {
		// Auth0 persists what the Action set once the flow ends; the emulated tenant needs telling.
		after, err = tc.patchUser(ctx, in.UserID, res.AppMetadataSet, res.UserMetadataSet)
	}
	if err != nil {
		return rep, fmt.Errorf("emulated tenant: %w", err)
	}
	rep.After = &after
	switch {
	case len(res.AppMetadataSet)+len(res.UserMetadataSet) > 0:
		rep.WrittenBy = "action"
	case !reflect.DeepEqual(before.AppMetadata, after.AppMetadata) || !reflect.DeepEqual(before.UserMetadata, after.UserMetadata):
		rep.WrittenBy = "rulehook"
	default:
		rep.WrittenBy = "none"
	}
	return rep, nil
}

func setPlays(ctx context.Context, redisURL, userID string, n int64) error {
	opts, err := redis.ParseURL(redisURL)
	if err != nil {
		return err
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	if err := rdb.Set(ctx, redisstore.PlaysKey(userID), n, 0).Err(); err != nil {
		return fmt.Errorf("set plays in %s: %w", redisURL, err)
	}
	return nil
}

func printLoginReport(w io.Writer, st devState, r loginReport) {
	js := func(v any) string {
		if m, ok := v.(map[string]any); ok && len(m) == 0 {
			return "{}"
		}
		b, _ := json.Marshal(v)
		return string(b)
	}
	claim := st.ClaimNamespace + "/roles"
	fmt.Fprintf(w, "login of %s through actions/post-login.js -> %s\n", r.UserID, st.RulehookURL)
	if r.Plays != nil {
		fmt.Fprintf(w, "  plays (set in redis)   %d\n", *r.Plays)
	}
	fmt.Fprintf(w, "  before  app_metadata   %s\n", js(r.Before.AppMetadata))
	fmt.Fprintf(w, "          user_metadata  %s\n", js(r.Before.UserMetadata))
	if r.Denied {
		fmt.Fprintf(w, "  DENIED  %s\n", r.DenyReason)
	} else {
		fmt.Fprintf(w, "  claims  id token       %s = %s\n", claim, js(r.IDClaims[claim]))
		fmt.Fprintf(w, "          access token   %s = %s\n", claim, js(r.AccessClaim[claim]))
	}
	if r.After != nil {
		fmt.Fprintf(w, "  after   app_metadata   %s\n", js(r.After.AppMetadata))
		fmt.Fprintf(w, "          user_metadata  %s\n", js(r.After.UserMetadata))
	}
	switch r.WrittenBy {
	case "action":
		fmt.Fprintf(w, "  written by the Action (api.user.setAppMetadata/setUserMetadata): %s %s\n",
			js(r.ActionSet.AppMetadata), js(r.ActionSet.UserMetadata))
	case "rulehook":
		fmt.Fprintln(w, "  written by rulehook (one Management API PATCH, or queued for retry)")
	default:
		fmt.Fprintln(w, "  nothing written (no change: no Management API call)")
	}
	for _, l := range r.Logs {
		fmt.Fprintf(w, "  action log: %s\n", l)
	}
}

func emailFor(userID string) string {
	local := strings.NewReplacer("|", ".", "@", ".").Replace(userID)
	return local + "@example.com"
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
