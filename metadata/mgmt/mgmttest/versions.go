package mgmttest

import (
	"encoding/json"
	"net/http"
	"slices"
	"time"
)

// listVersions answers GET /api/v2/actions/actions/{id}/versions, newest first, paged.
func (s *Server) listVersions(w http.ResponseWriter, r *http.Request) {
	pageNo, perPage, ok := page(w, r, 20)
	if !ok {
		return
	}
	s.withAction(w, r, settleReads, func(a *actionRecord, now time.Time) {
		newest := slices.Clone(a.versions)
		slices.Reverse(newest)
		writePage(w, "versions", newest, pageNo, perPage, func(v *versionRecord) map[string]any {
			return v.json(a, now, s.cfg.deployDelay)
		})
	})
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
	s.withAction(w, r, settleReads, func(a *actionRecord, now time.Time) {
		if v, ok := version(w, r, a); ok {
			writeJSON(w, http.StatusOK, v.json(a, now, s.cfg.deployDelay))
		}
	})
}

// deployVersion answers POST /api/v2/actions/actions/{id}/versions/{versionId}/deploy, a rollback:
// a new deployed version identical to the given one; {"update_draft": true} also resets the draft.
func (s *Server) deployVersion(w http.ResponseWriter, r *http.Request) {
	var body struct {
		UpdateDraft bool `json:"update_draft"`
	}
	_ = json.NewDecoder(r.Body).Decode(&body) // the body is optional
	s.withAction(w, r, noSettle, func(a *actionRecord, now time.Time) {
		old, ok := version(w, r, a)
		if !ok {
			return
		}
		v := &versionRecord{
			id: randomUUID(), number: len(a.versions) + 1, code: old.code, runtime: old.runtime,
			deps: old.deps, secrets: old.secrets, triggers: old.triggers, created: now,
			liveAt: now.Add(s.cfg.deployDelay),
		}
		a.versions = append(a.versions, v)
		a.deployed, a.allDeployed = v, false
		if body.UpdateDraft {
			a.code, a.runtime, a.deps, a.triggers, a.updated, a.allDeployed = old.code, old.runtime, old.deps, old.triggers, now, true
		}
		writeJSON(w, http.StatusOK, v.json(a, now, s.cfg.deployDelay))
	})
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
