package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2"

	"github.com/rulehook/rulehook/cmd/rulehook/internal/console"
	"github.com/rulehook/rulehook/metadata"
	"github.com/rulehook/rulehook/metadata/mgmt"
	"github.com/rulehook/rulehook/metadata/mgmt/mgmttest"
	"github.com/rulehook/rulehook/metadata/redisstore"
)

// devConsole is the console's Backend on the parts `rulehook dev` runs: the emulated tenant and
// the embedded Redis in process, the stack's store and writer, and logins through the real Action
// exactly as `rulehook login` performs them.
type devConsole struct {
	stack  *stack
	cfg    config
	st     devState
	tenant *mgmttest.Server
	redis  *miniredis.Miniredis
	rec    *console.Recorder
	http   *http.Client

	mu     sync.Mutex
	faults console.Faults
}

func newDevConsole(s *stack, cfg config, st devState, tenant *mgmttest.Server, mr *miniredis.Miniredis) *devConsole {
	return &devConsole{
		stack: s, cfg: cfg, st: st, tenant: tenant, redis: mr,
		rec:  console.NewRecorder(),
		http: &http.Client{Timeout: 10 * time.Second},
	}
}

// handler serves the console in front of the service's routes, recording callout answers.
func (d *devConsole) handler(service http.Handler) http.Handler {
	return console.Handler(d, d.rec.Wrap(service))
}

// Users lists the emulated tenant's users, sorted by id, with their play counts.
func (d *devConsole) Users(ctx context.Context) ([]console.User, error) {
	users := d.tenant.Users()
	slices.SortFunc(users, func(a, b mgmttest.User) int { return strings.Compare(a.ID, b.ID) })
	out := make([]console.User, 0, len(users))
	for _, u := range users {
		out = append(out, d.consoleUser(ctx, u))
	}
	return out, nil
}

func (d *devConsole) consoleUser(ctx context.Context, u mgmttest.User) console.User {
	cu := console.User{ID: u.ID, Roles: []string{}, Plays: d.plays(ctx, u.ID)}
	if roles, ok := u.AppMetadata["roles"].([]any); ok {
		for _, r := range roles {
			if s, ok := r.(string); ok {
				cu.Roles = append(cu.Roles, s)
			}
		}
	}
	if name, ok := u.UserMetadata["displayName"].(string); ok {
		cu.DisplayName = &name
	}
	return cu
}

// plays reads the user's count as Redis holds it: nil when none is recorded or Redis fails.
func (d *devConsole) plays(ctx context.Context, userID string) *int64 {
	n, err := d.stack.rdb.Get(ctx, redisstore.PlaysKey(userID)).Int64()
	if err != nil {
		return nil
	}
	return &n
}

// CreateUser adds a database user to the emulated tenant; an existing id is refused.
func (d *devConsole) CreateUser(ctx context.Context, nu console.NewUser) (console.User, error) {
	if err := metadata.ValidateUserID(nu.ID); err != nil || !strings.HasPrefix(nu.ID, "auth0|") {
		return console.User{}, fmt.Errorf("%w: the emulated tenant creates database users only: an id such as auth0|carol", console.ErrInvalid)
	}
	if _, ok := d.tenant.User(nu.ID); ok {
		return console.User{}, fmt.Errorf("%w: %s exists already", console.ErrInvalid, nu.ID)
	}
	u := mgmttest.User{ID: nu.ID, Email: emailFor(nu.ID), AppMetadata: map[string]any{}, UserMetadata: map[string]any{}}
	if len(nu.Roles) > 0 {
		roles := make([]any, len(nu.Roles))
		for i, r := range nu.Roles {
			roles[i] = r
		}
		u.AppMetadata["roles"] = roles
	}
	if nu.DisplayName != "" {
		u.UserMetadata["displayName"] = nu.DisplayName
	}
	d.tenant.PutUser(u)
	return d.consoleUser(ctx, u), nil
}

// Login runs one login through the real Action, as `rulehook login` does, and adds rulehook's
// own answer to what the Action did.
func (d *devConsole) Login(ctx context.Context, req console.LoginRequest) (console.LoginResult, error) {
	in := loginInput{UserID: req.UserID, Plays: -1}
	if req.Plays != nil {
		if d.currentFaults().RedisPaused {
			return console.LoginResult{}, fmt.Errorf("%w: Redis is paused, so the play count cannot be set: tick \"leave the play count as it is\"", console.ErrInvalid)
		}
		in.Plays = *req.Plays
	}
	d.rec.Forget(req.UserID)
	rep, err := devLogin(ctx, d.st, in)
	if err != nil {
		return console.LoginResult{}, err
	}
	claim := d.st.ClaimNamespace + "/roles"
	res := console.LoginResult{
		Callout:      d.rec.Take(req.UserID),
		IDRoles:      rep.IDClaims[claim],
		AccessRoles:  rep.AccessClaim[claim],
		ClaimName:    claim,
		Before:       console.Metadata{AppMetadata: rep.Before.AppMetadata, UserMetadata: rep.Before.UserMetadata},
		WrittenBy:    rep.WrittenBy,
		Denied:       rep.Denied,
		DenyReason:   rep.DenyReason,
		ActionLogs:   rep.Logs,
		PlaysAtLogin: rep.Plays,
	}
	if rep.After != nil {
		res.After = console.Metadata{AppMetadata: rep.After.AppMetadata, UserMetadata: rep.After.UserMetadata}
	}
	return res, nil
}

// RecordPlay calls POST /v1/plays for the user with an app token the emulated tenant signs, as
// the music app would.
func (d *devConsole) RecordPlay(ctx context.Context, userID string) (console.PlayResult, error) {
	tok := d.tenant.Mint(map[string]any{"sub": userID, "aud": d.cfg.APIAudience})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.st.RulehookURL+"/v1/plays", nil)
	if err != nil {
		return console.PlayResult{}, err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := d.http.Do(req)
	if err != nil {
		return console.PlayResult{}, fmt.Errorf("POST /v1/plays: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil || !json.Valid(body) {
		body, _ = json.Marshal(string(body))
	}
	return console.PlayResult{Status: resp.StatusCode, Body: body}, nil
}

// SetFaults replaces the faults. Tenant faults apply to user writes (PATCH /api/v2/users/…),
// which is what rulehook calls on a login and its worker retries; the console's own reads and the
// token endpoint keep working. Pausing Redis makes every command of the embedded Redis fail.
func (d *devConsole) SetFaults(_ context.Context, f console.Faults) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.tenant.ClearFaults()
	switch f.Tenant {
	case console.FaultRateLimited:
		d.tenant.SetFault(http.MethodPatch, "/api/v2/users/*", mgmttest.Fault{Status: http.StatusTooManyRequests})
	case console.FaultServerError:
		d.tenant.SetFault(http.MethodPatch, "/api/v2/users/*", mgmttest.Fault{Status: http.StatusServiceUnavailable})
	case console.FaultHang:
		d.tenant.SetFault(http.MethodPatch, "/api/v2/users/*", mgmttest.Fault{Hang: true})
	}
	if f.RedisPaused {
		d.redis.SetError("ERR paused by the rulehook dev console")
	} else {
		d.redis.SetError("")
	}
	d.faults = f
	return nil
}

func (d *devConsole) currentFaults() console.Faults {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.faults
}

// Status reports the faults, Redis, the writer's queue, gate and breaker, and the settings.
func (d *devConsole) Status(ctx context.Context) console.Status {
	st := console.Status{
		Faults: d.currentFaults(),
		Redis:  "ok",
		Gate:   "open",
		Settings: console.Settings{
			Threshold:          d.cfg.Policy.Threshold,
			DefaultDisplayName: d.cfg.Policy.DefaultDisplayName,
			WriteMode:          d.st.WriteMode,
			FailurePolicy:      d.st.FailurePolicy,
			RulehookURL:        d.st.RulehookURL,
			TenantURL:          d.st.TenantURL,
		},
	}
	if err := d.stack.store.Ping(ctx); err != nil {
		st.Redis = "failing: " + err.Error()
	}
	w := d.stack.writer
	if w == nil {
		st.Breaker = "none (no Management API client)"
		return st
	}
	if n, err := w.QueueDepth(ctx); err == nil {
		st.Queue = &n
	}
	ws := w.Stats()
	st.Gate, st.Breaker = gateText(ws.Gate), ws.Breaker.String()
	st.Writes = console.Writes{Written: ws.Written, Queued: ws.Queued, Applied: ws.Applied, Failed: ws.Failed}
	return st
}

func gateText(g mgmt.GateState) string {
	switch {
	case g.Closed:
		return "closed until " + g.Reset.Format(time.TimeOnly) + " (429)"
	case g.Paced:
		return "paced until " + g.Reset.Format(time.TimeOnly) + " (few calls left)"
	}
	return "open"
}

// History returns the user's audit trail, newest first.
func (d *devConsole) History(ctx context.Context, userID string) ([]json.RawMessage, error) {
	entries, err := d.stack.store.Audit(ctx, userID, 50)
	if errors.Is(err, metadata.ErrInvalid) {
		return nil, fmt.Errorf("%w: %v", console.ErrInvalid, err)
	}
	if err != nil {
		return nil, fmt.Errorf("read the audit trail: %w", err)
	}
	out := make([]json.RawMessage, 0, len(entries))
	for _, e := range entries {
		b, err := json.Marshal(e)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}
