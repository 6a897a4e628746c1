package mgmt

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/rulehook/rulehook/metadata"
	"github.com/rulehook/rulehook/metadata/mgmt/mgmttest"
)

func TestClientGrantCarriesScopes(t *testing.T) {
	s := mgmttest.New(mgmttest.WithGrantedScopes("read:users", "update:users_app_metadata"))
	t.Cleanup(s.Close)
	c, err := NewClient(ClientConfig{BaseURL: s.URL(), ClientID: s.ClientID(), ClientSecret: s.ClientSecret(), Audience: s.Audience()})
	if err != nil {
		t.Fatal(err)
	}
	g, err := c.Grant(context.Background())
	if err != nil {
		t.Fatalf("Grant: %v", err)
	}
	if want := []string{"read:users", "update:users_app_metadata"}; !slices.Equal(g.Scopes, want) || g.Token == "" {
		t.Errorf("Grant = %d-byte token, scopes %v; want a token with %v", len(g.Token), g.Scopes, want)
	}
	if _, err := c.Grant(context.Background()); err != nil || s.TokenRequests() != 1 {
		t.Errorf("second Grant: %v, %d token requests; want the cached token", err, s.TokenRequests())
	}

	// A call that needs a scope the token lacks: Auth0's 403, readable through StatusOf.
	opts, err := c.Options(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.API.Actions.List(context.Background(), nil, opts...)
	if status, _ := StatusOf(err); status != http.StatusForbidden {
		t.Errorf("Actions.List without read:actions: status %d (%v); want 403", status, err)
	}
}

func TestClientTokenRefused(t *testing.T) {
	s := mgmttest.New()
	t.Cleanup(s.Close)
	c, err := NewClient(ClientConfig{BaseURL: s.URL(), ClientID: s.ClientID(), ClientSecret: "wrong", Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Grant(context.Background())
	if status, _ := StatusOf(err); status != http.StatusUnauthorized || !errors.Is(err, metadata.ErrUnavailable) {
		t.Errorf("Grant with a wrong secret: status %d, %v; want 401 wrapping ErrUnavailable", status, err)
	}
	if _, err := NewClient(ClientConfig{BaseURL: "http://example.com"}); !errors.Is(err, metadata.ErrInvalid) {
		t.Errorf("NewClient(non-loopback http, no credentials) = %v; want ErrInvalid", err)
	}
}

func TestGrantScopesFromTheClaimWhenTheAnswerHasNone(t *testing.T) {
	payload := base64.RawURLEncoding.EncodeToString([]byte(`{"scope":"read:users update:users"}`))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":"e30.%s.sig","expires_in":60,"token_type":"Bearer"}`, payload)
	}))
	t.Cleanup(srv.Close)
	c, err := NewClient(ClientConfig{BaseURL: srv.URL, ClientID: "id", ClientSecret: "secret"})
	if err != nil {
		t.Fatal(err)
	}
	g, err := c.Grant(context.Background())
	if want := []string{"read:users", "update:users"}; err != nil || !slices.Equal(g.Scopes, want) {
		t.Errorf("Grant = %v, %v; want the claim's scopes %v", g.Scopes, err, want)
	}
}
