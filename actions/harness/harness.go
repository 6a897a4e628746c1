// Package harness performs a login through the real post-login Action (actions.Source) without
// Auth0: it runs the Action under a local `node` with an Auth0-shaped event and an api that records
// what the Action does (claims, metadata writes, deny), against whatever RULEHOOK_URL the secrets
// name. `rulehook login` and the full-loop tests use it; Auth0 offers no local Actions runtime.
//
// It imports the standard library and package actions, and needs a node binary (Node 20 or later)
// at run time.
package harness

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/rulehook/rulehook/actions"
)

// runner is the node script that builds the event, runs the Action and prints the recording.
//
//go:embed runner.js
var runner string

// DefaultTimeout bounds a Run whose context has no deadline. The Action's own callout timeout is
// at most 9 s, so a healthy run ends long before.
const DefaultTimeout = 30 * time.Second

// Errors returned by Run.
var (
	// ErrNodeMissing means no node binary was found; callers' tests may skip on it.
	ErrNodeMissing = errors.New("harness: node is not installed")
	// ErrActionThrew means onExecutePostLogin threw or rejected, which the Action must never do.
	// Run returns it together with what was recorded until then.
	ErrActionThrew = errors.New("harness: the Action threw")
)

// User is the Auth0 user the login is for, as event.user carries it. Nil metadata maps become {},
// as in Auth0.
type User struct {
	ID           string         `json:"user_id"`
	Email        string         `json:"email,omitempty"`
	AppMetadata  map[string]any `json:"app_metadata"`
	UserMetadata map[string]any `json:"user_metadata"`
}

// Login describes one login. Only User.ID and the Action's secrets matter to the Action; every
// other event field has a harmless default.
type Login struct {
	User User
	// Secrets are the Action's event.secrets (see actions.Secret* for the names it reads).
	Secrets map[string]string

	TransactionID string // event.transaction.id; default a random UUID
	ClientID      string // event.client.client_id; default "rulehook-harness"
	ClientName    string // event.client.name; default "rulehook harness"
	IP            string // event.request.ip; default "127.0.0.1"
	UserAgent     string // event.request.user_agent; default "rulehook-harness"
	// Hostname is event.request.hostname, which the Action uses for its CALLOUT_ISSUER default
	// when the AUTH0_DOMAIN secret is unset; default "rulehook-dev.local" (the emulated tenant's
	// default domain).
	Hostname string
	// Protocol is event.transaction.protocol; default "oidc-basic-profile". ProtocolRefreshToken
	// makes the event a refresh-token exchange (a POST whose event.request.body holds
	// grant_type=refresh_token).
	Protocol string
	// Omit lists event properties to leave out, as dotted paths ("transaction", "transaction.id",
	// "request.hostname"): Auth0 documents them as optional in the post-login event object.
	Omit []string

	// Source is the Action to run; default actions.Source.
	Source string
	// Node is the node binary (a name looked up in PATH, or a path); default "node".
	Node string
}

// ProtocolRefreshToken is event.transaction.protocol of a refresh-token exchange: Auth0 runs the
// post-login trigger for it too.
const ProtocolRefreshToken = "oauth2-refresh-token"

// Result is what the Action did to the login. The maps are never nil. A value the Action set to
// JavaScript undefined is recorded as nil.
type Result struct {
	IDTokenClaims     map[string]any `json:"id_token_claims"`
	AccessTokenClaims map[string]any `json:"access_token_claims"`
	// DroppedClaims are the custom claims the Action set that Auth0 would silently leave out of
	// the token (not namespaced by an http(s) URL, or namespaced on auth0.com, webtask.io or
	// webtask.run), as "<token> <name>: <why>". They are not in the claim maps.
	DroppedClaims   []string       `json:"dropped_claims"`
	AppMetadataSet  map[string]any `json:"app_metadata_set"`
	UserMetadataSet map[string]any `json:"user_metadata_set"`
	Denied          bool           `json:"denied"`
	DenyReason      string         `json:"deny_reason"`
	// Logs are the lines the Action wrote with console.log (and friends), in order.
	Logs []string `json:"logs"`
}

// Roles returns the ID token's <namespace>/roles claim as strings, and false when the claim is
// absent or not a list of strings.
func (r Result) Roles(namespace string) ([]string, bool) {
	raw, ok := r.IDTokenClaims[strings.TrimRight(namespace, "/")+"/roles"].([]any)
	if !ok {
		return nil, false
	}
	roles := make([]string, 0, len(raw))
	for _, v := range raw {
		s, ok := v.(string)
		if !ok {
			return nil, false
		}
		roles = append(roles, s)
	}
	return roles, true
}

// input is the runner's stdin.
type input struct {
	User        User              `json:"user"`
	Secrets     map[string]string `json:"secrets"`
	Transaction map[string]string `json:"transaction,omitempty"`
	Client      map[string]string `json:"client,omitempty"`
	Request     map[string]string `json:"request,omitempty"`
	Omit        []string          `json:"omit,omitempty"`
}

// output is the runner's stdout.
type output struct {
	Result
	Threw *string `json:"threw"`
}

// Run performs the login l: it writes the runner and the Action to a temporary directory, runs
// node there with l as the event, and returns what the Action did. The node process gets a clean
// environment (PATH only) and is killed when ctx ends (DefaultTimeout when ctx has no deadline).
//
// Errors: ErrNodeMissing; ErrActionThrew (with the partial Result); ctx's error when it ends first;
// otherwise an error carrying node's stderr when the runner itself fails.
func Run(ctx context.Context, l Login) (Result, error) {
	nodeName := orDefault(l.Node, "node")
	node, err := exec.LookPath(nodeName)
	if err != nil {
		return Result{}, fmt.Errorf("%w: %v", ErrNodeMissing, err)
	}
	dir, err := os.MkdirTemp("", "rulehook-harness-")
	if err != nil {
		return Result{}, fmt.Errorf("harness: %w", err)
	}
	defer os.RemoveAll(dir)
	// .cjs: CommonJS whatever package.json a parent directory may hold.
	runnerPath, actionPath := filepath.Join(dir, "runner.cjs"), filepath.Join(dir, "post-login.cjs")
	if err := os.WriteFile(runnerPath, []byte(runner), 0o600); err != nil {
		return Result{}, fmt.Errorf("harness: %w", err)
	}
	if err := os.WriteFile(actionPath, []byte(orDefault(l.Source, actions.Source)), 0o600); err != nil {
		return Result{}, fmt.Errorf("harness: %w", err)
	}
	in, err := json.Marshal(l.input())
	if err != nil {
		return Result{}, fmt.Errorf("harness: encode login: %w", err)
	}

	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultTimeout)
		defer cancel()
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, node, runnerPath, actionPath)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "NODE_NO_WARNINGS=1"}
	cmd.Stdin = bytes.NewReader(in)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = time.Second
	runErr := cmd.Run()
	if ctx.Err() != nil {
		return Result{}, fmt.Errorf("harness: node did not finish: %w", ctx.Err())
	}
	if runErr != nil {
		return Result{}, fmt.Errorf("harness: runner failed: %v: %s", runErr, clip(stderr.String()))
	}
	var out output
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		return Result{}, fmt.Errorf("harness: runner printed no result (%v): %s", err, clip(stdout.String()+stderr.String()))
	}
	return out.result()
}

// result is the runner's recording with nil maps and lists made empty, and ErrActionThrew when
// the Action threw.
func (out output) result() (Result, error) {
	res := out.Result
	for _, m := range []*map[string]any{&res.IDTokenClaims, &res.AccessTokenClaims, &res.AppMetadataSet, &res.UserMetadataSet} {
		if *m == nil {
			*m = map[string]any{}
		}
	}
	if res.Logs == nil {
		res.Logs = []string{}
	}
	if res.DroppedClaims == nil {
		res.DroppedClaims = []string{}
	}
	if out.Threw != nil {
		return res, fmt.Errorf("%w: %s", ErrActionThrew, *out.Threw)
	}
	return res, nil
}

func (l Login) input() input {
	in := input{User: l.User, Secrets: l.Secrets, Omit: l.Omit}
	if in.Secrets == nil {
		in.Secrets = map[string]string{}
	}
	in.Transaction = present(map[string]string{"id": l.TransactionID, "protocol": l.Protocol})
	in.Client = present(map[string]string{"client_id": l.ClientID, "name": l.ClientName})
	in.Request = present(map[string]string{"ip": l.IP, "user_agent": l.UserAgent, "hostname": l.Hostname})
	return in
}

// present drops empty values so the runner's defaults apply; nil when nothing is left.
func present(m map[string]string) map[string]string {
	for k, v := range m {
		if v == "" {
			delete(m, k)
		}
	}
	if len(m) == 0 {
		return nil
	}
	return m
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func clip(s string) string {
	const limit = 4096
	s = strings.TrimSpace(s)
	if len(s) > limit {
		return s[:limit] + "…"
	}
	return s
}
