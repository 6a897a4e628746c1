package webhook

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestLegacySecretMustDifferFromCalloutSecret: with the same key a callout token (HS256) would be
// accepted as a legacy app token.
func TestLegacySecretMustDifferFromCalloutSecret(t *testing.T) {
	deps, _, _ := fakeDeps()
	for i := range 2 {
		cfg := testConfig()
		cfg.CalloutSecrets = [][]byte{[]byte(strings.Repeat("c", 32)), []byte(strings.Repeat("p", 32))}
		cfg.LegacySecret, cfg.LegacyAudience = cfg.CalloutSecrets[i], "client"
		if _, err := New(cfg, deps); err == nil || !strings.Contains(err.Error(), "legacy secret: equal to a callout secret") {
			t.Errorf("New(legacy secret = callout secret %d) err = %v; want it refused", i, err)
		}
	}
}

// TestTextAnswersAreNosniff: every plain-text answer carries X-Content-Type-Options: nosniff, so
// that a genre holding markup is never sniffed as HTML.
func TestTextAnswersAreNosniff(t *testing.T) {
	e := newAppEnv(t, nil)
	if rec := e.do("PUT", "/genres/fav", e.token(alice), `{"genre":"<b>jazz</b>"}`); rec.Code != 200 {
		t.Fatalf("PUT /genres/fav = %d %s", rec.Code, rec.Body)
	}
	for _, path := range []string{"/genres/getFav", "/playlists/getPlays"} {
		rec := e.do("GET", path, e.token(alice), "")
		if rec.Code != 200 || rec.Header().Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s = %d, X-Content-Type-Options %q; want 200 nosniff", path, rec.Code, rec.Header().Get("X-Content-Type-Options"))
		}
	}
	rec := httptest.NewRecorder()
	e.srv.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	if rec.Header().Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("GET /healthz X-Content-Type-Options = %q; want nosniff", rec.Header().Get("X-Content-Type-Options"))
	}
}
