package webhook

import (
	"errors"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

func TestNewValidatesEverything(t *testing.T) {
	_, err := New(Config{MaxBodyBytes: -1, CalloutSecrets: [][]byte{[]byte("short")}, APIKeyfunc: nilKeyfunc,
		LegacySecret: []byte("x")}, Deps{})
	if err == nil {
		t.Fatal("New(zero) = nil error; want every problem listed")
	}
	for _, want := range []string{
		"policy", "write mode", "callout secret 0", "callout audience", "callout issuer", "max body bytes",
		"api audience", "api issuer", "legacy secret", "legacy audience", "Logins", "Plays", "App", "Pinger",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("New error lacks %q:\n%v", want, err)
		}
	}

	deps, _, _ := fakeDeps()
	deps.Writer, deps.Users = nil, nil
	if _, err := New(testConfig(), deps); err == nil || !strings.Contains(err.Error(), "Writer is required") {
		t.Errorf("management mode without a Writer: err = %v; want Writer is required", err)
	}
}

func nilKeyfunc(*jwt.Token) (any, error) { return nil, errors.New("no key") }

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
