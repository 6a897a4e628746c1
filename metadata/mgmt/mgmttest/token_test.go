package mgmttest_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/rulehook/rulehook/metadata/mgmt/mgmttest"
)

func TestGoAuth0FetchesOneTokenForManyCalls(t *testing.T) {
	s := newServerWithUser(t)
	m := newClient(t, s, 2*time.Second)
	ctx := context.Background()
	for i := range 5 {
		if _, err := m.Users.Get(ctx, "auth0|1", nil); err != nil {
			t.Fatalf("Users.Get #%d: %v", i, err)
		}
	}
	if got, want := s.TokenRequests(), 1; got != want {
		t.Errorf("token requests = %d; want %d", got, want)
	}
	if got, want := s.Count(http.MethodGet, "/api/v2/users/auth0|1"), 5; got != want {
		t.Errorf("GET user requests = %d; want %d", got, want)
	}
	for _, r := range s.Requests() {
		if r.Path == "/oauth/token" && (r.Status != 200 || !strings.Contains(r.Body, "audience=")) {
			t.Errorf("token request = %+v; want 200 with an audience", r)
		}
	}
}

func TestTokenEndpoint(t *testing.T) {
	s := newServer(t, mgmttest.WithTokenTTL(90*time.Minute), mgmttest.WithClientCredentials("cid", "s3cret"))
	good := url.Values{"grant_type": {"client_credentials"}, "client_id": {"cid"}, "client_secret": {"s3cret"},
		"audience": {s.Audience()}}
	with := func(k, v string) url.Values {
		out := url.Values{}
		for key, vals := range good {
			out[key] = vals
		}
		if v == "" {
			out.Del(k)
		} else {
			out.Set(k, v)
		}
		return out
	}
	tests := []struct {
		name      string
		body      any
		wantCode  int
		wantError string
	}{
		{"form", good, 200, ""},
		{"json", map[string]string{"grant_type": "client_credentials", "client_id": "cid", "client_secret": "s3cret",
			"audience": s.Audience()}, 200, ""},
		{"audience of the emulator URL", with("audience", s.URL()+"/api/v2/"), 200, ""},
		{"wrong secret", with("client_secret", "nope"), 401, "access_denied"},
		{"unknown client", with("client_id", "other"), 401, "access_denied"},
		{"no audience", with("audience", ""), 403, "access_denied"},
		{"other audience", with("audience", "https://api.example.com/"), 403, "access_denied"},
		{"other grant", with("grant_type", "password"), 403, "unauthorized_client"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := do(t, "POST", s.URL()+"/oauth/token", tc.body, "")
			if resp.Status != tc.wantCode {
				t.Fatalf("status = %d (%s); want %d", resp.Status, resp.Raw, tc.wantCode)
			}
			if tc.wantError != "" {
				if got := resp.Body["error"]; got != tc.wantError {
					t.Errorf("error = %v; want %q", got, tc.wantError)
				}
				return
			}
			if got, want := resp.Body["expires_in"], float64(5400); got != want {
				t.Errorf("expires_in = %v; want %v", got, want)
			}
			if got, want := resp.Body["token_type"], "Bearer"; got != want {
				t.Errorf("token_type = %v; want %v", got, want)
			}
		})
	}
	for _, r := range s.Requests() {
		if strings.Contains(r.Body, "s3cret") {
			t.Errorf("request log holds the client secret: %q", r.Body)
		}
	}
}

func TestTokenWithBasicAuth(t *testing.T) {
	s := newServer(t, mgmttest.WithClientCredentials("id:with/odd chars", "se+cret"))
	req, _ := http.NewRequest("POST", s.URL()+"/oauth/token",
		strings.NewReader(url.Values{"grant_type": {"client_credentials"}, "audience": {s.Audience()}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape("id:with/odd chars"), url.QueryEscape("se+cret"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got, want := resp.StatusCode, 200; got != want {
		t.Errorf("POST /oauth/token with Basic auth = %d; want %d", got, want)
	}
}

func TestAPIAcceptsOnlyLiveTokensItIssued(t *testing.T) {
	s := newServerWithUser(t)
	u := s.URL() + "/api/v2/users/auth0%7C1"
	tok := accessToken(t, s)
	if got := do(t, "GET", u, nil, tok); got.Status != 200 {
		t.Fatalf("GET with an issued token = %d %s; want 200", got.Status, got.Raw)
	}
	minted := s.Mint(map[string]any{"aud": s.Audience(), "gty": "client-credentials", "jti": "x"})
	tests := []struct {
		name, token, wantMessage string
	}{
		{"no token", "", "Missing authentication"},
		{"not issued by /oauth/token", minted, "Invalid token"},
		{"garbage", "abc.def.ghi", "Invalid token"},
	}
	for _, tc := range tests {
		got := do(t, "GET", u, nil, tc.token)
		if got.Status != 401 || got.Body["message"] != tc.wantMessage || got.Body["statusCode"] != float64(401) {
			t.Errorf("%s: GET = %d %s; want 401 %q", tc.name, got.Status, got.Raw, tc.wantMessage)
		}
	}
	s.RevokeTokens()
	if got := do(t, "GET", u, nil, tok); got.Status != 401 {
		t.Errorf("GET with a revoked token = %d; want 401", got.Status)
	}
}

func TestAPIRejectsExpiredToken(t *testing.T) {
	s := newServerWithUser(t, mgmttest.WithTokenTTL(-time.Minute))
	got := do(t, "GET", s.URL()+"/api/v2/users/auth0%7C1", nil, accessToken(t, s))
	if got.Status != 401 || got.Body["message"] != "Expired token received for JSON Web Token validation" {
		t.Errorf("GET with an expired token = %d %s; want 401 expired", got.Status, got.Raw)
	}
}
