package mgmttest

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
)

// AllScopes are the Management API scopes a client is granted unless WithGrantedScopes or
// WithClient says otherwise: every scope an endpoint of the emulated tenant checks, plus the
// user scopes rulehook does not use, so that a default client can do everything the tenant serves.
var AllScopes = []string{
	"read:users", "update:users", "update:users_app_metadata", "create:users", "delete:users",
	"read:actions", "create:actions", "update:actions", "delete:actions",
}

// m2mClient is one machine-to-machine application: its secret and the scopes its client grant
// for the Management API holds.
type m2mClient struct {
	secret string
	scopes []string
}

// WithGrantedScopes sets the scopes the default M2M client (ClientID) is granted, in place of
// AllScopes. Auth0 issues the client exactly its grant's scopes and answers 403
// insufficient_scope to a call that needs another (see scopeRules).
func WithGrantedScopes(scopes ...string) Option {
	return func(c *config) { c.scopes = slices.Clone(scopes) }
}

// WithClient adds another M2M client with its own secret and granted scopes, e.g. one allowed
// read:users only, beside the default client.
func WithClient(id, secret string, scopes ...string) Option {
	return func(c *config) {
		if c.extra == nil {
			c.extra = map[string]m2mClient{}
		}
		c.extra[id] = m2mClient{secret: secret, scopes: slices.Clone(scopes)}
	}
}

// clients is every M2M client the tenant knows, by id.
func (c config) clients() map[string]m2mClient {
	out := map[string]m2mClient{c.clientID: {secret: c.clientSecret, scopes: c.scopes}}
	for id, m := range c.extra {
		out[id] = m
	}
	return out
}

// scopeRule is what one endpoint asks of a token: any one of anyOf. fullUpdate, when set, is the
// scope needed instead when the body changes more than the two metadata objects.
type scopeRule struct {
	anyOf      []string
	fullUpdate string
}

// scopeRules maps each /api/v2 route pattern of routes() to the scopes Auth0 documents for it in
// the Management API reference ("Scopes" section of each endpoint,
// https://auth0.com/docs/api/management/v2/users/get-users-by-id, .../users/patch-users-by-id,
// .../actions/get-actions, .../actions/post-deploy-action, .../actions/get-bindings,
// .../actions/patch-bindings, .../jobs/post-users-exports, .../jobs/get-jobs-by-id; the
// Management API's OpenAPI description says the same in each 403, e.g. "Insufficient scope,
// expected: read:actions." for GET /actions/actions). Scopes that
// only a user's own token carries (read:current_user, update:current_user_metadata) are left out:
// an M2M client never holds them. The Actions routes are not listed: ruleFor names their scope
// after the method. A route missing here needs no scope. Routes other branches add (jobs) are
// listed so that they are checked as soon as they are served.
var scopeRules = map[string]scopeRule{
	"GET /api/v2/users":         {anyOf: []string{"read:users"}},
	"POST /api/v2/users":        {anyOf: []string{"create:users"}},
	"GET /api/v2/users/{id}":    {anyOf: []string{"read:users"}},
	"DELETE /api/v2/users/{id}": {anyOf: []string{"delete:users"}},
	// update:users_app_metadata may change app_metadata and user_metadata only; any other
	// attribute needs update:users.
	"PATCH /api/v2/users/{id}": {anyOf: []string{"update:users", "update:users_app_metadata"}, fullUpdate: "update:users"},

	"POST /api/v2/jobs/users-exports": {anyOf: []string{"read:users"}},
	"GET /api/v2/jobs/{id}":           {anyOf: []string{"create:users", "read:users"}},
}

// actionsVerb names the scope every /api/v2/actions route asks, by its method: Auth0's reference
// asks read:actions of each GET, create:actions of each POST (a deploy too), update:actions of
// each PATCH (bindings too) and delete:actions of each DELETE.
var actionsVerb = map[string]string{
	http.MethodGet: "read", http.MethodPost: "create", http.MethodPatch: "update", http.MethodDelete: "delete",
}

// ruleFor returns the scope rule of a route pattern of routes(); false when the route needs none.
func ruleFor(pattern string) (scopeRule, bool) {
	if rule, ok := scopeRules[pattern]; ok {
		return rule, true
	}
	method, path, _ := strings.Cut(pattern, " ")
	if verb, ok := actionsVerb[method]; ok && strings.HasPrefix(path, "/api/v2/actions/") {
		return scopeRule{anyOf: []string{verb + ":actions"}}, true
	}
	return scopeRule{}, false
}

// insufficientScope answers Auth0's 403 for a token without the scope a call needs. The body is
// the one Auth0 sends, as Auth0's support article "Management API Token from API Explorer Tab does
// not Contain Expected Scopes" shows it and auth0/auth0-cli's tests record it
// (internal/cli/api_test.go, "it correctly detects an insufficient scope error"; several scopes
// are joined with ", "):
// {"statusCode":403,"error":"Forbidden","message":"Insufficient scope, expected any of: read:users","errorCode":"insufficient_scope"}.
func insufficientScope(w http.ResponseWriter, anyOf []string) {
	apiError(w, http.StatusForbidden, "insufficient_scope", "Insufficient scope, expected any of: "+strings.Join(anyOf, ", "))
}

// allowed checks the granted scopes (the token's space-separated scope claim) against the rule of
// r's route and answers 403 when none fits. body is the request body, read already.
func (s *Server) allowed(w http.ResponseWriter, r *http.Request, granted string, body []byte) bool {
	_, pattern := s.mux.Handler(r)
	rule, ok := ruleFor(pattern)
	if !ok {
		return true
	}
	have := strings.Fields(granted)
	if rule.fullUpdate != "" && !slices.Contains(have, rule.fullUpdate) && !onlyMetadata(body) {
		insufficientScope(w, []string{rule.fullUpdate})
		return false
	}
	for _, want := range rule.anyOf {
		if slices.Contains(have, want) {
			return true
		}
	}
	insufficientScope(w, rule.anyOf)
	return false
}

// onlyMetadata reports whether a users PATCH body changes nothing but app_metadata and
// user_metadata (a body that does not parse is left for the endpoint's own 400).
func onlyMetadata(body []byte) bool {
	keys, ok := topLevelKeys(body)
	if !ok {
		return true
	}
	for _, k := range keys {
		if k != "app_metadata" && k != "user_metadata" {
			return false
		}
	}
	return true
}

// topLevelKeys returns the keys of a JSON object body.
func topLevelKeys(body []byte) ([]string, bool) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, false
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	return keys, true
}
