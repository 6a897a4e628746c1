package mgmttest_test

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/rulehook/rulehook/metadata/mgmt/mgmttest"
)

// scopeClaim reads the scope claim of a JWT without verifying it (the tenant did, on every call).
func scopeClaim(t *testing.T, token string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts; want 3", len(parts))
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		Scope string `json:"scope"`
	}
	if err := json.Unmarshal(raw, &claims); err != nil {
		t.Fatal(err)
	}
	return claims.Scope
}

func TestTokenCarriesTheGrantedScopes(t *testing.T) {
	s := newServer(t, mgmttest.WithGrantedScopes("read:users", "update:users"),
		mgmttest.WithClient("reader", "reader-secret", "read:users"))
	tests := []struct{ id, secret, want string }{
		{s.ClientID(), s.ClientSecret(), "read:users update:users"},
		{"reader", "reader-secret", "read:users"},
	}
	for _, tt := range tests {
		tok, scope := tokenFor(t, s, tt.id, tt.secret)
		if scope != tt.want {
			t.Errorf("token answer scope for %s = %q; want %q", tt.id, scope, tt.want)
		}
		if got := scopeClaim(t, tok); got != tt.want {
			t.Errorf("scope claim for %s = %q; want %q", tt.id, got, tt.want)
		}
	}
	if resp := do(t, "POST", s.URL()+"/oauth/token", url.Values{
		"grant_type": {"client_credentials"}, "client_id": {"reader"},
		"client_secret": {s.ClientSecret()}, "audience": {s.Audience()},
	}, ""); resp.Status != 401 {
		t.Errorf("another client's secret: %d; want 401", resp.Status)
	}
}

func TestDefaultClientHasAllScopes(t *testing.T) {
	s := newServer(t)
	_, scope := tokenFor(t, s, s.ClientID(), s.ClientSecret())
	if got, want := scope, strings.Join(mgmttest.AllScopes, " "); got != want {
		t.Errorf("default scope = %q; want %q", got, want)
	}
}

func TestInsufficientScopeAnswers403(t *testing.T) {
	s := newServer(t,
		mgmttest.WithClient("reader", "r-secret", "read:users"),
		mgmttest.WithClient("metadata", "m-secret", "read:users", "update:users_app_metadata"))
	s.PutUser(mgmttest.User{ID: "auth0|1", Email: "one@example.com"})
	reader, _ := tokenFor(t, s, "reader", "r-secret")
	meta, _ := tokenFor(t, s, "metadata", "m-secret")
	user := s.URL() + "/api/v2/users/auth0%7C1"
	tests := []struct {
		name, method, url, token string
		body                     any
		wantStatus               int
		wantMessage              string
	}{
		{"read with read:users", "GET", user, reader, nil, 200, ""},
		{"patch without update scopes", "PATCH", user, reader, map[string]any{"app_metadata": map[string]any{"roles": []string{"a"}}},
			403, "Insufficient scope, expected any of: update:users, update:users_app_metadata"},
		{"patch metadata with update:users_app_metadata", "PATCH", user, meta,
			map[string]any{"app_metadata": map[string]any{"roles": []string{"a"}}, "user_metadata": map[string]any{"displayName": "x"}}, 200, ""},
		{"patch email with update:users_app_metadata", "PATCH", user, meta, map[string]any{"email": "new@example.com"},
			403, "Insufficient scope, expected any of: update:users"},
		{"list actions", "GET", s.URL() + "/api/v2/actions/actions", reader, nil, 403, "Insufficient scope, expected any of: read:actions"},
		{"create action", "POST", s.URL() + "/api/v2/actions/actions", reader, map[string]any{"name": "x"},
			403, "Insufficient scope, expected any of: create:actions"},
		{"bindings", "GET", s.URL() + "/api/v2/actions/triggers/post-login/bindings", meta, nil, 403, "Insufficient scope, expected any of: read:actions"},
		{"update bindings", "PATCH", s.URL() + "/api/v2/actions/triggers/post-login/bindings", meta, map[string]any{"bindings": []any{}},
			403, "Insufficient scope, expected any of: update:actions"},
		{"delete action", "DELETE", s.URL() + "/api/v2/actions/actions/act_1", reader, nil, 403, "Insufficient scope, expected any of: delete:actions"},
		{"deploy version", "POST", s.URL() + "/api/v2/actions/actions/act_1/versions/v_1/deploy", meta, nil,
			403, "Insufficient scope, expected any of: create:actions"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := do(t, tt.method, tt.url, tt.body, tt.token)
			if resp.Status != tt.wantStatus {
				t.Fatalf("%s %s = %d %s; want %d", tt.method, tt.url, resp.Status, resp.Raw, tt.wantStatus)
			}
			if tt.wantStatus != 403 {
				return
			}
			want := map[string]any{"statusCode": float64(403), "error": "Forbidden", "message": tt.wantMessage, "errorCode": "insufficient_scope"}
			if len(resp.Body) != len(want) {
				t.Errorf("body = %s; want exactly %v", resp.Raw, want)
			}
			for k, v := range want {
				if resp.Body[k] != v {
					t.Errorf("body[%q] = %v; want %v", k, resp.Body[k], v)
				}
			}
		})
	}
	if u, _ := s.User("auth0|1"); u.Email != "one@example.com" {
		t.Errorf("email = %q after refused PATCH; want it unchanged", u.Email)
	}
}
