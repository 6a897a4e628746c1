package metadata_test

import (
	"reflect"
	"slices"
	"testing"

	"github.com/rulehook/rulehook/metadata"
)

// FuzzDecide holds the patch builder (Policy.Decide) to the rules on any user and count:
//
//   - the patch never carries an empty object, and only roles and displayName;
//
//   - every role other than playlist_editor is kept, in order;
//
//   - a count that is unreadable or not recorded changes no role (rules 5 and 6); a recorded
//     one grants playlist_editor exactly at or above the threshold (rule 1);
//
//   - a displayName the user has is never overwritten (rule 2);
//
//   - applying the patch as Auth0 does and deciding again changes nothing (rule 3).
//
//     go test ./metadata -run '^$' -fuzz FuzzDecide -fuzztime 1m
func FuzzDecide(f *testing.F) {
	for _, s := range []string{
		`{"user_id":"auth0|1","app_metadata":{"roles":["admin","playlist_editor"]},"user_metadata":{"displayName":"J"}}`,
		`{"user_id":"auth0|1","app_metadata":{"roles":"admin","Roles":[]},"user_metadata":{"displayName":"","DisplayName":"x"}}`,
		`{"user_id":"auth0|1","app_metadata":{"roles":[7,"playlist_editor",{"a":1}]}}`,
		`{"user_id":"auth0|1","app_metadata":{"roles":{"x":1}},"user_metadata":{"displayName":null}}`,
	} {
		f.Add([]byte(s), int64(150), true, uint8(100))
		f.Add([]byte(s), int64(0), false, uint8(1))
	}
	f.Fuzz(func(t *testing.T, data []byte, plays int64, recorded bool, threshold uint8) {
		u, err := metadata.DecodeUser(data)
		if err != nil || threshold == 0 {
			return
		}
		p := metadata.Policy{Threshold: int64(threshold), DefaultDisplayName: "user"}
		in := metadata.Input{User: u}.WithPlays(metadata.PlayCount{N: plays, Recorded: recorded})
		d := p.Decide(in)
		checkPatchShape(t, d.Patch)
		checkOtherRolesKept(t, u, d)
		checkRoleRule(t, u, d, plays, recorded, p.Threshold)
		if _, has := u.DisplayName(); has && d.Patch.UserMetadata != nil {
			t.Fatalf("Decide overwrites the user's displayName %v with %v", u.UserMetadata["displayName"], d.Patch.UserMetadata)
		}
		again := p.Decide(metadata.Input{User: d.Patch.Apply(u)}.WithPlays(metadata.PlayCount{N: plays, Recorded: recorded}))
		if again.Changed() {
			t.Fatalf("Decide is not idempotent: after %+v it wants %+v", d.Patch, again.Patch)
		}
	})
}

func checkPatchShape(t *testing.T, p metadata.Patch) {
	t.Helper()
	if (p.AppMetadata != nil && len(p.AppMetadata) == 0) || (p.UserMetadata != nil && len(p.UserMetadata) == 0) {
		t.Fatalf("patch carries an empty object: %+v", p)
	}
	for k := range p.AppMetadata {
		if k != metadata.RolesKey {
			t.Fatalf("patch sets app_metadata.%s; want roles only", k)
		}
	}
	for k := range p.UserMetadata {
		if k != metadata.DisplayNameKey {
			t.Fatalf("patch sets user_metadata.%s; want displayName only", k)
		}
	}
}

func checkOtherRolesKept(t *testing.T, u metadata.User, d metadata.Decision) {
	t.Helper()
	others := func(roles []string) []string {
		return slices.DeleteFunc(slices.Clone(roles), func(r string) bool { return r == metadata.RolePlaylistEditor })
	}
	if got, want := others(d.Roles), others(u.Roles()); !reflect.DeepEqual(got, want) {
		t.Fatalf("other roles = %v; want %v kept as they were", got, want)
	}
}

func checkRoleRule(t *testing.T, u metadata.User, d metadata.Decision, plays int64, recorded bool, threshold int64) {
	t.Helper()
	if !recorded || d.RolesUntouched {
		if d.Patch.AppMetadata != nil || d.Promoted || d.Demoted {
			t.Fatalf("roles changed without a recorded count (or with malformed roles): %+v", d)
		}
		return
	}
	if has, want := slices.Contains(d.Roles, metadata.RolePlaylistEditor), plays >= threshold; has != want {
		t.Fatalf("playlist_editor held = %v at %d plays, threshold %d; want %v", has, plays, threshold, want)
	}
}
