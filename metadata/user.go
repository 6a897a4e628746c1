package metadata

import (
	"unicode"
	"unicode/utf8"
)

// Names of the metadata this package decides.
const (
	// RolePlaylistEditor is the role granted at the play threshold.
	RolePlaylistEditor = "playlist_editor"
	// RolesKey is the app_metadata key holding the user's roles.
	RolesKey = "roles"
	// DisplayNameKey is the user_metadata key holding the user's display name.
	DisplayNameKey = "displayName"
)

// MaxUserIDBytes bounds a user_id; Auth0's own are far shorter.
const MaxUserIDBytes = 256

// User is the part of an Auth0 user that the rules read. The metadata maps hold decoded JSON
// (map[string]any, []any, string, float64 or json.Number, bool, nil) and may be nil.
type User struct {
	ID           string
	AppMetadata  map[string]any
	UserMetadata map[string]any
}

// Roles returns the user's roles from app_metadata.roles: the string entries of an array, or a
// lone string as a one-role list. It never returns nil.
func (u User) Roles() []string {
	raw, ok := u.rawRoles()
	if !ok {
		return []string{}
	}
	return stringsOf(raw)
}

// rawRoles returns app_metadata.roles as a list that can be written back whole, and false when
// the value is neither absent, an array nor a string (rulehook then leaves it alone).
func (u User) rawRoles() ([]any, bool) {
	v, present := u.AppMetadata[RolesKey]
	if !present || v == nil {
		return nil, true
	}
	switch t := v.(type) {
	case []any:
		return t, true
	case []string:
		out := make([]any, len(t))
		for i, s := range t {
			out[i] = s
		}
		return out, true
	case string:
		return []any{t}, true
	}
	return nil, false
}

// DisplayName returns user_metadata.displayName and whether the user has one: a non-empty string,
// or any other non-null value that rulehook must not overwrite.
func (u User) DisplayName() (string, bool) {
	v, present := u.UserMetadata[DisplayNameKey]
	if !present || v == nil {
		return "", false
	}
	s, isString := v.(string)
	if !isString {
		return "", true
	}
	return s, s != ""
}

// ValidateUserID returns an error wrapping ErrInvalid unless id is a plausible Auth0 user_id:
// non-empty, at most MaxUserIDBytes, valid UTF-8, no control characters.
func ValidateUserID(id string) error {
	switch {
	case id == "":
		return invalidf("user_id is empty")
	case len(id) > MaxUserIDBytes:
		return invalidf("user_id is longer than %d bytes", MaxUserIDBytes)
	case !utf8.ValidString(id):
		return invalidf("user_id is not valid UTF-8")
	}
	for _, r := range id {
		if unicode.IsControl(r) {
			return invalidf("user_id contains a control character")
		}
	}
	return nil
}

func stringsOf(raw []any) []string {
	out := make([]string, 0, len(raw))
	for _, v := range raw {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out
}
