package webhook

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/rulehook/rulehook/metadata"
)

func TestDecodeEvent(t *testing.T) {
	tests := []struct {
		name      string
		body      string
		wantErr   bool
		wantID    string
		wantTxn   string
		wantRoles []string
	}{
		{"contract example", `{"user": {"user_id": "auth0|123", "email": "a@b.c", "app_metadata": {"roles": ["admin"]},
			"user_metadata": {"displayName": "J-vald3z"}}, "transaction": {"id": "txn.1"}, "client": {"client_id": "c", "name": "n"},
			"request": {"ip": "192.0.2.1", "user_agent": "ua"}}`, false, "auth0|123", "txn.1", []string{"admin"}},
		{"minimal", `{"user":{"user_id":"auth0|1"}}`, false, "auth0|1", "", []string{}},
		{"null metadata", `{"user":{"user_id":"auth0|1","app_metadata":null,"user_metadata":null}}`, false, "auth0|1", "", []string{}},
		{"unknown fields kept out", `{"user":{"user_id":"auth0|1","identities":[{}],"x":{"y":1}},"stats":{"logins_count":3}}`, false, "auth0|1", "", []string{}},
		{"transaction id with odd characters is not logged", `{"user":{"user_id":"auth0|1"},"transaction":{"id":"a b\n"}}`, false, "auth0|1", "", []string{}},
		{"empty", ``, true, "", "", nil},
		{"array", `[]`, true, "", "", nil},
		{"no user_id", `{"user":{"email":"a@b.c"}}`, true, "", "", nil},
		{"empty user_id", `{"user":{"user_id":""}}`, true, "", "", nil},
		{"invalid UTF-8 escape in user_id", "{\"user\":{\"user_id\":\"a\x01\"}}", true, "", "", nil},
		{"two values", `{"user":{"user_id":"a"}} {}`, true, "", "", nil},
		{"transaction not an object", `{"user":{"user_id":"a"},"transaction":"t"}`, true, "", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			li, err := decodeLogin([]byte(tt.body))
			if (err != nil) != tt.wantErr {
				t.Fatalf("decodeLogin(%q) error = %v; want error %v", tt.body, err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if li.in.User.ID != tt.wantID || li.transactionID != tt.wantTxn {
				t.Errorf("decodeLogin(%q) = id %q txn %q; want %q %q", tt.body, li.in.User.ID, li.transactionID, tt.wantID, tt.wantTxn)
			}
			if got := li.in.User.Roles(); !jsonEqual(got, tt.wantRoles) {
				t.Errorf("roles = %v; want %v", got, tt.wantRoles)
			}
		})
	}
}

func TestDecodeEventKeepsNumbersExact(t *testing.T) {
	li, err := decodeLogin([]byte(`{"user":{"user_id":"a","app_metadata":{"roles":["admin",9007199254740993],"big":1}}}`))
	if err != nil {
		t.Fatal(err)
	}
	d := metadata.DefaultPolicy.Decide(metadata.Input{User: li.in.User, Plays: 100, PlaysKnown: true})
	b, _ := json.Marshal(d.Patch.AppMetadata)
	if got, want := string(b), `{"roles":["admin",9007199254740993,"playlist_editor"]}`; got != want {
		t.Errorf("app_metadata patch = %s; want %s", got, want)
	}
}

func TestDecodeEventReadsOnlyTheKeysTheRulesUse(t *testing.T) {
	li, err := decodeLogin([]byte(`{"user":{"user_id":"a","app_metadata":{"roles":"admin","plan":{"x":1}},
		"user_metadata":{"displayName":"J","prefs":[1,2,3]}}}`))
	if err != nil {
		t.Fatal(err)
	}
	u := li.in.User
	if len(u.AppMetadata) != 1 || u.AppMetadata["roles"] != "admin" || len(u.UserMetadata) != 1 || u.UserMetadata["displayName"] != "J" {
		t.Errorf("user = %+v; want only roles and displayName", u)
	}
	if _, err := decodeLogin([]byte(`{"user":{"user_id":"a","app_metadata":"x"}}`)); err == nil {
		t.Errorf("decodeLogin accepted an app_metadata that is not an object")
	}
}

// decodeLogin is decodeEvent followed by toDecisionInput, as the handler runs them.
func decodeLogin(body []byte) (loginInput, error) {
	ev, err := decodeEvent(body)
	if err != nil {
		return loginInput{}, err
	}
	return toDecisionInput(ev)
}

// FuzzDecodeEvent: decoding never panics; whatever it accepts has a valid user id and can be
// decided on and answered.
func FuzzDecodeEvent(f *testing.F) {
	for _, seed := range []string{
		`{"user":{"user_id":"auth0|123","app_metadata":{"roles":["admin"]},"user_metadata":{"displayName":"J"}},"transaction":{"id":"t"}}`,
		`{"user":{"user_id":"a","app_metadata":{"roles":"admin"}}}`,
		`{"user":{"user_id":"a","app_metadata":{"roles":[1,null,{"x":"y"}]},"user_metadata":{"displayName":7}}}`,
		`{"user":{"user_id":"a","app_metadata":{"roles":{"a":1}}}}`,
		`{"user":null}`, `null`, `{}`, `[`, `{"user":{"user_id":"\u0000"}}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		li, err := decodeLogin(body)
		if err != nil {
			return
		}
		if err := metadata.ValidateUserID(li.in.User.ID); err != nil {
			t.Fatalf("accepted an invalid user id %q: %v", li.in.User.ID, err)
		}
		if li.transactionID != "" && !validRequestID(li.transactionID) {
			t.Fatalf("accepted transaction id %q", li.transactionID)
		}
		for _, known := range []bool{false, true} {
			li.in.Plays, li.in.PlaysKnown = 100, known
			d := metadata.DefaultPolicy.Decide(li.in)
			if d.Roles == nil {
				t.Fatal("Decide returned nil roles")
			}
			if err := d.Patch.Validate(); err != nil && !errors.Is(err, metadata.ErrInvalid) {
				t.Fatalf("patch validation: %v", err)
			}
			resp := loginResponse{UserID: li.in.User.ID, Roles: d.Roles, AppMetadata: objectOrEmpty(d.Patch.AppMetadata),
				UserMetadata: objectOrEmpty(d.Patch.UserMetadata), WrittenBy: writtenByNone, Degraded: noneDegraded}
			if _, err := json.Marshal(resp); err != nil {
				t.Fatalf("answer does not encode: %v", err)
			}
		}
	})
}
