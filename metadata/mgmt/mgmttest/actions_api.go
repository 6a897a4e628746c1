package mgmttest

import (
	"encoding/json"
	"net/http"
	"slices"
	"sort"
	"time"
)

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
func answerPending(w http.ResponseWriter, status int, a *actionRecord, now time.Time, delay time.Duration) {
	m := a.json(now, delay)
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
	answerPending(w, http.StatusCreated, a, now, s.cfg.deployDelay)
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

// settling says what a handler settles before it reads or changes the actions.
type settling int

const (
	noSettle     settling = iota
	settleWrites          // settle: due builds deploy
	settleReads           // settleRead: due deployments also read as deployed
)

// lockSettled takes s.mu and settles the actions at now, the current UTC time. The caller defers
// unlock.
func (s *Server) lockSettled(how settling) (now time.Time, unlock func()) {
	now = time.Now().UTC()
	s.mu.Lock()
	switch how {
	case settleWrites:
		s.settle(now)
	case settleReads:
		s.settleRead(now)
	}
	return now, s.mu.Unlock
}

// withAction runs fn with s.mu held on the action the {id} path value names, after settling;
// it answers 404 when there is none.
func (s *Server) withAction(w http.ResponseWriter, r *http.Request, how settling, fn func(a *actionRecord, now time.Time)) {
	now, unlock := s.lockSettled(how)
	defer unlock()
	if a, ok := s.action(w, r); ok {
		fn(a, now)
	}
}

// getAction answers GET /api/v2/actions/actions/{id}.
func (s *Server) getAction(w http.ResponseWriter, r *http.Request) {
	s.withAction(w, r, settleReads, func(a *actionRecord, now time.Time) {
		writeJSON(w, http.StatusOK, a.json(now, s.cfg.deployDelay))
	})
}

// updateAction answers PATCH /api/v2/actions/actions/{id}: the draft changes, goes back to
// "pending", and no longer matches the deployed version.
func (s *Server) updateAction(w http.ResponseWriter, r *http.Request) {
	b, ok := parseActionBody(w, r, false)
	if !ok {
		return
	}
	s.withAction(w, r, noSettle, func(a *actionRecord, now time.Time) {
		if b.Name != nil && s.nameTaken(*b.Name, a.id) {
			apiError(w, http.StatusConflict, "", "An action with the name "+*b.Name+" already exists.")
			return
		}
		if missing := a.applySecrets(b, now); missing != "" {
			invalidBody(w, "Payload validation error: 'Missing required property: value' on secret "+missing+".")
			return
		}
		a.apply(b, now, s.cfg.buildDelay)
		answerPending(w, http.StatusOK, a, now, s.cfg.deployDelay)
	})
}

// deleteAction answers DELETE /api/v2/actions/actions/{id}[?force=true]; a bound action is only
// deleted (with its bindings) when forced.
func (s *Server) deleteAction(w http.ResponseWriter, r *http.Request) {
	s.withAction(w, r, noSettle, func(a *actionRecord, _ time.Time) {
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
	})
}

// deployAction answers POST /api/v2/actions/actions/{id}/deploy with the new deployed version; an
// action that is not built yet is a 400.
func (s *Server) deployAction(w http.ResponseWriter, r *http.Request) {
	s.withAction(w, r, settleWrites, func(a *actionRecord, now time.Time) {
		if a.status(now) != "built" {
			apiError(w, http.StatusBadRequest, "", "The action cannot be deployed before it is built.")
			return
		}
		writeJSON(w, http.StatusOK, s.deploy(a, now).json(a, now, s.cfg.deployDelay))
	})
}

// listActions answers GET /api/v2/actions/actions with the filters actionName, triggerId,
// deployed and installed, paged (page, per_page, default 20).
func (s *Server) listActions(w http.ResponseWriter, r *http.Request) {
	pageNo, perPage, ok := page(w, r, 20)
	if !ok {
		return
	}
	q := r.URL.Query()
	now, unlock := s.lockSettled(settleReads)
	defer unlock()
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
	writePage(w, "actions", found, pageNo, perPage, func(a *actionRecord) map[string]any {
		return a.json(now, s.cfg.deployDelay)
	})
}
