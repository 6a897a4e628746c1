package mgmttest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"time"
)

// Binding is one Action bound to a trigger, as tests see it.
type Binding struct {
	ID, ActionID, ActionName, DisplayName string
}

type bindingRecord struct {
	id, trigger, actionID, displayName string
	created, updated                   time.Time
}

// Bindings returns the bindings of triggerID (e.g. "post-login") in execution order.
func (s *Server) Bindings(triggerID string) []Binding {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []Binding{}
	for _, b := range s.bindings[triggerID] {
		name := ""
		if a := s.actions[b.actionID]; a != nil {
			name = a.name
		}
		out = append(out, Binding{ID: b.id, ActionID: b.actionID, ActionName: name, DisplayName: b.displayName})
	}
	return out
}

func (b *bindingRecord) json(a *actionRecord, now time.Time, delay time.Duration) map[string]any {
	m := map[string]any{
		"id":           b.id,
		"trigger_id":   b.trigger,
		"display_name": b.displayName,
		"created_at":   timestamp(b.created),
		"updated_at":   timestamp(b.updated),
	}
	if a != nil {
		m["action"] = a.json(now, delay)
	}
	return m
}

// trigger reads the {triggerId} path value, answering 404 for a trigger Auth0 does not have.
func trigger(w http.ResponseWriter, r *http.Request) (string, bool) {
	id := r.PathValue("triggerId")
	if !slices.Contains(triggerIDs, id) {
		apiError(w, http.StatusNotFound, "", "The trigger does not exist.")
		return "", false
	}
	return id, true
}

// listBindings answers GET /api/v2/actions/triggers/{triggerId}/bindings in execution order,
// paged (page, per_page, default 20).
func (s *Server) listBindings(w http.ResponseWriter, r *http.Request) {
	t, ok := trigger(w, r)
	if !ok {
		return
	}
	pageNo, perPage, ok := page(w, r, 20)
	if !ok {
		return
	}
	now, unlock := s.lockSettled(settleWrites)
	defer unlock()
	writePage(w, "bindings", s.bindings[t], pageNo, perPage, func(b *bindingRecord) map[string]any {
		return b.json(s.actions[b.actionID], now, s.cfg.deployDelay)
	})
}

type bindingsBody struct {
	Bindings *[]struct {
		Ref *struct {
			Type  string `json:"type"`
			Value string `json:"value"`
		} `json:"ref"`
		DisplayName *string `json:"display_name"`
		Secrets     []any   `json:"secrets"`
	} `json:"bindings"`
}

// updateBindings answers PATCH /api/v2/actions/triggers/{triggerId}/bindings. Like Auth0 it
// replaces the trigger's whole list with the one sent, in that order; each entry names an action
// by ref {type: action_id|action_name|binding_id, value}. The action must support the trigger and
// have a deployed version. Rebinding an action already bound keeps its binding id.
func (s *Server) updateBindings(w http.ResponseWriter, r *http.Request) {
	t, ok := trigger(w, r)
	if !ok {
		return
	}
	var body bindingsBody
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		invalidBody(w, "Invalid request payload JSON format")
		return
	}
	if body.Bindings == nil {
		invalidBody(w, "Payload validation error: 'Missing required property: bindings'.")
		return
	}
	now, unlock := s.lockSettled(settleWrites)
	defer unlock()
	old := s.bindings[t]
	used := map[*bindingRecord]bool{}
	next := make([]*bindingRecord, 0, len(*body.Bindings))
	for i, in := range *body.Bindings {
		if in.Ref == nil || in.Ref.Value == "" {
			invalidBody(w, fmt.Sprintf("Payload validation error: 'Missing required property: ref' on property bindings[%d].", i))
			return
		}
		b, status, msg := s.resolveBinding(t, in.Ref.Type, in.Ref.Value, old, used, now)
		if msg != "" {
			apiError(w, status, "", msg)
			return
		}
		if in.DisplayName != nil && *in.DisplayName != "" {
			b.displayName = *in.DisplayName
		}
		next = append(next, b)
	}
	s.bindings[t] = next
	out := make([]map[string]any, 0, len(next))
	for _, b := range next {
		out = append(out, b.json(s.actions[b.actionID], now, s.cfg.deployDelay))
	}
	writeJSON(w, http.StatusOK, map[string]any{"bindings": out})
}

// errNotDeployedYet is Auth0's 400 for a new binding of an action whose first version is still
// deploying (auth0/auth0-deploy-cli issue 385, "Creating new action and trigger for that action can
// fail in the same import"; auth0/terraform-provider-auth0 waits for deployed_version.deployed
// before binding since PR 1590, internal/auth0/action/resource.go waitForActionDeployed).
const errNotDeployedYet = "Trying to create a binding for an action that has not been deployed yet"

// resolveBinding turns one ref into a binding of trigger t: an existing one (binding_id, or an
// action bound before), or a new one. On failure it returns the status and message to answer.
func (s *Server) resolveBinding(t, refType, value string, old []*bindingRecord, used map[*bindingRecord]bool,
	now time.Time) (*bindingRecord, int, string) {
	var a *actionRecord
	switch refType {
	case "binding_id":
		for _, b := range old {
			if b.id == value && !used[b] {
				used[b] = true
				cp := *b
				return &cp, 0, ""
			}
		}
		return nil, http.StatusNotFound, "The binding " + value + " does not exist."
	case "action_id":
		a = s.actions[value]
	case "action_name":
		for _, c := range s.actions {
			if c.name == value {
				a = c
			}
		}
	default:
		return nil, http.StatusBadRequest, "Payload validation error: 'Invalid ref type \"" + refType + "\"'."
	}
	switch {
	case a == nil:
		return nil, http.StatusNotFound, "The action " + value + " does not exist."
	case !a.supports(t):
		return nil, http.StatusBadRequest, "The action " + a.name + " does not support the trigger " + t + "."
	case a.deployed == nil:
		return nil, http.StatusBadRequest, "The action " + a.name + " must be deployed before it can be bound."
	}
	for _, b := range old {
		if b.actionID == a.id && !used[b] {
			used[b] = true
			cp := *b
			cp.updated = now
			return &cp, 0, ""
		}
	}
	if len(a.versions) == 1 && !a.deployed.isLive(now, s.cfg.deployDelay) {
		return nil, http.StatusBadRequest, errNotDeployedYet
	}
	return &bindingRecord{id: randomUUID(), trigger: t, actionID: a.id, displayName: a.name, created: now, updated: now}, 0, ""
}
