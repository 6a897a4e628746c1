package mgmttest_test

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/auth0/go-auth0/v3/management"

	"github.com/rulehook/rulehook/metadata/mgmt/mgmttest"
)

type obj = map[string]any

func TestPatchMergeRules(t *testing.T) {
	start := mgmttest.User{
		ID: "auth0|merge",
		AppMetadata: obj{"roles": []any{"admin", "dj"}, "plan": "gold",
			"prefs": obj{"theme": "dark", "lang": "en"}},
		UserMetadata: obj{"displayName": "J-vald3z", "genre": "jazz"},
	}
	tests := []struct {
		name             string
		app, user        *obj // the PATCH's objects; nil = not sent
		wantApp, wantUsr obj
	}{
		{
			name:    "new key is merged, others kept",
			app:     &obj{"tier": 2},
			wantApp: obj{"roles": []any{"admin", "dj"}, "plan": "gold", "prefs": obj{"theme": "dark", "lang": "en"}, "tier": 2.0},
			wantUsr: start.UserMetadata,
		},
		{
			name:    "array is replaced whole",
			app:     &obj{"roles": []any{"playlist_editor"}},
			wantApp: obj{"roles": []any{"playlist_editor"}, "plan": "gold", "prefs": obj{"theme": "dark", "lang": "en"}},
			wantUsr: start.UserMetadata,
		},
		{
			name:    "nested object is replaced whole, not merged",
			app:     &obj{"prefs": obj{"lang": "fr"}},
			wantApp: obj{"roles": []any{"admin", "dj"}, "plan": "gold", "prefs": obj{"lang": "fr"}},
			wantUsr: start.UserMetadata,
		},
		{
			name:    "null deletes a key",
			user:    &obj{"genre": nil},
			wantApp: start.AppMetadata,
			wantUsr: obj{"displayName": "J-vald3z"},
		},
		{
			name:    "empty object wipes the whole object",
			user:    &obj{},
			wantApp: start.AppMetadata,
			wantUsr: obj{},
		},
		{
			name:    "both objects in one PATCH",
			app:     &obj{"roles": []any{"admin", "dj", "playlist_editor"}},
			user:    &obj{"displayName": "user"},
			wantApp: obj{"roles": []any{"admin", "dj", "playlist_editor"}, "plan": "gold", "prefs": obj{"theme": "dark", "lang": "en"}},
			wantUsr: obj{"displayName": "user", "genre": "jazz"},
		},
		{
			name:    "a reserved app_metadata name is fine in user_metadata",
			user:    &obj{"email": "x"},
			wantApp: start.AppMetadata,
			wantUsr: obj{"displayName": "J-vald3z", "genre": "jazz", "email": "x"},
		},
	}
	s := newServer(t)
	m := newClient(t, s, 2*time.Second)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s.PutUser(start)
			req := &management.UpdateUserRequestContent{AppMetadata: tc.app, UserMetadata: tc.user}
			resp, err := m.Users.Update(context.Background(), start.ID, req)
			if err != nil {
				t.Fatalf("Users.Update: %v", err)
			}
			got, _ := s.User(start.ID)
			if !reflect.DeepEqual(got.AppMetadata, tc.wantApp) || !reflect.DeepEqual(got.UserMetadata, tc.wantUsr) {
				t.Errorf("after PATCH: app=%v user=%v; want app=%v user=%v",
					got.AppMetadata, got.UserMetadata, tc.wantApp, tc.wantUsr)
			}
			if !reflect.DeepEqual(*resp.AppMetadata, tc.wantApp) || !reflect.DeepEqual(*resp.UserMetadata, tc.wantUsr) {
				t.Errorf("PATCH answer: app=%v user=%v; want the stored user", *resp.AppMetadata, *resp.UserMetadata)
			}
		})
	}
}

func TestPatchRejectsInvalidMetadata(t *testing.T) {
	start := mgmttest.User{ID: "auth0|bad", AppMetadata: obj{"roles": []any{"admin"}}}
	tests := []struct {
		name      string
		app, user *obj
	}{
		{"dot in a top-level key", nil, &obj{"a.b": 1}},
		{"dollar in a top-level key", &obj{"$set": 1}, nil},
		{"dot in a nested key", nil, &obj{"prefs": obj{"x": obj{"theme.color": "red"}}}},
		{"dollar in a key inside an array", &obj{"list": []any{obj{"$ref": "x"}}}, nil},
		{"dot in a key being deleted", nil, &obj{"a.b": nil}},
		{"reserved name email", &obj{"email": "a@b.c"}, nil},
		{"reserved name user_id", &obj{"user_id": "x"}, nil},
		{"reserved name blocked, even with null", &obj{"blocked": nil}, nil},
		{"valid object next to an invalid one", &obj{"roles": []any{"x"}}, &obj{"a$": 1}},
	}
	s := newServer(t)
	s.PutUser(start)
	m := newClient(t, s, 2*time.Second)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := m.Users.Update(context.Background(), start.ID,
				&management.UpdateUserRequestContent{AppMetadata: tc.app, UserMetadata: tc.user})
			var bad *management.BadRequestError
			if !errors.As(err, &bad) {
				t.Fatalf("Users.Update err = %v; want a BadRequestError", err)
			}
			body, _ := bad.Body.(map[string]any)
			if body["statusCode"] != 400.0 || body["error"] != "Bad Request" || body["errorCode"] != "invalid_body" || body["message"] == "" {
				t.Errorf("error body = %v; want Auth0's 400 shape with errorCode invalid_body", body)
			}
			got, _ := s.User(start.ID)
			if !reflect.DeepEqual(got, start) {
				t.Errorf("user after a refused PATCH = %+v; want it unchanged", got)
			}
		})
	}
}

func TestPatchRejectsMalformedBodies(t *testing.T) {
	s := newServerWithUser(t)
	tok := accessToken(t, s)
	u := s.URL() + "/api/v2/users/auth0%7C1"
	for name, body := range map[string]string{
		"not JSON":                  `{"app_metadata":`,
		"empty body object":         `{}`,
		"metadata is an array":      `{"app_metadata":["a"]}`,
		"metadata is null":          `{"user_metadata":null}`,
		"unknown top-level field":   `{"roles":["a"]}`,
		"user_id cannot be patched": `{"user_id":"x"}`,
	} {
		if got := do(t, "PATCH", u, body, tok); got.Status != 400 || got.Body["errorCode"] != "invalid_body" {
			t.Errorf("%s: PATCH = %d %s; want 400 invalid_body", name, got.Status, got.Raw)
		}
	}
}

func TestUnknownUserIs404(t *testing.T) {
	s := newServer(t)
	m := newClient(t, s, 2*time.Second)
	ctx := context.Background()
	_, err := m.Users.Get(ctx, "auth0|nobody", nil)
	var nf *management.NotFoundError
	if !errors.As(err, &nf) {
		t.Errorf("Users.Get(unknown) err = %v; want NotFoundError", err)
	}
	_, err = m.Users.Update(ctx, "auth0|nobody", &management.UpdateUserRequestContent{UserMetadata: &obj{"a": 1}})
	if got := statusOf(err); got != 404 {
		t.Errorf("Users.Update(unknown) status = %d; want 404", got)
	}
}

func TestUserIDsAreUnescapedFromThePath(t *testing.T) {
	s := newServer(t)
	m := newClient(t, s, 2*time.Second)
	ctx := context.Background()
	for _, id := range []string{"auth0|123", "google-oauth2|1/2 3", "samlp|acme|jo@example.com", "email|+x%y"} {
		s.PutUser(mgmttest.User{ID: id, Email: "a@b.c"})
		got, err := m.Users.Get(ctx, id, nil)
		if err != nil {
			t.Errorf("Users.Get(%q): %v", id, err)
			continue
		}
		if got.GetUserID() != id || got.GetEmail() != "a@b.c" {
			t.Errorf("Users.Get(%q) = %q %q; want the user", id, got.GetUserID(), got.GetEmail())
		}
		if _, err := m.Users.Update(ctx, id, &management.UpdateUserRequestContent{UserMetadata: &obj{"k": "v"}}); err != nil {
			t.Errorf("Users.Update(%q): %v", id, err)
		}
		if got := s.Count(http.MethodPatch, "/api/v2/users/"+id); got != 1 {
			t.Errorf("Count(PATCH, %q) = %d; want 1 (the log holds decoded paths)", id, got)
		}
	}
}

func TestCreateGetDeleteUser(t *testing.T) {
	s := newServer(t)
	m := newClient(t, s, 2*time.Second)
	ctx := context.Background()
	created, err := m.Users.Create(ctx, &management.CreateUserRequestContent{
		Connection: "Username-Password-Authentication", UserID: management.String("abc"),
		Email: management.String("jo@example.com"), Password: management.String("pw-123456"),
		UserMetadata: &obj{"displayName": "Jo"},
	})
	if err != nil {
		t.Fatalf("Users.Create: %v", err)
	}
	if got, want := created.GetUserID(), "auth0|abc"; got != want {
		t.Errorf("created user_id = %q; want %q", got, want)
	}
	got, err := m.Users.Get(ctx, "auth0|abc", nil)
	if err != nil || got.GetEmail() != "jo@example.com" || got.CreatedAt == nil || (*got.UserMetadata)["displayName"] != "Jo" {
		t.Fatalf("Users.Get after create = %+v, %v; want the user with created_at", got, err)
	}
	if got.AppMetadata != nil {
		t.Errorf("app_metadata = %v; want it absent for a user without one", *got.AppMetadata)
	}
	_, err = m.Users.Create(ctx, &management.CreateUserRequestContent{
		Connection: "Username-Password-Authentication", Email: management.String("JO@example.com")})
	if got := statusOf(err); got != 409 {
		t.Errorf("Users.Create with a taken email: status %d; want 409", got)
	}
	if err := m.Users.Delete(ctx, "auth0|abc"); err != nil {
		t.Fatalf("Users.Delete: %v", err)
	}
	if _, ok := s.User("auth0|abc"); ok {
		t.Errorf("user still stored after Delete")
	}
}
