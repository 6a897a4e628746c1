package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/rulehook/rulehook/actions/harness"
	"github.com/rulehook/rulehook/metadata/redisstore"
)

// What a login wrote (loginReport.WrittenBy).
const (
	wroteRulehook = "rulehook" // rulehook PATCHed the user
	wroteQueued   = "queued"   // rulehook queued the write for a retry
	wroteAction   = "action"   // the Action set the metadata (WRITE_MODE=action)
	wroteNone     = "none"
)

// loginReport is what `rulehook login` shows, and prints with --json.
type loginReport struct {
	UserID      string         `json:"user_id"`
	Plays       *int64         `json:"plays"` // the count in Redis at the login; null: not recorded, or Redis unreadable
	Created     bool           `json:"created"`
	Unused      []string       `json:"unused_flags,omitempty"` // flags for new users, given for one that exists
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
	fs := newFlagSet(env, "login")
	statePath := fs.String("state", defaultDevStatePath(), "the state file `rulehook dev` wrote")
	userID := fs.String("user", "auth0|alice", "the user_id that logs in")
	plays := fs.Int64("plays", -1, "set the user's play count in Redis first (-1 leaves it)")
	roles := fs.String("roles", "", "comma-separated app_metadata.roles, for a user the tenant does not have yet")
	name := fs.String("display-name", "", "user_metadata.displayName, for a user the tenant does not have yet")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	st, err := findDev(*statePath)
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
// count, makes sure the tenant has the user, runs the Action under node, persists what the
// Action set (as Auth0 does after the flow) and reads the user back.
func devLogin(ctx context.Context, st devState, in loginInput) (loginReport, error) {
	rep := loginReport{UserID: in.UserID}
	opts, err := redis.ParseURL(st.RedisURL)
	if err != nil {
		return rep, err
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	if rep.Plays, err = preparePlays(ctx, rdb, in); err != nil {
		return rep, err
	}
	tc := newTenantClient(st)
	if rep.Before, rep.Created, err = ensureUser(ctx, tc, st, in); err != nil {
		return rep, err
	}
	if !rep.Created {
		rep.Unused = unusedNewUserFlags(in)
	}
	res, err := runAction(ctx, st, rep.Before)
	if err != nil {
		return rep, err
	}
	rep.IDClaims, rep.AccessClaim = res.IDTokenClaims, res.AccessTokenClaims
	rep.ActionSet.AppMetadata, rep.ActionSet.UserMetadata = res.AppMetadataSet, res.UserMetadataSet
	rep.Denied, rep.DenyReason, rep.Logs = res.Denied, res.DenyReason, res.Logs

	actionSet := len(res.AppMetadataSet)+len(res.UserMetadataSet) > 0
	after, err := tc.user(ctx, in.UserID)
	if err == nil && actionSet {
		// Auth0 persists what the Action set once the flow ends; the emulated tenant needs telling.
		after, err = tc.patchUser(ctx, in.UserID, res.AppMetadataSet, res.UserMetadataSet)
	}
	if err != nil {
		return rep, fmt.Errorf("emulated tenant: %w", err)
	}
	rep.After = &after
	rep.WrittenBy = whoWrote(ctx, redisstore.New(rdb), rep, actionSet)
	return rep, nil
}

// preparePlays sets the count when asked to and returns the one the login will see: nil when
// none is recorded, or when dev's Redis cannot be read (paused by the console, so that the login
// shows rulehook answering without its counts).
func preparePlays(ctx context.Context, rdb *redis.Client, in loginInput) (*int64, error) {
	key := redisstore.PlaysKey(in.UserID)
	if in.Plays >= 0 {
		if err := rdb.Set(ctx, key, in.Plays, 0).Err(); err != nil {
			return nil, fmt.Errorf("set plays in dev's redis: %w", err)
		}
		return &in.Plays, nil
	}
	n, err := rdb.Get(ctx, key).Int64()
	if err != nil {
		return nil, nil
	}
	return &n, nil
}

// ensureUser reads the user, creating a database user (with dev's user password, for `rulehook
// token`) when the tenant has none.
func ensureUser(ctx context.Context, tc *tenantClient, st devState, in loginInput) (tenantUser, bool, error) {
	u, err := tc.user(ctx, in.UserID)
	if err == nil {
		return u, false, nil
	}
	if !errors.Is(err, errNoSuchUser) {
		return u, false, fmt.Errorf("emulated tenant: %w", err)
	}
	if !strings.HasPrefix(in.UserID, "auth0|") {
		return u, false, usageErrorf("login: the emulated tenant has no user %q and creates only database users; use an id such as auth0|alice", in.UserID)
	}
	nu := tenantUser{UserID: in.UserID, Email: emailFor(in.UserID), Password: st.UserPassword}
	if len(in.Roles) > 0 {
		nu.AppMetadata = map[string]any{"roles": in.Roles}
	}
	if in.DisplayName != "" {
		nu.UserMetadata = map[string]any{"displayName": in.DisplayName}
	}
	if u, err = tc.createUser(ctx, nu); err != nil {
		return u, false, fmt.Errorf("emulated tenant: %w", err)
	}
	return u, true, nil
}

func unusedNewUserFlags(in loginInput) []string {
	var out []string
	if len(in.Roles) > 0 {
		out = append(out, "--roles")
	}
	if in.DisplayName != "" {
		out = append(out, "--display-name")
	}
	return out
}

func runAction(ctx context.Context, st devState, u tenantUser) (harness.Result, error) {
	res, err := harness.Run(ctx, harness.Login{
		User: harness.User{ID: u.UserID, Email: u.Email, AppMetadata: u.AppMetadata, UserMetadata: u.UserMetadata},
		Secrets: map[string]string{
			"RULEHOOK_URL":    st.RulehookURL,
			"CALLOUT_SECRET":  st.CalloutSecret,
			"CLAIM_NAMESPACE": st.ClaimNamespace,
			"FAILURE_POLICY":  st.FailurePolicy,
			"AUTH0_DOMAIN":    st.Domain,
			"TIMEOUT_MS":      "9000", // the Action's most: node on a busy laptop is slow too
		},
		Hostname: st.Domain,
	})
	if err != nil {
		return res, fmt.Errorf("run the Action: %w", err)
	}
	return res, nil
}

// whoWrote tells a PATCH by rulehook (the tenant's user changed) from a write rulehook queued
// (an entry waits in the retry queue) and from the Action's own write. When the queue cannot be
// read (Redis paused), nothing can have been queued either.
func whoWrote(ctx context.Context, q *redisstore.Store, rep loginReport, actionSet bool) string {
	switch {
	case actionSet:
		return wroteAction
	case !reflect.DeepEqual(rep.Before.AppMetadata, rep.After.AppMetadata) || !reflect.DeepEqual(rep.Before.UserMetadata, rep.After.UserMetadata):
		return wroteRulehook
	}
	if _, err := q.Pending(ctx, rep.UserID); err == nil {
		return wroteQueued
	}
	return wroteNone
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
