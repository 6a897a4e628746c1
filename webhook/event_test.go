package webhook

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
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
			login, err := decodeLogin([]byte(tt.body))
			if (err != nil) != tt.wantErr {
				t.Fatalf("decodeLogin(%q) error = %v; want error %v", tt.body, err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if login.in.User.ID != tt.wantID || login.transactionID != tt.wantTxn {
				t.Errorf("decodeLogin(%q) = id %q txn %q; want %q %q", tt.body, login.in.User.ID, login.transactionID, tt.wantID, tt.wantTxn)
			}
			if got := login.in.User.Roles(); !jsonEqual(got, tt.wantRoles) {
				t.Errorf("roles = %v; want %v", got, tt.wantRoles)
			}
		})
	}
}

func TestDecodeEventKeepsNumbersExact(t *testing.T) {
	login, err := decodeLogin([]byte(`{"user":{"user_id":"a","app_metadata":{"roles":["admin",9007199254740993],"big":1}}}`))
	if err != nil {
		t.Fatal(err)
	}
	d := metadata.DefaultPolicy.Decide(metadata.Input{User: login.in.User, Plays: 100, PlaysKnown: true})
	b, _ := json.Marshal(d.Patch.AppMetadata)
	if got, want := string(b), `{"roles":["admin",9007199254740993,"playlist_editor"]}`; got != want {
		t.Errorf("app_metadata patch = %s; want %s", got, want)
	}
}

func TestDecodeEventReadsOnlyTheKeysTheRulesUse(t *testing.T) {
	login, err := decodeLogin([]byte(`{"user":{"user_id":"a","app_metadata":{"roles":"admin","plan":{"x":1}},
		"user_metadata":{"displayName":"J","prefs":[1,2,3]}}}`))
	if err != nil {
		t.Fatal(err)
	}
	u := login.in.User
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
		login, err := decodeLogin(body)
		if err != nil {
			return
		}
		if err := metadata.ValidateUserID(login.in.User.ID); err != nil {
			t.Fatalf("accepted an invalid user id %q: %v", login.in.User.ID, err)
		}
		if login.transactionID != "" && !validRequestID(login.transactionID) {
			t.Fatalf("accepted transaction id %q", login.transactionID)
		}
		for _, known := range []bool{false, true} {
			login.in.Plays, login.in.PlaysKnown = 100, known
			d := metadata.DefaultPolicy.Decide(login.in)
			if d.Roles == nil {
				t.Fatal("Decide returned nil roles")
			}
			if err := d.Patch.Validate(); err != nil && !errors.Is(err, metadata.ErrInvalid) {
				t.Fatalf("patch validation: %v", err)
			}
			resp := loginResponse{UserID: login.in.User.ID, Roles: d.Roles, AppMetadata: objectOrEmpty(d.Patch.AppMetadata),
				UserMetadata: objectOrEmpty(d.Patch.UserMetadata), WrittenBy: writtenByNone, Degraded: noneDegraded}
			if _, err := json.Marshal(resp); err != nil {
				t.Fatalf("answer does not encode: %v", err)
			}
		}
	})
}

// TestDecodeEventMatchesKeysExactly: CONTRACT rule 7. encoding/json would have matched each
// of these differently-cased keys to the one the rules read.
func TestDecodeEventMatchesKeysExactly(t *testing.T) {
	tests := []struct {
		name      string
		body      string
		wantRoles []string
		wantName  any
	}{
		{"Roles after roles", `{"user":{"user_id":"a","app_metadata":{"roles":["admin"],"Roles":[]}}}`, []string{"admin"}, nil},
		{"Roles before roles", `{"user":{"user_id":"a","app_metadata":{"Roles":[],"roles":["admin"]}}}`, []string{"admin"}, nil},
		{"only ROLES", `{"user":{"user_id":"a","app_metadata":{"ROLES":["admin"]}}}`, []string{}, nil},
		{"DisplayName beside an empty displayName", `{"user":{"user_id":"a","user_metadata":{"displayName":"","DisplayName":"x"}}}`, []string{}, ""},
		{"only displayname", `{"user":{"user_id":"a","user_metadata":{"displayname":"x"}}}`, []string{}, nil},
		{"escaped key is the same key", `{"user":{"user_id":"a","app_metadata":{"rol\u0065s":["admin"]}}}`, []string{"admin"}, nil},
		{"App_Metadata is another object", `{"user":{"user_id":"a","App_Metadata":{"roles":["admin"]}}}`, []string{}, nil},
		{"the last of two roles keys", `{"user":{"user_id":"a","app_metadata":{"roles":["a"],"roles":["b"]}}}`, []string{"b"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			login, err := decodeLogin([]byte(tt.body))
			if err != nil {
				t.Fatalf("decodeLogin: %v", err)
			}
			if got := login.in.User.Roles(); !jsonEqual(got, tt.wantRoles) {
				t.Errorf("roles = %v; want %v", got, tt.wantRoles)
			}
			if got := login.in.User.UserMetadata[metadata.DisplayNameKey]; got != tt.wantName {
				t.Errorf("displayName = %#v; want %#v", got, tt.wantName)
			}
		})
	}
	if _, err := decodeLogin([]byte(`{"User":{"user_id":"a"}}`)); err == nil {
		t.Errorf(`decodeLogin accepted "User" as "user"`)
	}
}

func TestCalloutKeepsRolesBesideACapitalizedKey(t *testing.T) {
	deps, store, writer := fakeDeps()
	store.plays[alice] = 150
	s := newServer(t, testConfig(), deps)
	body := []byte(`{"user":{"user_id":"auth0|alice","app_metadata":{"roles":["admin"],"Roles":[]},` +
		`"user_metadata":{"displayName":"","DisplayName":"x"}}}`)
	rec := serve(s.Handler(), newCallout(t, alice, body).request(t))
	if rec.Code != 200 {
		t.Fatalf("status = %d (%s)", rec.Code, rec.Body)
	}
	if got, want := decodeAnswer(t, rec).Roles, []string{"admin", "playlist_editor"}; !jsonEqual(got, want) {
		t.Errorf("roles = %v; want %v", got, want)
	}
	w := writer.last()
	if got := w.Patch.UserMetadata[metadata.DisplayNameKey]; got != metadata.DefaultPolicy.DefaultDisplayName {
		t.Errorf("displayName patch = %v; want the default", got)
	}
}

// refEvent is what a plain decoding into map[string]any (exact keys, the last of repeated keys)
// reads from an event, with the same type rules as decodeEvent.
type refEvent struct {
	hasUser            bool
	userID, txn        string
	roles, displayName any
	hasRoles, hasName  bool
}

func refDecode(body []byte) (refEvent, bool) {
	var top any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if dec.Decode(&top) != nil || dec.More() {
		return refEvent{}, false
	}
	if _, err := dec.Token(); err != io.EOF {
		return refEvent{}, false
	}
	obj, ok := top.(map[string]any)
	if !ok {
		return refEvent{}, false
	}
	var ev refEvent
	if u, present := obj["user"]; present && u != nil {
		um, ok := u.(map[string]any)
		if !ok {
			return refEvent{}, false
		}
		ev.hasUser = true
		if ev.userID, ok = optString(um["user_id"]); !ok {
			return refEvent{}, false
		}
		if ev.roles, ev.hasRoles, ok = refMember(um["app_metadata"], "roles"); !ok {
			return refEvent{}, false
		}
		if ev.displayName, ev.hasName, ok = refMember(um["user_metadata"], "displayName"); !ok {
			return refEvent{}, false
		}
	}
	if tx, present := obj["transaction"]; present && tx != nil {
		tm, ok := tx.(map[string]any)
		if !ok {
			return refEvent{}, false
		}
		if ev.txn, ok = optString(tm["id"]); !ok {
			return refEvent{}, false
		}
	}
	return ev, true
}

func optString(v any) (string, bool) {
	if v == nil {
		return "", true
	}
	s, ok := v.(string)
	return s, ok
}

func refMember(obj any, key string) (v any, present, ok bool) {
	if obj == nil {
		return nil, false, true
	}
	m, isMap := obj.(map[string]any)
	if !isMap {
		return nil, false, false
	}
	v, present = m[key]
	return v, present, true
}

// FuzzDecodeEventExact holds decodeEvent to a decoding into map[string]any: the same events are
// accepted, with the same user id, transaction id, roles and displayName.
func FuzzDecodeEventExact(f *testing.F) {
	for _, seed := range []string{
		`{"user":{"user_id":"auth0|123","app_metadata":{"roles":["admin"],"Roles":[]},"user_metadata":{"displayName":"","DisplayName":"x"}},"transaction":{"id":"t"}}`,
		`{"user":{"user_id":"a"},"user":null}`, `{"user":{"user_id":"a","app_metadata":{"roles":"x"},"app_metadata":{}}}`,
		`{"user":{"user_id":"\u0061\ud800","app_metadata":{"rol\u0065s":[1.5e3,"\u00e9",null]}}}`,
		"{\"user\":{\"user_id\":\"\xff\"}}", `{"transaction":{"id":5}}`, `{"user":[]}`, ` {"user" : { "user_id" : "a" } } `,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		ref, refOK := refDecode(body)
		ev, err := decodeEvent(body)
		if (err == nil) != refOK {
			t.Fatalf("decodeEvent(%q) error = %v; the map decoding accepts it: %v", body, err, refOK)
		}
		if err != nil {
			return
		}
		if ev.HasUser != ref.hasUser || ev.User.UserID != ref.userID || ev.TransactionID != ref.txn {
			t.Fatalf("decodeEvent(%q) = user %v %q txn %q; want %v %q %q", body, ev.HasUser, ev.User.UserID, ev.TransactionID, ref.hasUser, ref.userID, ref.txn)
		}
		for _, m := range []struct {
			name    string
			raw     []byte
			want    any
			present bool
		}{{"roles", ev.User.Roles, ref.roles, ref.hasRoles}, {"displayName", ev.User.DisplayName, ref.displayName, ref.hasName}} {
			if (m.raw != nil) != m.present {
				t.Fatalf("decodeEvent(%q): %s present %v; want %v", body, m.name, m.raw != nil, m.present)
			}
			if m.raw == nil {
				continue
			}
			got, err := valueOf(m.raw)
			if err != nil || !reflect.DeepEqual(got, m.want) {
				t.Fatalf("decodeEvent(%q): %s = %#v (%v); want %#v", body, m.name, got, err, m.want)
			}
		}
	})
}
