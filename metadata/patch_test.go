package metadata_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/rulehook/rulehook/metadata"
)

func TestPatchValidate(t *testing.T) {
	tests := []struct {
		name string
		p    metadata.Patch
		ok   bool
	}{
		{"roles", metadata.Patch{AppMetadata: map[string]any{"roles": []any{"a"}}}, true},
		{"dot key", metadata.Patch{UserMetadata: map[string]any{"a.b": 1}}, false},
		{"dollar key", metadata.Patch{AppMetadata: map[string]any{"$set": 1}}, false},
		{"nested dot key", metadata.Patch{UserMetadata: map[string]any{"prefs": map[string]any{"x.y": 1}}}, false},
		{"key in array", metadata.Patch{UserMetadata: map[string]any{"l": []any{map[string]any{"$x": 1}}}}, false},
		{"empty key", metadata.Patch{UserMetadata: map[string]any{"": 1}}, false},
		{"reserved app key", metadata.Patch{AppMetadata: map[string]any{"email": "x"}}, false},
		{"reserved name ok in user_metadata", metadata.Patch{UserMetadata: map[string]any{"email": "x"}}, true},
	}
	for _, tt := range tests {
		checkValidate(t, tt.name, tt.p.Validate(), tt.ok)
	}
}

// checkValidate checks what a Validate method returned for what: nil when ok, otherwise an error
// that wraps ErrInvalid.
func checkValidate(t *testing.T, what string, err error, ok bool) {
	t.Helper()
	if (err == nil) != ok {
		t.Errorf("%s: Validate() = %v; want ok=%v", what, err, ok)
	}
	if err != nil && !errors.Is(err, metadata.ErrInvalid) {
		t.Errorf("%s: Validate() = %v; want it to wrap ErrInvalid", what, err)
	}
}

func TestPatchNeverEncodesEmptyObject(t *testing.T) {
	tests := []struct {
		p    metadata.Patch
		want string
	}{
		{metadata.Patch{}, `{}`},
		{metadata.Patch{AppMetadata: map[string]any{}}, `{}`},
		{metadata.Patch{UserMetadata: map[string]any{"displayName": "user"}}, `{"user_metadata":{"displayName":"user"}}`},
	}
	for _, tt := range tests {
		b, err := json.Marshal(tt.p)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != tt.want {
			t.Errorf("json.Marshal(%+v) = %s; want %s", tt.p, b, tt.want)
		}
	}
}

func TestPatchMerge(t *testing.T) {
	older := metadata.Patch{UserMetadata: map[string]any{"displayName": "old", "theme": "dark"}}
	newer := metadata.Patch{UserMetadata: map[string]any{"displayName": "new"}, AppMetadata: map[string]any{"roles": []any{}}}
	got := older.Merge(newer)
	want := metadata.Patch{
		UserMetadata: map[string]any{"displayName": "new", "theme": "dark"},
		AppMetadata:  map[string]any{"roles": []any{}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Merge = %+v; want %+v", got, want)
	}
	if older.UserMetadata["displayName"] != "old" {
		t.Errorf("Merge modified its receiver")
	}
	if m := (metadata.Patch{}).Merge(metadata.Patch{}); m.AppMetadata != nil || m.UserMetadata != nil {
		t.Errorf("Merge of empties = %+v; want nil maps", m)
	}
}

func TestPatchChangesAndApply(t *testing.T) {
	u := metadata.User{ID: "a", AppMetadata: map[string]any{"roles": []any{"admin"}, "plan": "gold"}}
	p := metadata.Patch{
		AppMetadata:  map[string]any{"roles": []any{"admin", "playlist_editor"}, "plan": "gold"},
		UserMetadata: map[string]any{"displayName": "user"},
	}
	got := p.Changes(u)
	want := []metadata.Change{
		{Object: "app_metadata", Key: "roles", Before: []any{"admin"}, After: []any{"admin", "playlist_editor"}},
		{Object: "user_metadata", Key: "displayName", Before: nil, After: "user"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Changes = %+v; want %+v", got, want)
	}
	applied := p.Apply(u)
	if !reflect.DeepEqual(applied.AppMetadata["roles"], []any{"admin", "playlist_editor"}) || applied.UserMetadata["displayName"] != "user" {
		t.Errorf("Apply = %+v", applied)
	}
	if len(u.AppMetadata["roles"].([]any)) != 1 || u.UserMetadata != nil {
		t.Errorf("Apply modified its input: %+v", u)
	}
	del := metadata.Patch{AppMetadata: map[string]any{"plan": nil}}.Apply(u)
	if _, ok := del.AppMetadata["plan"]; ok {
		t.Errorf("Apply with null kept the key: %+v", del.AppMetadata)
	}
}

func TestRateLimitError(t *testing.T) {
	err := error(&metadata.RateLimitError{Reset: time.Unix(1800000000, 0)})
	if !errors.Is(err, metadata.ErrRateLimited) {
		t.Errorf("errors.Is(%v, ErrRateLimited) = false; want true", err)
	}
	var rl *metadata.RateLimitError
	if !errors.As(err, &rl) || rl.Reset.Unix() != 1800000000 {
		t.Errorf("errors.As lost the reset: %v", err)
	}
}

func TestNormalizeText(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"  J-vald3z ", "J-vald3z", true},
		{"", "", false},
		{"   ", "", false},
		{"a\x00b", "", false},
		{"a\nb", "", false},
		{string([]byte{0xff}), "", false},
		{"Ünïcödé ♫", "Ünïcödé ♫", true},
		{"admin\u202Egnp.exe", "", false}, // right-to-left override (Cf)
		{"a\u200Bb", "", false},           // zero-width space (Cf)
		{"\uFEFFname", "", false},         // byte-order mark (Cf)
		{"a\u2066b\u2069", "", false},     // bidi isolates (Cf)
		{"a\u200Eb", "", false},           // left-to-right mark (Cf)
		{"a\u2060b", "", false},           // word joiner (Cf)
		{"a\u00ADb", "", false},           // soft hyphen (Cf)
		{"a\U000E0041b", "", false},       // tag character (Cf)
		// Woman technologist: the zero-width joiner (Cf) joins woman and laptop into one emoji.
		{"\U0001F469\u200D\U0001F4BB", "\U0001F469\u200D\U0001F4BB", true},
		// Persian "I want" (mikhaham): the zero-width non-joiner (Cf) belongs in it.
		{"\u0645\u06CC\u200C\u062E\u0648\u0627\u0647\u0645", "\u0645\u06CC\u200C\u062E\u0648\u0627\u0647\u0645", true},
	}
	for _, tt := range tests {
		got, err := metadata.NormalizeDisplayName(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("NormalizeDisplayName(%q) = %q, %v; want %q, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
	long := make([]rune, metadata.MaxDisplayNameRunes+1)
	for i := range long {
		long[i] = 'é'
	}
	if _, err := metadata.NormalizeDisplayName(string(long)); err == nil {
		t.Errorf("NormalizeDisplayName(%d runes) = nil error; want too long", len(long))
	}
	if _, err := metadata.NormalizeDisplayName(string(long[1:])); err != nil {
		t.Errorf("NormalizeDisplayName(%d runes) = %v; want ok", len(long)-1, err)
	}
}

func TestValidateUserID(t *testing.T) {
	for _, id := range []string{"auth0|123", "google-oauth2|xxxyyy123", "email|5f1e"} {
		if err := metadata.ValidateUserID(id); err != nil {
			t.Errorf("ValidateUserID(%q) = %v; want nil", id, err)
		}
	}
	for _, id := range []string{"", "a\nb", string(make([]byte, metadata.MaxUserIDBytes+1)), string([]byte{0xc3})} {
		if err := metadata.ValidateUserID(id); !errors.Is(err, metadata.ErrInvalid) {
			t.Errorf("ValidateUserID(%q) = %v; want ErrInvalid", id, err)
		}
	}
}

func TestPatchEffective(t *testing.T) {
	u := metadata.User{ID: "a",
		AppMetadata:  map[string]any{"roles": []any{"admin"}, "plays": float64(100), "plan": "gold"},
		UserMetadata: map[string]any{"displayName": "Ann"},
	}
	p := metadata.Patch{
		AppMetadata: map[string]any{
			"roles": []any{"admin", "playlist_editor"}, // differs: kept
			"plays": json.Number("100"),                // the same number: dropped
			"plan":  nil,                               // deletes a key u has: kept
			"tier":  nil,                               // deletes a key u lacks: dropped
		},
		UserMetadata: map[string]any{"displayName": "Ann"}, // unchanged: dropped
	}
	got := p.Effective(u)
	want := metadata.Patch{AppMetadata: map[string]any{"roles": []any{"admin", "playlist_editor"}, "plan": nil}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Effective = %+v; want %+v", got, want)
	}
	changes := p.Changes(u)
	if len(changes) != 2 || changes[0].Key != "plan" || changes[1].Key != "roles" {
		t.Errorf("Changes = %+v; want plan and roles, the keys Effective keeps", changes)
	}
	if e := p.Effective(p.Apply(u)); !e.IsEmpty() || e.AppMetadata != nil || e.UserMetadata != nil {
		t.Errorf("Effective on the patched user = %+v; want nil maps", e)
	}
}
