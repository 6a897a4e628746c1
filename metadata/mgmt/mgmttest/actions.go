package mgmttest

import (
	"slices"
	"sort"
	"time"
)

// Action is an Action of the emulated tenant as tests see it.
type Action struct {
	ID, Name, Code, Runtime string
	// Status is the build status: "pending" until the build delay has passed, then "built".
	Status   string
	Triggers []string // ids of the supported triggers, e.g. "post-login"
	// Secrets are the names and values the tenant holds (the API never returns values).
	Secrets map[string]string
	// DeployedVersion is the number of the deployed version, 0 when none is.
	DeployedVersion    int
	Versions           int // how many versions exist
	AllChangesDeployed bool
}

type secret struct {
	name, value string
	updated     time.Time
}

type actionRecord struct {
	id, name, code, runtime string
	triggers                []map[string]any // supported_triggers as sent: {"id": ..., "version": ...}
	deps                    []any
	secrets                 []secret
	created, updated        time.Time
	buildReady              time.Time // "built" from then on
	deployOnBuild           bool      // created with "deploy": true and not deployed yet
	allDeployed             bool
	versions                []*versionRecord // oldest first
	deployed                *versionRecord
}

type versionRecord struct {
	id       string
	number   int
	code     string
	runtime  string
	deps     []any
	secrets  []secret
	triggers []map[string]any
	created  time.Time
	// liveAt: the version reads deployed: true from then on, once a read has seen it (see
	// WithDeployDelay); live is set by that read.
	liveAt time.Time
	live   bool
}

// isLive reports whether the version has finished deploying: a read saw it at or after liveAt,
// or, with a deploy delay, liveAt has passed.
func (v *versionRecord) isLive(now time.Time, delay time.Duration) bool {
	return v.live || (delay > 0 && !now.Before(v.liveAt))
}

// observe is a read of the action: a deployed version whose time has come now reads deployed.
func (a *actionRecord) observe(now time.Time) {
	if v := a.deployed; v != nil && !now.Before(v.liveAt) {
		v.live = true
	}
}

// triggerIDs are the trigger ids Auth0 knows (go-auth0's ActionTriggerTypeEnum).
var triggerIDs = []string{
	"post-login", "credentials-exchange", "pre-user-registration", "post-user-registration",
	"post-change-password", "send-phone-message", "custom-phone-provider", "custom-email-provider",
	"password-reset-post-challenge", "custom-token-exchange", "event-stream", "password-hash-migration",
	"login-post-identifier", "signup-post-identifier", "post-credential-validation",
}

var runtimes = []string{"node12", "node16", "node18", "node18-actions", "node22"}

func (a *actionRecord) status(now time.Time) string {
	if now.Before(a.buildReady) {
		return "pending"
	}
	return "built"
}

func (a *actionRecord) supports(trigger string) bool {
	for _, t := range a.triggers {
		if t["id"] == trigger {
			return true
		}
	}
	return false
}

func (a *actionRecord) export(now time.Time) Action {
	out := Action{
		ID: a.id, Name: a.name, Code: a.code, Runtime: a.runtime, Status: a.status(now),
		Triggers: []string{}, Secrets: map[string]string{}, Versions: len(a.versions),
		AllChangesDeployed: a.allDeployed,
	}
	for _, t := range a.triggers {
		id, _ := t["id"].(string)
		out.Triggers = append(out.Triggers, id)
	}
	for _, sec := range a.secrets {
		out.Secrets[sec.name] = sec.value
	}
	if a.deployed != nil {
		out.DeployedVersion = a.deployed.number
	}
	return out
}

// Actions returns every Action of the tenant, sorted by name.
func (s *Server) Actions() []Action {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settle(now)
	out := make([]Action, 0, len(s.actions))
	for _, a := range s.actions {
		out = append(out, a.export(now))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// SeedBoundAction creates a built and deployed Action named name for triggerID and binds it at the
// end of the trigger's bindings, as if another team had installed it. It returns the Action.
func (s *Server) SeedBoundAction(triggerID, name string) Action {
	now := time.Now().UTC()
	a := &actionRecord{
		id: randomUUID(), name: name, code: "exports.onExecutePostLogin = async () => {};", runtime: "node22",
		triggers: []map[string]any{{"id": triggerID, "version": "v3"}}, deps: []any{},
		created: now, updated: now, buildReady: now,
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.actions[a.id] = a
	s.deploy(a, now).live = true
	s.bindings[triggerID] = append(s.bindings[triggerID], &bindingRecord{
		id: randomUUID(), trigger: triggerID, actionID: a.id, displayName: name, created: now, updated: now,
	})
	return a.export(now)
}

// settle completes the deployments asked for at creation whose build has finished.
func (s *Server) settle(now time.Time) {
	for _, a := range s.actions {
		if a.deployOnBuild && a.status(now) == "built" {
			s.deploy(a, now)
		}
	}
}

// settleRead is settle for a read of the actions: deployments whose time has come also become
// visible as deployed.
func (s *Server) settleRead(now time.Time) {
	s.settle(now)
	for _, a := range s.actions {
		a.observe(now)
	}
}

// deploy snapshots the action's draft as a new deployed version. Like Auth0, the version is
// "built" but not yet deployed (deployed: false) when the deploy answers; see WithDeployDelay.
func (s *Server) deploy(a *actionRecord, now time.Time) *versionRecord {
	v := &versionRecord{
		id: randomUUID(), number: len(a.versions) + 1, code: a.code, runtime: a.runtime,
		deps: a.deps, secrets: slices.Clone(a.secrets), triggers: a.triggers, created: now,
		liveAt: now.Add(s.cfg.deployDelay),
	}
	a.versions = append(a.versions, v)
	a.deployed, a.allDeployed, a.deployOnBuild = v, true, false
	return v
}

func secretsJSON(secrets []secret) []map[string]any {
	out := make([]map[string]any, 0, len(secrets))
	for _, sec := range secrets {
		out = append(out, map[string]any{"name": sec.name, "updated_at": timestamp(sec.updated)})
	}
	return out
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// json is the action as the Management API returns it.
func (a *actionRecord) json(now time.Time, delay time.Duration) map[string]any {
	m := map[string]any{
		"id":                   a.id,
		"name":                 a.name,
		"supported_triggers":   orEmpty(a.triggers),
		"all_changes_deployed": a.allDeployed,
		"created_at":           timestamp(a.created),
		"updated_at":           timestamp(a.updated),
		"code":                 a.code,
		"dependencies":         orEmpty(a.deps),
		"runtime":              a.runtime,
		"secrets":              secretsJSON(a.secrets),
		"status":               a.status(now),
	}
	if m["status"] == "built" {
		m["built_at"] = timestamp(a.buildReady)
	}
	if a.deployed != nil {
		m["deployed_version"] = a.deployed.json(a, now, delay)
	}
	return m
}

func (a *actionRecord) base() map[string]any {
	return map[string]any{
		"id": a.id, "name": a.name, "supported_triggers": orEmpty(a.triggers),
		"all_changes_deployed": a.allDeployed, "created_at": timestamp(a.created), "updated_at": timestamp(a.updated),
	}
}

// json is the version as the Management API returns it; "deployed" is true for the action's
// deployed version once it has finished deploying.
func (v *versionRecord) json(a *actionRecord, now time.Time, delay time.Duration) map[string]any {
	return map[string]any{
		"id":                 v.id,
		"action_id":          a.id,
		"code":               v.code,
		"dependencies":       orEmpty(v.deps),
		"deployed":           a.deployed == v && v.isLive(now, delay),
		"runtime":            v.runtime,
		"secrets":            secretsJSON(v.secrets),
		"status":             "built",
		"number":             v.number,
		"errors":             []any{},
		"action":             a.base(),
		"built_at":           timestamp(v.created),
		"created_at":         timestamp(v.created),
		"updated_at":         timestamp(v.created),
		"supported_triggers": orEmpty(v.triggers),
	}
}
