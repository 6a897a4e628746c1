package webhook

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
)

// FuzzCallout drives the whole callout verifier (token, then body) through the handler with
// fuzzed claims and body: it never panics, answers only with the contract's statuses, never
// touches Redis for a rejected token or body, and accepts only a body whose hash the token
// carries, for the token's own user.
func FuzzCallout(f *testing.F) {
	valid := eventBody(f, alice, map[string]any{"roles": []any{"admin"}}, map[string]any{"displayName": "J"})
	f.Add([]byte(validClaimsJSON("")), valid, true)
	f.Add([]byte(validClaimsJSON("")), []byte(`{"user":{"user_id":"auth0|alice","app_metadata":{"Roles":[]}}}`), true)
	f.Add([]byte(validClaimsJSON(`,"sub":"x"`)), valid, false)
	f.Add([]byte(`{}`), []byte(`{}`), false)
	f.Add([]byte(validClaimsJSON("")), []byte(`{"user":{"user_id":"auth0|bob"}}`), true)
	deps, store, _ := fakeDeps()
	store.plays[alice] = 150
	s := newServer(f, testConfig(), deps)
	h := s.Handler()
	allowed := []int{200, 400, 401, 403, 409, 413}
	f.Fuzz(func(t *testing.T, claims, body []byte, bindBody bool) {
		if bindBody {
			// Put the body's real hash into the claims, so that the fuzzer gets past bsh.
			var m map[string]any
			if json.Unmarshal(claims, &m) == nil && m != nil {
				m["bsh"] = bodyHash(body)
				claims, _ = json.Marshal(m)
			}
		}
		req := httptest.NewRequest(http.MethodPost, "/v1/post-login", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+signRaw(actionHeaderJSON, string(claims), testSecret))
		before := store.calls
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if !slices.Contains(allowed, rec.Code) {
			t.Fatalf("status %d (%s) for claims %q body %q", rec.Code, rec.Body, claims, body)
		}
		asked := store.calls != before
		switch rec.Code {
		case 400, 401, 403, 413:
			if asked {
				t.Fatalf("status %d after asking Redis, claims %q body %q", rec.Code, claims, body)
			}
		case 200:
			tok, _, err := s.callout.verify("Bearer " + signRaw(actionHeaderJSON, string(claims), testSecret))
			if err != nil || !bodyHashMatches(tok.BSH, body) {
				t.Fatalf("accepted claims %q for body %q: %v", claims, body, err)
			}
			var a struct {
				UserID string `json:"user_id"`
			}
			if json.Unmarshal(rec.Body.Bytes(), &a) != nil || a.UserID != tok.Subject {
				t.Fatalf("answer %s for sub %q", rec.Body, tok.Subject)
			}
		}
	})
}
