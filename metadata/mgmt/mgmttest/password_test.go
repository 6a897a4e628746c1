package mgmttest_test

import (
	"net/url"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/rulehook/rulehook/metadata/mgmt/mgmttest"
)

func TestPasswordGrantIssuesUserTokensForTheAPI(t *testing.T) {
	const api = "https://music.example.com/api"
	s := newServer(t, mgmttest.WithAPI(api))
	mtok := accessToken(t, s)
	created := do(t, "POST", s.URL()+"/api/v2/users", map[string]any{
		"connection": "Username-Password-Authentication", "user_id": "pw", "email": "pw@example.com", "password": "s3cret-pw",
	}, mtok)
	if created.Status != 201 {
		t.Fatalf("POST /api/v2/users = %d %s; want 201", created.Status, created.Raw)
	}
	grant := func(user, pw, aud string) rawResponse {
		return do(t, "POST", s.URL()+"/oauth/token", url.Values{
			"grant_type": {"password"}, "client_id": {s.ClientID()}, "client_secret": {s.ClientSecret()},
			"username": {user}, "password": {pw}, "audience": {aud},
		}, "")
	}

	resp := grant("PW@example.com", "s3cret-pw", api)
	tok, _ := resp.Body["access_token"].(string)
	if resp.Status != 200 || tok == "" {
		t.Fatalf("password grant = %d %s; want 200 with a token", resp.Status, resp.Raw)
	}
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(tok, claims, func(*jwt.Token) (any, error) { return s.PublicKey(), nil },
		jwt.WithValidMethods([]string{"RS256"}), jwt.WithAudience(api), jwt.WithIssuer(s.Issuer()), jwt.WithExpirationRequired())
	if err != nil || claims["sub"] != "auth0|pw" {
		t.Errorf("user token: claims %v, err %v; want a valid RS256 token for sub auth0|pw", claims, err)
	}
	if got := do(t, "GET", s.URL()+"/api/v2/users/auth0%7Cpw", nil, tok); got.Status != 401 {
		t.Errorf("Management API with a user's token = %d; want 401", got.Status)
	}

	for _, tt := range []struct {
		name, user, pw, aud string
		status              int
		code                string
	}{
		{"wrong password", "pw@example.com", "nope", api, 403, "invalid_grant"},
		{"unknown user", "who@example.com", "s3cret-pw", api, 403, "invalid_grant"},
		{"other audience", "pw@example.com", "s3cret-pw", "https://other.example.com", 403, "access_denied"},
		{"no password", "pw@example.com", "", api, 400, "invalid_request"},
	} {
		if got := grant(tt.user, tt.pw, tt.aud); got.Status != tt.status || got.Body["error"] != tt.code {
			t.Errorf("%s: %d %s; want %d %s", tt.name, got.Status, got.Raw, tt.status, tt.code)
		}
	}
	if got := do(t, "POST", s.URL()+"/oauth/token", url.Values{"grant_type": {"password"}}, ""); got.Status != 401 {
		t.Errorf("password grant without client credentials = %d; want 401", got.Status)
	}
}

func TestPasswordGrantOffWithoutAnAPI(t *testing.T) {
	s := newServer(t)
	got := do(t, "POST", s.URL()+"/oauth/token", url.Values{
		"grant_type": {"password"}, "client_id": {s.ClientID()}, "client_secret": {s.ClientSecret()},
		"username": {"a@b.c"}, "password": {"x"}, "audience": {"https://music.example.com/api"},
	}, "")
	if got.Status != 403 || got.Body["error"] != "unauthorized_client" {
		t.Errorf("password grant without WithAPI = %d %s; want 403 unauthorized_client", got.Status, got.Raw)
	}
}
