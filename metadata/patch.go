package metadata

import (
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

// Changes lists the keys of p whose value differs from u's, sorted by object then key.
// Keys the patch sets to their current value are left out.
func (p Patch) Changes(u User) []Change {
	var out []Change
	out = appendChanges(out, ObjectAppMetadata, u.AppMetadata, p.AppMetadata)
	out = appendChanges(out, ObjectUserMetadata, u.UserMetadata, p.UserMetadata)
	return out
}

func appendChanges(out []Change, object string, current, patch map[string]any) []Change {
	for _, k := range slices.Sorted(maps.Keys(patch)) {
		before := current[k]
		if reflect.DeepEqual(before, patch[k]) {
			continue
		}
		out = append(out, Change{Object: object, Key: k, Before: before, After: patch[k]})
	}
	return out
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
