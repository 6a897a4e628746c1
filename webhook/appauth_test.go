package webhook

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/rulehook/rulehook/metadata/mgmt/mgmttest"
)

// The seed's own app: its legacy HS256 tokens are signed with the client secret for the client id.
const legacyClient = "seed-client-id"

var legacySecret = []byte("seed-client-secret-seed-client-secret-0123")

func legacyToken(t *testing.T, claims jwt.MapClaims) string {
	t.Helper()
	base := jwt.MapClaims{"sub": alice, "aud": legacyClient, "iss": "https://example.auth0.com", "exp": time.Now().Add(time.Hour).Unix()}
	for k, v := range claims {
		if v == nil {
			delete(base, k)
			continue
		}
		base[k] = v
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, base).SignedString(legacySecret)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func withLegacy(issuer string) func(*Config) {
	return func(c *Config) { c.LegacySecret, c.LegacyAudience, c.LegacyIssuer = legacySecret, legacyClient, issuer }
}

func TestAppAuth(t *testing.T) {
	type tokenFunc func(t *testing.T, e *appEnv) string
	tests := []struct {
		name   string
		mutate func(*Config)
		token  tokenFunc
		want   int
	}{
		{"valid RS256", nil, func(t *testing.T, e *appEnv) string { return e.token(alice) }, 200},
		{"audience as a string", nil, func(t *testing.T, e *appEnv) string {
			return e.tenant.Mint(map[string]any{"sub": alice, "aud": apiAudience})
		}, 200},
		{"no token", nil, func(t *testing.T, e *appEnv) string { return "" }, 401},
		{"alg none", nil, func(t *testing.T, e *appEnv) string { return e.token(alice, mgmttest.WithAlgNone()) }, 401},
		{"HS256 keyed with the RSA public key", nil, func(t *testing.T, e *appEnv) string {
			return e.token(alice, mgmttest.WithHS256PublicKey())
		}, 401},
		{"HS256 keyed with the RSA public key, legacy on", withLegacy(""), func(t *testing.T, e *appEnv) string {
			return e.token(alice, mgmttest.WithHS256PublicKey())
		}, 401},
		{"foreign key under the tenant's kid", nil, func(t *testing.T, e *appEnv) string { return e.token(alice, mgmttest.WithForeignKey()) }, 401},
		{"unknown kid", nil, func(t *testing.T, e *appEnv) string { return e.token(alice, mgmttest.WithKeyID("not-a-known-kid")) }, 401},
		{"no kid", nil, func(t *testing.T, e *appEnv) string { return e.token(alice, mgmttest.WithKeyID("")) }, 401},
		{"expired", nil, func(t *testing.T, e *appEnv) string {
			return e.tenant.Mint(map[string]any{"sub": alice, "aud": apiAudience,
				"iat": time.Now().Add(-2 * time.Hour).Unix(), "exp": time.Now().Add(-time.Minute).Unix()})
		}, 401},
		{"no exp", nil, func(t *testing.T, e *appEnv) string {
			return e.tenant.Mint(map[string]any{"sub": alice, "aud": apiAudience, "exp": nil})
		}, 401},
		{"wrong issuer", nil, func(t *testing.T, e *appEnv) string {
			return e.tenant.Mint(map[string]any{"sub": alice, "aud": apiAudience, "iss": "https://evil.example/"})
		}, 401},
		{"wrong audience", nil, func(t *testing.T, e *appEnv) string {
			return e.tenant.Mint(map[string]any{"sub": alice, "aud": e.tenant.Audience()})
		}, 401},
		{"no sub", nil, func(t *testing.T, e *appEnv) string { return e.tenant.Mint(map[string]any{"aud": apiAudience}) }, 401},
		{"a callout token", nil, func(t *testing.T, e *appEnv) string {
			return newCallout(t, alice, []byte("{}")).token(t)
		}, 401},
		{"legacy HS256, legacy off", nil, func(t *testing.T, e *appEnv) string { return legacyToken(t, nil) }, 401},
		{"legacy HS256, legacy on", withLegacy(""), func(t *testing.T, e *appEnv) string { return legacyToken(t, nil) }, 200},
		{"legacy HS256, issuer checked when set", withLegacy("https://example.auth0.com"), func(t *testing.T, e *appEnv) string {
			return legacyToken(t, nil)
		}, 200},
		{"legacy HS256, wrong issuer when set", withLegacy("https://other.auth0.com"), func(t *testing.T, e *appEnv) string {
			return legacyToken(t, nil)
		}, 401},
		{"legacy HS256, wrong audience", withLegacy(""), func(t *testing.T, e *appEnv) string {
			return legacyToken(t, jwt.MapClaims{"aud": "another-client"})
		}, 401},
		{"legacy HS256, no exp", withLegacy(""), func(t *testing.T, e *appEnv) string {
			return legacyToken(t, jwt.MapClaims{"exp": nil})
		}, 401},
		{"legacy HS256, wrong secret", withLegacy(""), func(t *testing.T, e *appEnv) string {
			tok, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": alice, "aud": legacyClient,
				"exp": time.Now().Add(time.Hour).Unix()}).SignedString([]byte("not-the-client-secret-not-the-client-secret"))
			return tok
		}, 401},
		{"RS256 with only legacy on", func(c *Config) {
			withLegacy("")(c)
			c.APIKeyfunc = nil
		}, func(t *testing.T, e *appEnv) string { return e.token(alice) }, 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newAppEnv(t, tt.mutate)
			e.store.plays[alice] = 120
			rec := e.do(http.MethodGet, "/playlists/getPlays", tt.token(t, e), "")
			if rec.Code != tt.want {
				t.Fatalf("GET /playlists/getPlays = %d; want %d (%s)", rec.Code, tt.want, rec.Body)
			}
			if tt.want == http.StatusOK {
				if got := rec.Body.String(); got != "120" {
					t.Errorf("body = %q; want %q", got, "120")
				}
				return
			}
			if got := rec.Header().Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
				t.Errorf("WWW-Authenticate = %q; want a Bearer challenge", got)
			}
			errorOf(t, rec)
			if e.store.calls != 0 {
				t.Errorf("store calls = %d; want 0", e.store.calls)
			}
		})
	}
}

// TestAppAuthUnknownKIDFlood: a flood of tokens with made-up kids costs at most one JWKS fetch.
func TestAppAuthUnknownKIDFlood(t *testing.T) {
	e := newAppEnv(t, nil)
	before := e.tenant.Count(http.MethodGet, "/.well-known/jwks.json")
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rec := e.do(http.MethodGet, "/playlists/getPlays", e.token(alice, mgmttest.WithKeyID(fmt.Sprintf("kid-%d", i))), "")
			if rec.Code != http.StatusUnauthorized {
				t.Errorf("unknown kid %d: status = %d; want 401", i, rec.Code)
			}
		}()
	}
	wg.Wait()
	if got := e.tenant.Count(http.MethodGet, "/.well-known/jwks.json") - before; got > 1 {
		t.Errorf("JWKS fetches for 50 unknown kids = %d; want at most 1", got)
	}
	if rec := e.do(http.MethodGet, "/playlists/getPlays", e.token(alice), ""); rec.Code != http.StatusOK {
		t.Errorf("known kid after the flood: status = %d; want 200", rec.Code)
	}
}
