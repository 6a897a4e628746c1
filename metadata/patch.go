package metadata

import (
	"bytes"
	"encoding/json"
	"maps"
	"reflect"
	"slices"
)

// Patch is a Management API user update: top-level metadata keys mapped to their whole new
// values (Auth0 merges only at the top level and replaces arrays and objects whole). A nil or
// empty map means "leave that object alone": it is never sent, because Auth0 wipes an object on {}.
type Patch struct {
	AppMetadata  map[string]any `json:"app_metadata,omitempty"`
	UserMetadata map[string]any `json:"user_metadata,omitempty"`
}

// IsEmpty reports whether the patch changes nothing.
func (p Patch) IsEmpty() bool { return len(p.AppMetadata) == 0 && len(p.UserMetadata) == 0 }

// Validate returns an error wrapping ErrInvalid when Auth0 would reject the patch or misread it:
// a key that is empty or holds '.' or '$' at any depth, or a reserved app_metadata name.
func (p Patch) Validate() error {
	for k := range p.AppMetadata {
		if IsReservedAppMetadataKey(k) {
			return invalidf("app_metadata key %q is reserved by Auth0", k)
		}
	}
	if err := validateKeys("app_metadata", p.AppMetadata); err != nil {
		return err
	}
	return validateKeys("user_metadata", p.UserMetadata)
}

// Merge returns p overlaid with newer: for each object, newer's keys win and p's other keys stay.
// Neither input is modified. It is how a queued write absorbs a later decision for the same user.
func (p Patch) Merge(newer Patch) Patch {
	return Patch{
		AppMetadata:  mergeObject(p.AppMetadata, newer.AppMetadata),
		UserMetadata: mergeObject(p.UserMetadata, newer.UserMetadata),
	}
}

func mergeObject(older, newer map[string]any) map[string]any {
	if len(older) == 0 && len(newer) == 0 {
		return nil
	}
	out := make(map[string]any, len(older)+len(newer))
	maps.Copy(out, older)
	maps.Copy(out, newer)
	return out
}

// Object names used in a Change.
const (
	ObjectAppMetadata  = "app_metadata"
	ObjectUserMetadata = "user_metadata"
)

// Change is one top-level key a patch changes, for the audit trail.
type Change struct {
	Object string `json:"object"` // ObjectAppMetadata or ObjectUserMetadata
	Key    string `json:"key"`
	Before any    `json:"before"` // nil when the key was absent
	After  any    `json:"after"`  // nil when the key is deleted
}

// Changes lists the keys of p that change u (see Effective), sorted by object then key.
func (p Patch) Changes(u User) []Change {
	var out []Change
	out = appendChanges(out, ObjectAppMetadata, u.AppMetadata, p.AppMetadata)
	out = appendChanges(out, ObjectUserMetadata, u.UserMetadata, p.UserMetadata)
	return out
}

func appendChanges(out []Change, object string, current, patch map[string]any) []Change {
	for _, k := range slices.Sorted(maps.Keys(patch)) {
		if changes(current, k, patch[k]) {
			out = append(out, Change{Object: object, Key: k, Before: current[k], After: patch[k]})
		}
	}
	return out
}

// Effective returns the part of p that changes u: the keys whose new value differs from u's
// current one, and a delete (nil) only where u has the key. Values are compared as JSON, so a
// json.Number and a float64 of one number are one value. A nil map where nothing changes.
func (p Patch) Effective(u User) Patch {
	return Patch{
		AppMetadata:  effectiveKeys(p.AppMetadata, u.AppMetadata),
		UserMetadata: effectiveKeys(p.UserMetadata, u.UserMetadata),
	}
}

func effectiveKeys(patch, current map[string]any) map[string]any {
	var out map[string]any
	for k, v := range patch {
		if !changes(current, k, v) {
			continue
		}
		if out == nil {
			out = make(map[string]any, len(patch))
		}
		out[k] = v
	}
	return out
}

// changes reports whether setting key to v (nil: deleting it) changes current.
func changes(current map[string]any, key string, v any) bool {
	cur, has := current[key]
	if !has {
		return v != nil
	}
	return !sameJSON(cur, v)
}

// sameJSON reports whether two decoded JSON values are one value: equal in Go, or encoding to the
// same JSON (a json.Number and a float64 of one number).
func sameJSON(a, b any) bool {
	if reflect.DeepEqual(a, b) {
		return true
	}
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && bytes.Equal(ja, jb)
}

// Apply returns u with p applied as Auth0 applies a PATCH: top-level keys replaced whole, a nil
// value deleting its key. u is not modified.
func (p Patch) Apply(u User) User {
	u.AppMetadata = applyObject(u.AppMetadata, p.AppMetadata)
	u.UserMetadata = applyObject(u.UserMetadata, p.UserMetadata)
	return u
}

func applyObject(current, patch map[string]any) map[string]any {
	if len(patch) == 0 {
		return current
	}
	out := maps.Clone(current)
	if out == nil {
		out = make(map[string]any, len(patch))
	}
	for k, v := range patch {
		if v == nil {
			delete(out, k)
			continue
		}
		out[k] = v
	}
	return out
}
