package metadata_test

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/rulehook/rulehook/metadata"
)

func user(roles any, name any) metadata.User {
	u := metadata.User{ID: "auth0|1", AppMetadata: map[string]any{}, UserMetadata: map[string]any{}}
	if roles != nil {
		u.AppMetadata["roles"] = roles
	}
	if name != nil {
		u.UserMetadata["displayName"] = name
	}
	return u
}

func TestDecideRoles(t *testing.T) {
	p := metadata.DefaultPolicy
	tests := []struct {
		name      string
		roles     any
		plays     int64
		known     bool
		wantRoles []string
		wantPatch map[string]any // app_metadata patch, nil when unchanged
	}{
		{"99 plays, no roles", nil, 99, true, []string{}, nil},
		{"100 plays promotes", nil, 100, true, []string{"playlist_editor"}, map[string]any{"roles": []any{"playlist_editor"}}},
		{"101 plays promotes", []any{}, 101, true, []string{"playlist_editor"}, map[string]any{"roles": []any{"playlist_editor"}}},
		{"100 plays keeps admin", []any{"admin"}, 100, true, []string{"admin", "playlist_editor"}, map[string]any{"roles": []any{"admin", "playlist_editor"}}},
		{"already editor at 100", []any{"admin", "playlist_editor"}, 100, true, []string{"admin", "playlist_editor"}, nil},
		{"99 plays demotes, keeps others", []any{"playlist_editor", "admin", "beta"}, 99, true, []string{"admin", "beta"}, map[string]any{"roles": []any{"admin", "beta"}}},
		{"demote removes duplicates", []any{"playlist_editor", "playlist_editor"}, 0, true, []string{}, map[string]any{"roles": []any{}}},
		{"unknown plays never demotes", []any{"playlist_editor"}, 0, false, []string{"playlist_editor"}, nil},
		{"unknown plays never promotes", []any{"admin"}, 500, false, []string{"admin"}, nil},
		{"lone string role kept", "admin", 150, true, []string{"admin", "playlist_editor"}, map[string]any{"roles": []any{"admin", "playlist_editor"}}},
		{"non-string entries kept on write", []any{"admin", 7.0}, 150, true, []string{"admin", "playlist_editor"}, map[string]any{"roles": []any{"admin", 7.0, "playlist_editor"}}},
		{"malformed roles left alone", map[string]any{"x": 1.0}, 150, true, []string{}, nil},
		{"null roles treated as none", nil, 150, true, []string{"playlist_editor"}, map[string]any{"roles": []any{"playlist_editor"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := user(tt.roles, "J")
			d := p.Decide(metadata.Input{User: u, Plays: tt.plays, PlaysKnown: tt.known})
			if !reflect.DeepEqual(d.Roles, tt.wantRoles) {
				t.Errorf("Roles = %#v; want %#v", d.Roles, tt.wantRoles)
			}
			if !reflect.DeepEqual(d.Patch.AppMetadata, tt.wantPatch) {
				t.Errorf("Patch.AppMetadata = %#v; want %#v", d.Patch.AppMetadata, tt.wantPatch)
			}
			if d.Patch.UserMetadata != nil {
				t.Errorf("Patch.UserMetadata = %#v; want nil (the user has a name)", d.Patch.UserMetadata)
			}
		})
	}
}

func TestDecideDoesNotModifyInput(t *testing.T) {
	roles := make([]any, 2, 8) // spare capacity: an append must not write into it
	roles[0], roles[1] = "admin", "beta"
	u := user(roles, nil)
	metadata.DefaultPolicy.Decide(metadata.Input{User: u, Plays: 150, PlaysKnown: true})
	if got := roles[:3][2]; got != nil {
		t.Errorf("input backing array written: %v", got)
	}
	if _, ok := u.UserMetadata["displayName"]; ok {
		t.Errorf("input user_metadata modified")
	}
	demote := []any{"playlist_editor", "admin"}
	metadata.DefaultPolicy.Decide(metadata.Input{User: user(demote, "x"), Plays: 0, PlaysKnown: true})
	if want := []any{"playlist_editor", "admin"}; !reflect.DeepEqual(demote, want) {
		t.Errorf("input roles = %v after demotion; want %v", demote, want)
	}
}

func TestDecideDisplayName(t *testing.T) {
	p := metadata.Policy{Threshold: 100, DefaultDisplayName: "listener"}
	tests := []struct {
		name string
		u    metadata.User
		want map[string]any
	}{
		{"missing", metadata.User{ID: "a"}, map[string]any{"displayName": "listener"}},
		{"null", user(nil, nil), map[string]any{"displayName": "listener"}},
		{"empty string", user(nil, ""), map[string]any{"displayName": "listener"}},
		{"user's choice kept", user(nil, "J-vald3z"), nil},
		{"blank choice kept", user(nil, " "), nil},
		{"non-string kept", user(nil, 42.0), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := p.Decide(metadata.Input{User: tt.u, Plays: 0, PlaysKnown: true})
			if !reflect.DeepEqual(d.Patch.UserMetadata, tt.want) {
				t.Errorf("Patch.UserMetadata = %#v; want %#v", d.Patch.UserMetadata, tt.want)
			}
			if got, want := d.NamedByDefault, tt.want != nil; got != want {
				t.Errorf("NamedByDefault = %v; want %v", got, want)
			}
		})
	}
}

func TestDecideNoChangeIsEmpty(t *testing.T) {
	d := metadata.DefaultPolicy.Decide(metadata.Input{User: user([]any{"admin"}, "J"), Plays: 3, PlaysKnown: true})
	if d.Changed() || !d.Patch.IsEmpty() {
		t.Errorf("Decide on a settled user = %+v; want no change", d.Patch)
	}
	if d.Roles == nil {
		t.Errorf("Roles = nil; want a non-nil list")
	}
}

func TestDecideBothChangesInOnePatch(t *testing.T) {
	d := metadata.DefaultPolicy.Decide(metadata.Input{User: metadata.User{ID: "a"}, Plays: 100, PlaysKnown: true})
	if len(d.Patch.AppMetadata) != 1 || len(d.Patch.UserMetadata) != 1 {
		t.Errorf("Patch = %+v; want roles and displayName", d.Patch)
	}
	if !d.Promoted || !d.NamedByDefault {
		t.Errorf("Promoted, NamedByDefault = %v, %v; want true, true", d.Promoted, d.NamedByDefault)
	}
}

func TestPolicyValidate(t *testing.T) {
	tests := []struct {
		p  metadata.Policy
		ok bool
	}{
		{metadata.DefaultPolicy, true},
		{metadata.Policy{Threshold: 0, DefaultDisplayName: "user"}, false},
		{metadata.Policy{Threshold: 1, DefaultDisplayName: ""}, false},
		{metadata.Policy{Threshold: 1, DefaultDisplayName: " user"}, false},
		{metadata.Policy{Threshold: 1, DefaultDisplayName: "a\tb"}, false},
	}
	for _, tt := range tests {
		checkValidate(t, fmt.Sprintf("%+v", tt.p), tt.p.Validate(), tt.ok)
	}
}

// TestDecideUnrecordedCount holds CONTRACT rule 6: a count that is not recorded (the key is
// absent) never demotes and never promotes, whatever the threshold; it still lets displayName
// get its default.
func TestDecideUnrecordedCount(t *testing.T) {
	p := metadata.Policy{Threshold: 1, DefaultDisplayName: "user"}
	absent := metadata.PlayCount{}
	tests := []struct {
		name     string
		roles    any
		wantKept bool
	}{
		{"editor kept", []any{"admin", "playlist_editor"}, true},
		{"non-editor not promoted", []any{"admin"}, false},
		{"no roles", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := user(tt.roles, nil)
			d := p.Decide(metadata.Input{User: u}.WithPlays(absent))
			if d.Patch.AppMetadata != nil || d.Promoted || d.Demoted {
				t.Errorf("Decide(absent count) changes roles: %+v; want them untouched", d)
			}
			if !reflect.DeepEqual(d.Roles, u.Roles()) {
				t.Errorf("Roles = %v; want the user's own %v", d.Roles, u.Roles())
			}
			if d.KeptUnrecorded != tt.wantKept {
				t.Errorf("KeptUnrecorded = %v; want %v", d.KeptUnrecorded, tt.wantKept)
			}
			if d.Patch.UserMetadata["displayName"] != "user" {
				t.Errorf("Patch.UserMetadata = %v; want the default name still given", d.Patch.UserMetadata)
			}
		})
	}
	// A recorded 0 is a count: it demotes.
	d := p.Decide(metadata.Input{User: user([]any{"playlist_editor"}, "J")}.WithPlays(metadata.PlayCount{Recorded: true}))
	if !d.Demoted || d.KeptUnrecorded {
		t.Errorf("Decide(recorded 0, threshold 1) = %+v; want demoted", d)
	}
	// An unreadable count is not reported as unrecorded.
	d = p.Decide(metadata.Input{User: user([]any{"playlist_editor"}, "J")})
	if d.Demoted || d.KeptUnrecorded {
		t.Errorf("Decide(unreadable count) = %+v; want roles kept, not reported as unrecorded", d)
	}
}
