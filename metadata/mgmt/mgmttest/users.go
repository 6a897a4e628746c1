package mgmttest

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"
)

// User is a user of the emulated tenant as tests see and seed it. The metadata maps hold values
// as encoding/json decodes them (map[string]any, []any, float64, string, bool); a nil map is an
// object the user does not have (absent from API answers), an empty one an object wiped with {}.
type User struct {
	ID           string
	Email        string
	AppMetadata  map[string]any
	UserMetadata map[string]any
}

type userRecord struct {
	id, email        string
	app, user        frozen
	attrs            map[string]any // other profile attributes written through the API; may be nil
	created, updated time.Time
	password         []byte // hash of the password given at creation; nil: none
}

// PutUser creates or replaces a user as given, without the API's validation (so tests can seed
// data Auth0 would refuse or that only an old rule could have written). It panics when u.ID is
// empty or the metadata does not encode as JSON.
func (s *Server) PutUser(u User) {
	if u.ID == "" {
		panic("mgmttest: PutUser with an empty ID")
	}
	now := time.Now().UTC()
	rec := &userRecord{
		id: u.ID, email: u.Email, app: freeze(u.AppMetadata), user: freeze(u.UserMetadata),
		created: now, updated: now, // attrs stays nil until written: 100,000 seeded users stay cheap
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.users[u.ID]; ok {
		rec.created = old.created
	}
	s.users[u.ID] = rec
}

// User returns a copy of the stored user and whether it exists.
func (s *Server) User(id string) (User, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.users[id]
	if !ok {
		return User{}, false
	}
	return rec.export(), true
}

// Users returns copies of every user, sorted by ID.
func (s *Server) Users() []User {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]User, 0, len(s.users))
	for _, rec := range s.users {
		out = append(out, rec.export())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func (rec *userRecord) export() User {
	return User{ID: rec.id, Email: rec.email, AppMetadata: rec.app.thaw(), UserMetadata: rec.user.thaw()}
}

// json is the user as the Management API returns it.
func (rec *userRecord) json() map[string]any {
	provider, sub, found := strings.Cut(rec.id, "|")
	if !found {
		provider, sub = "auth0", rec.id
	}
	connection := provider
	if provider == "auth0" {
		connection = "Username-Password-Authentication"
	}
	m := map[string]any{
		"user_id":        rec.id,
		"email_verified": false,
		"created_at":     timestamp(rec.created),
		"updated_at":     timestamp(rec.updated),
		"identities": []any{map[string]any{
			"provider": provider, "user_id": sub, "connection": connection, "isSocial": provider != "auth0",
		}},
		"logins_count": 0,
	}
	if rec.email != "" {
		m["email"] = rec.email
		m["name"] = rec.email
		m["nickname"], _, _ = strings.Cut(rec.email, "@")
	}
	for k, v := range rec.attrs {
		m[k] = v
	}
	if rec.app != nil {
		m["app_metadata"] = json.RawMessage(rec.app)
	}
	if rec.user != nil {
		m["user_metadata"] = json.RawMessage(rec.user)
	}
	return m
}

func timestamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// Attributes a PATCH or POST may carry besides the metadata; stored ones are echoed back.
var (
	stringAttrs = map[string]bool{
		"email": true, "family_name": true, "given_name": true, "name": true, "nickname": true,
		"picture": true, "username": true, "phone_number": true,
	}
	boolAttrs  = map[string]bool{"blocked": true, "email_verified": true, "phone_verified": true}
	writeOnly  = map[string]bool{"password": true, "connection": true, "client_id": true, "verify_email": true, "verify_phone_number": true}
	createOnly = map[string]bool{"user_id": true}
)

// userBody is a validated PATCH or POST body.
type userBody struct {
	app, user map[string]any // nil when absent
	attrs     map[string]any // stored attributes; a nil value deletes
	raw       map[string]any
}

// parseUserBody decodes and validates a users body; on failure it answers 400 and returns false.
func parseUserBody(w http.ResponseWriter, r *http.Request, create bool) (userBody, bool) {
	var raw map[string]any
	if err := json.NewDecoder(r.Body).Decode(&raw); err != nil || raw == nil {
		invalidBody(w, "Invalid request payload JSON format")
		return userBody{}, false
	}
	if len(raw) == 0 && !create {
		invalidBody(w, "Payload validation error: 'Too few properties defined (0), minimum 1'.")
		return userBody{}, false
	}
	b := userBody{attrs: map[string]any{}, raw: raw}
	for _, k := range slices.Sorted(maps.Keys(raw)) {
		if msg := b.take(k, raw[k], create); msg != "" {
			invalidBody(w, msg)
			return userBody{}, false
		}
	}
	return b, true
}

func (b *userBody) take(k string, v any, create bool) string {
	var msg string
	switch {
	case k == "app_metadata" || k == "user_metadata":
		var m map[string]any
		if m, msg = checkMetadata(k, v); msg == "" && k == "app_metadata" {
			b.app = m
		} else if msg == "" {
			b.user = m
		}
	case stringAttrs[k]:
		if _, ok := v.(string); !ok && v != nil {
			msg = typeError(k, "string", v)
		}
		b.attrs[k] = v
	case boolAttrs[k]:
		if _, ok := v.(bool); !ok {
			msg = typeError(k, "boolean", v)
		}
		b.attrs[k] = v
	case writeOnly[k] || (create && createOnly[k]):
	default:
		msg = fmt.Sprintf("Payload validation error: 'Additional properties not allowed: %s'.", k)
	}
	return msg
}

func typeError(field, want string, v any) string {
	return fmt.Sprintf("Payload validation error: 'Expected type %s but found type %s' on property %s.",
		want, jsonType(v), field)
}

func (rec *userRecord) apply(b userBody, now time.Time) {
	if b.app != nil {
		rec.app = freeze(mergeMetadata(rec.app.thaw(), b.app))
	}
	if b.user != nil {
		rec.user = freeze(mergeMetadata(rec.user.thaw(), b.user))
	}
	for k, v := range b.attrs {
		switch {
		case k == "email":
			rec.email, _ = v.(string)
		case v == nil:
			delete(rec.attrs, k)
		default:
			if rec.attrs == nil {
				rec.attrs = map[string]any{}
			}
			rec.attrs[k] = v
		}
	}
	rec.updated = now
}

func userNotFound(w http.ResponseWriter) {
	apiError(w, http.StatusNotFound, "inexistent_user", "The user does not exist.")
}

// getUser answers GET /api/v2/users/{id}[?fields=a,b&include_fields=true].
func (s *Server) getUser(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	rec, ok := s.users[r.PathValue("id")]
	var out map[string]any
	if ok {
		out = rec.json()
	}
	s.mu.Unlock()
	if !ok {
		userNotFound(w)
		return
	}
	writeJSON(w, http.StatusOK, selectFields(r, out))
}

// patchUser answers PATCH /api/v2/users/{id} with Auth0's merge rules (see mergeMetadata).
func (s *Server) patchUser(w http.ResponseWriter, r *http.Request) {
	b, ok := parseUserBody(w, r, false)
	if !ok {
		return
	}
	s.mu.Lock()
	rec, found := s.users[r.PathValue("id")]
	var out map[string]any
	if found {
		rec.apply(b, time.Now().UTC())
		out = rec.json()
	}
	s.mu.Unlock()
	if !found {
		userNotFound(w)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// deleteUser answers DELETE /api/v2/users/{id}: 204, whether or not the user existed.
func (s *Server) deleteUser(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	delete(s.users, r.PathValue("id"))
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// createUser answers POST /api/v2/users: connection is required; user_id, when given, becomes
// "auth0|<user_id>"; a taken id or email is a 409.
func (s *Server) createUser(w http.ResponseWriter, r *http.Request) {
	b, ok := parseUserBody(w, r, true)
	if !ok {
		return
	}
	if c, _ := b.raw["connection"].(string); c == "" {
		invalidBody(w, "Payload validation error: 'Missing required property: connection'.")
		return
	}
	id := "auth0|" + randomHex(12)
	if v, given := b.raw["user_id"]; given {
		sv, isString := v.(string)
		if !isString || sv == "" {
			invalidBody(w, typeError("user_id", "string", v))
			return
		}
		id = "auth0|" + sv
	}
	email, _ := b.attrs["email"].(string)
	now := time.Now().UTC()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.users[id] != nil || (email != "" && s.emailTaken(email)) {
		apiError(w, http.StatusConflict, "auth0_idp_error", "The user already exists.")
		return
	}
	rec := &userRecord{id: id, attrs: map[string]any{}, created: now}
	rec.apply(b, now)
	if pw, _ := b.raw["password"].(string); pw != "" {
		rec.password = hashPassword(pw)
	}
	s.users[id] = rec
	writeJSON(w, http.StatusCreated, rec.json())
}

func (s *Server) emailTaken(email string) bool {
	for _, u := range s.users {
		if strings.EqualFold(u.email, email) {
			return true
		}
	}
	return false
}

// selectFields applies ?fields=a,b&include_fields=false|true to one user.
func selectFields(r *http.Request, user map[string]any) map[string]any {
	q := r.URL.Query()
	if q.Get("fields") == "" {
		return user
	}
	listed := map[string]bool{}
	for _, f := range strings.Split(q.Get("fields"), ",") {
		listed[strings.TrimSpace(f)] = true
	}
	include := q.Get("include_fields") != "false"
	out := map[string]any{}
	for k, v := range user {
		if listed[k] == include {
			out[k] = v
		}
	}
	return out
}
