package metadata_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/rulehook/rulehook/metadata"
)

func TestDecodeUser(t *testing.T) {
	tests := []struct {
		name, body string
		want       metadata.User
	}{
		{"whole", `{"user_id":"auth0|1","email":"a@b.c","app_metadata":{"roles":["admin"]},"user_metadata":{"displayName":"J"}}`,
			metadata.User{ID: "auth0|1", AppMetadata: map[string]any{"roles": []any{"admin"}}, UserMetadata: map[string]any{"displayName": "J"}}},
		{"no metadata", `{"user_id":"auth0|1"}`, metadata.User{ID: "auth0|1"}},
		{"null metadata", `{"user_id":"auth0|1","app_metadata":null,"user_metadata":null}`, metadata.User{ID: "auth0|1"}},
		{"Roles is not roles", `{"user_id":"auth0|1","app_metadata":{"roles":["admin"],"Roles":[]}}`,
			metadata.User{ID: "auth0|1", AppMetadata: map[string]any{"roles": []any{"admin"}, "Roles": []any{}}}},
		{"App_Metadata is not app_metadata", `{"user_id":"auth0|1","app_metadata":{"roles":["admin"]},"App_Metadata":{"roles":[]},"USER_ID":"x"}`,
			metadata.User{ID: "auth0|1", AppMetadata: map[string]any{"roles": []any{"admin"}}}},
		{"numbers exact", `{"user_id":"auth0|1","user_metadata":{"n":12345678901234567890}}`,
			metadata.User{ID: "auth0|1", UserMetadata: map[string]any{"n": json.Number("12345678901234567890")}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := metadata.DecodeUser([]byte(tt.body))
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("DecodeUser(%s) = %+v, %v; want %+v", tt.body, got, err, tt.want)
			}
		})
	}
	for _, bad := range []string{
		`{}`, `null`, `[]`, `"x"`, `{"user_id":7}`, `{"user_id":""}`, `{"user_id":null}`, `{"User_Id":"auth0|1"}`,
		`{"user_id":"auth0|1","app_metadata":"x"}`, `{"user_id":"auth0|1","user_metadata":[]}`,
		`{"user_id":"auth0|1","app_metadata":{}} {}`, `{"user_id":"auth0|1"`,
	} {
		if u, err := metadata.DecodeUser([]byte(bad)); !errors.Is(err, metadata.ErrInvalid) {
			t.Errorf("DecodeUser(%s) = %+v, %v; want ErrInvalid", bad, u, err)
		}
	}
}

// FuzzDecodeUser holds DecodeUser to its contract on any input: it never panics, an error wraps
// ErrInvalid, and a user it accepts has an id and metadata that survive a round trip through
// JSON with their keys exactly as given (rule 7), so "Roles" never stands in for "roles".
//
//	go test ./metadata -run '^$' -fuzz FuzzDecodeUser -fuzztime 1m
func FuzzDecodeUser(f *testing.F) {
	for _, s := range []string{
		`{"user_id":"auth0|1","app_metadata":{"roles":["admin"],"Roles":[]},"user_metadata":{"displayName":"","DisplayName":"x"}}`,
		`{"user_id":"auth0|1","App_Metadata":{"roles":[]}}`, `{}`, `{"user_id":"a","app_metadata":"x"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		u, err := metadata.DecodeUser(data)
		if err != nil {
			if !errors.Is(err, metadata.ErrInvalid) {
				t.Fatalf("DecodeUser error %v does not wrap ErrInvalid", err)
			}
			return
		}
		if u.ID == "" {
			t.Fatalf("DecodeUser accepted a user without an id: %q", data)
		}
		var raw map[string]json.RawMessage
		if err := json.Unmarshal(data, &raw); err != nil {
			t.Fatalf("DecodeUser accepted %q, which encoding/json refuses: %v", data, err)
		}
		again, err := metadata.DecodeUser(mustJSON(t, map[string]any{
			"user_id": u.ID, "app_metadata": u.AppMetadata, "user_metadata": u.UserMetadata}))
		if err != nil || !reflect.DeepEqual(again, u) {
			t.Fatalf("round trip of %+v = %+v, %v", u, again, err)
		}
		if v, has := u.AppMetadata["roles"]; has {
			var want map[string]any
			_ = json.Unmarshal(raw["app_metadata"], &want)
			if !reflect.DeepEqual(jsonOf(t, v), jsonOf(t, want["roles"])) {
				t.Fatalf("roles = %v; want the exact key's %v", v, want["roles"])
			}
		}
	})
}

func mustJSON(t *testing.T, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("json.Marshal: %v", err)
	}
	return b
}

func jsonOf(t *testing.T, v any) string { return string(mustJSON(t, v)) }
