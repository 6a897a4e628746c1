package mgmttest

import (
	"encoding/json"
	"net/http"
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
	s.deploy(a, now)
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

// deploy snapshots the action's draft as a new deployed version.
func (s *Server) deploy(a *actionRecord, now time.Time) *versionRecord {
	v := &versionRecord{
		id: randomUUID(), number: len(a.versions) + 1, code: a.code, runtime: a.runtime,
		deps: a.deps, secrets: slices.Clone(a.secrets), triggers: a.triggers, created: now,
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
func (a *actionRecord) json(now time.Time) map[string]any {
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
		m["deployed_version"] = a.deployed.json(a)
	}
	return m
}

func (a *actionRecord) base() map[string]any {
	return map[string]any{
		"id": a.id, "name": a.name, "supported_triggers": orEmpty(a.triggers),
		"all_changes_deployed": a.allDeployed, "created_at": timestamp(a.created), "updated_at": timestamp(a.updated),
	}
}

// json is the version as the Management API returns it.
func (v *versionRecord) json(a *actionRecord) map[string]any {
	return map[string]any{
		"id":                 v.id,
		"action_id":          a.id,
		"code":               v.code,
		"dependencies":       orEmpty(v.deps),
		"deployed":           a.deployed == v,
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

// actionBody is a create or update body; pointers tell absent from empty.
type actionBody struct {
	Name              *string          `json:"name"`
	SupportedTriggers []map[string]any `json:"supported_triggers"`
	Code              *string          `json:"code"`
	Dependencies      []any            `json:"dependencies"`
	Runtime           *string          `json:"runtime"`
	Secrets           []struct {
		Name  *string `json:"name"`
		Value *string `json:"value"`
	} `json:"secrets"`
	Modules []any `json:"modules"`
	Deploy  *bool `json:"deploy"`
}

// parseActionBody decodes and validates an action body; on failure it answers 400.
func parseActionBody(w http.ResponseWriter, r *http.Request, create bool) (actionBody, bool) {
	var b actionBody
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		invalidBody(w, "Payload validation error: "+err.Error())
		return b, false
	}
	switch {
	case create && (b.Name == nil || *b.Name == ""):
		invalidBody(w, "Payload validation error: 'Missing required property: name'.")
		return b, false
	case b.Name != nil && *b.Name == "":
		invalidBody(w, "Payload validation error: 'String is too short (0 chars), minimum 1' on property name.")
		return b, false
	case create && len(b.SupportedTriggers) == 0:
		invalidBody(w, "Payload validation error: 'Missing required property: supported_triggers'.")
		return b, false
	case b.Runtime != nil && !slices.Contains(runtimes, *b.Runtime):
		invalidBody(w, "Payload validation error: 'Invalid runtime "+*b.Runtime+"' on property runtime.")
		return b, false
	}
	for _, t := range b.SupportedTriggers {
		id, _ := t["id"].(string)
		if !slices.Contains(triggerIDs, id) {
			invalidBody(w, "Payload validation error: 'Invalid trigger id \""+id+"\"' on property supported_triggers.")
			return b, false
		}
	}
	for _, sec := range b.Secrets {
		if sec.Name == nil || *sec.Name == "" {
			invalidBody(w, "Payload validation error: 'Missing required property: name' on property secrets.")
			return b, false
		}
	}
	return b, true
}

// applySecrets replaces the action's secrets with the given list; a secret sent without a value
// keeps the value it had. It returns the name of a new secret sent without a value, if any.
func (a *actionRecord) applySecrets(b actionBody, now time.Time) string {
	if b.Secrets == nil {
		return ""
	}
	old := map[string]secret{}
	for _, sec := range a.secrets {
		old[sec.name] = sec
	}
	next := make([]secret, 0, len(b.Secrets))
	for _, in := range b.Secrets {
		sec, had := old[*in.Name]
		switch {
		case in.Value != nil:
			sec = secret{name: *in.Name, value: *in.Value, updated: now}
		case !had:
			return *in.Name
		}
		next = append(next, sec)
	}
	a.secrets = next
	return ""
}

func (a *actionRecord) apply(b actionBody, now time.Time, buildDelay time.Duration) {
	if b.Name != nil {
		a.name = *b.Name
	}
	if b.SupportedTriggers != nil {
		a.triggers = b.SupportedTriggers
	}
	if b.Code != nil {
		a.code = *b.Code
	}
	if b.Dependencies != nil {
		a.deps = b.Dependencies
	}
	if b.Runtime != nil {
		a.runtime = *b.Runtime
	}
	a.updated, a.buildReady, a.allDeployed = now, now.Add(buildDelay), false
}

func (s *Server) nameTaken(name, exceptID string) bool {
	for _, a := range s.actions {
		if a.name == name && a.id != exceptID {
			return true
		}
	}
	return false
}

// answerPending writes an action as just created or updated: Auth0 answers before the build, so
// the status is "pending" even when the build delay is 0 (clients must poll).
func answerPending(w http.ResponseWriter, status int, a *actionRecord, now time.Time) {
	m := a.json(now)
	m["status"] = "pending"
	delete(m, "built_at")
	writeJSON(w, status, m)
}

// createAction answers POST /api/v2/actions/actions; a name already used is a 409.
func (s *Server) createAction(w http.ResponseWriter, r *http.Request) {
	b, ok := parseActionBody(w, r, true)
	if !ok {
		return
	}
	now := time.Now().UTC()
	a := &actionRecord{id: randomUUID(), runtime: "node22", deps: []any{}, created: now}
	a.apply(b, now, s.cfg.buildDelay)
	if missing := a.applySecrets(b, now); missing != "" {
		invalidBody(w, "Payload validation error: 'Missing required property: value' on secret "+missing+".")
		return
	}
	a.deployOnBuild = b.Deploy != nil && *b.Deploy
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.nameTaken(a.name, "") {
		apiError(w, http.StatusConflict, "", "An action with the name "+a.name+" already exists.")
		return
	}
	s.actions[a.id] = a
	answerPending(w, http.StatusCreated, a, now)
}

// action finds the action named by the {id} path value, answering 404 when there is none. The
// caller holds s.mu.
func (s *Server) action(w http.ResponseWriter, r *http.Request) (*actionRecord, bool) {
	a, ok := s.actions[r.PathValue("id")]
	if !ok {
		apiError(w, http.StatusNotFound, "", "The action does not exist.")
	}
	return a, ok
}

// getAction answers GET /api/v2/actions/actions/{id}.
func (s *Server) getAction(w http.ResponseWriter, r *http.Request) {
	now := time.Now().UTC()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settle(now)
	if a, ok := s.action(w, r); ok {
		writeJSON(w, http.StatusOK, a.json(now))
	}
}

// updateAction answers PATCH /api/v2/actions/actions/{id}: the draft changes, goes back to
// "pending", and no longer matches the deployed version.
func (s *Server) updateAction(w http.ResponseWriter, r *http.Request) {
	b, ok := parseActionBody(w, r, false)
	if !ok {
		return
	}
	now := time.Now().UTC()
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.action(w, r)
	if !ok {
		return
	}
	if b.Name != nil && s.nameTaken(*b.Name, a.id) {
		apiError(w, http.StatusConflict, "", "An action with the name "+*b.Name+" already exists.")
		return
	}
	if missing := a.applySecrets(b, now); missing != "" {
		invalidBody(w, "Payload validation error: 'Missing required property: value' on secret "+missing+".")
		return
	}
	a.apply(b, now, s.cfg.buildDelay)
	answerPending(w, http.StatusOK, a, now)
}

// deleteAction answers DELETE /api/v2/actions/actions/{id}[?force=true]; a bound action is only
// deleted (with its bindings) when forced.
func (s *Server) deleteAction(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.action(w, r)
	if !ok {
		return
	}
	force := r.URL.Query().Get("force") == "true"
	for trigger, list := range s.bindings {
		kept := slices.DeleteFunc(slices.Clone(list), func(b *bindingRecord) bool { return b.actionID == a.id })
		if len(kept) != len(list) && !force {
			apiError(w, http.StatusBadRequest, "", "The action is bound to a trigger; delete it with force=true.")
			return
		}
		s.bindings[trigger] = kept
	}
	delete(s.actions, a.id)
	w.WriteHeader(http.StatusNoContent)
}

// deployAction answers POST /api/v2/actions/actions/{id}/deploy with the new deployed version; an
// action that is not built yet is a 400.
func (s *Server) deployAction(w http.ResponseWriter, r *http.Request) {
	now := time.Now().UTC()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settle(now)
	a, ok := s.action(w, r)
	if !ok {
		return
	}
	if a.status(now) != "built" {
		apiError(w, http.StatusBadRequest, "", "The action cannot be deployed before it is built.")
		return
	}
	writeJSON(w, http.StatusOK, s.deploy(a, now).json(a))
}

// listActions answers GET /api/v2/actions/actions with the filters actionName, triggerId,
// deployed and installed, paged (page, per_page, default 20).
func (s *Server) listActions(w http.ResponseWriter, r *http.Request) {
	pageNo, perPage, ok := page(w, r, 20)
	if !ok {
		return
	}
	q := r.URL.Query()
	now := time.Now().UTC()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settle(now)
	var found []*actionRecord
	for _, a := range s.actions {
		switch {
		case q.Has("actionName") && a.name != q.Get("actionName"),
			q.Has("triggerId") && !a.supports(q.Get("triggerId")),
			q.Get("deployed") == "true" && a.deployed == nil,
			q.Get("deployed") == "false" && a.deployed != nil,
			q.Get("installed") == "true": // every emulated action is a custom one
			continue
		}
		found = append(found, a)
	}
	sort.Slice(found, func(i, j int) bool {
		if !found[i].created.Equal(found[j].created) {
			return found[i].created.Before(found[j].created)
		}
		return found[i].id < found[j].id
	})
	start, end := window(pageNo, perPage, len(found))
	out := make([]map[string]any, 0, end-start)
	for _, a := range found[start:end] {
		out = append(out, a.json(now))
	}
	writeJSON(w, http.StatusOK, map[string]any{"actions": out, "total": len(found), "page": pageNo, "per_page": perPage})
}

// listVersions answers GET /api/v2/actions/actions/{id}/versions, newest first, paged.
func (s *Server) listVersions(w http.ResponseWriter, r *http.Request) {
	pageNo, perPage, ok := page(w, r, 20)
	if !ok {
		return
	}
	now := time.Now().UTC()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settle(now)
	a, ok := s.action(w, r)
	if !ok {
		return
	}
	start, end := window(pageNo, perPage, len(a.versions))
	out := make([]map[string]any, 0, end-start)
	for i := start; i < end; i++ {
		out = append(out, a.versions[len(a.versions)-1-i].json(a))
	}
	writeJSON(w, http.StatusOK, map[string]any{"versions": out, "total": len(a.versions), "page": pageNo, "per_page": perPage})
}

// version finds the {versionId} of an action, answering 404 when there is none.
func version(w http.ResponseWriter, r *http.Request, a *actionRecord) (*versionRecord, bool) {
	for _, v := range a.versions {
		if v.id == r.PathValue("versionId") {
			return v, true
		}
	}
	apiError(w, http.StatusNotFound, "", "The action version does not exist.")
	return nil, false
}

// getVersion answers GET /api/v2/actions/actions/{id}/versions/{versionId}.
func (s *Server) getVersion(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.action(w, r)
	if !ok {
		return
	}
	if v, ok := version(w, r, a); ok {
		writeJSON(w, http.StatusOK, v.json(a))
	}
}

// deployVersion answers POST /api/v2/actions/actions/{id}/versions/{versionId}/deploy, a rollback:
// a new deployed version identical to the given one; {"update_draft": true} also resets the draft.
func (s *Server) deployVersion(w http.ResponseWriter, r *http.Request) {
	var body struct {
		UpdateDraft bool `json:"update_draft"`
	}
	_ = json.NewDecoder(r.Body).Decode(&body) // the body is optional
	now := time.Now().UTC()
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.action(w, r)
	if !ok {
		return
	}
	old, ok := version(w, r, a)
	if !ok {
		return
	}
	v := &versionRecord{
		id: randomUUID(), number: len(a.versions) + 1, code: old.code, runtime: old.runtime,
		deps: old.deps, secrets: old.secrets, triggers: old.triggers, created: now,
	}
	a.versions = append(a.versions, v)
	a.deployed, a.allDeployed = v, false
	if body.UpdateDraft {
		a.code, a.runtime, a.deps, a.triggers, a.updated, a.allDeployed = old.code, old.runtime, old.deps, old.triggers, now, true
	}
	writeJSON(w, http.StatusOK, v.json(a))
}

// listTriggers answers GET /api/v2/actions/triggers.
func (s *Server) listTriggers(w http.ResponseWriter, _ *http.Request) {
	out := make([]map[string]any, 0, len(triggerIDs))
	for _, id := range triggerIDs {
		out = append(out, map[string]any{
			"id": id, "version": "v3", "status": "CURRENT", "runtimes": []string{"node18", "node22"},
			"default_runtime": "node22", "compatible_triggers": []any{}, "binding_policy": "trigger-bound",
		})
	}
	writeJSON(w, http.StatusOK, map[string]any{"triggers": out})
}
