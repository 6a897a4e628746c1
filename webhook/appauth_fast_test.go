package webhook

import (
	"errors"
	"fmt"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// legacyGeneric verifies raw with golang-jwt only, as appVerifier.verify did before the fast path.
func (v appVerifier) legacyGeneric(raw string) (string, error) {
	claims := new(appClaims)
	if _, err := v.legacy.ParseWithClaims(raw, claims, v.legacyKey); err != nil {
		return "", err
	}
	return claims.Subject, nil
}

func legacyClaimsJSON(extra string) string {
	return fmt.Sprintf(`{"sub":"auth0|alice","aud":%q,"iss":"https://seed.example/","iat":%d,"exp":%d%s}`,
		legacyClient, testNow.Unix(), testNow.Unix()+3600, extra)
}

func TestLegacyFastPathDecides(t *testing.T) {
	for _, issuer := range []string{"", "https://seed.example/"} {
		cfg := mustValidConfig(t)
		withLegacy(issuer)(&cfg)
		v := newAppVerifier(cfg)
		for _, tt := range []struct {
			name        string
			tok         string
			decided, ok bool
		}{
			{"the seed's token", signRaw(actionHeaderJSON, legacyClaimsJSON(""), legacySecret), true, true},
			{"iat in the future is not checked", signRaw(actionHeaderJSON, legacyClaimsJSON(`,"nbf":1`), legacySecret), true, true},
			{"wrong key", signRaw(actionHeaderJSON, legacyClaimsJSON(""), testSecret), true, false},
			{"another header", signRaw(`{"typ":"JWT","alg":"HS256"}`, legacyClaimsJSON(""), legacySecret), false, true},
			{"sub with a control character", signRaw(actionHeaderJSON, `{"sub":"a\u0001","aud":"seed-client-id","exp":9999999999}`, legacySecret), false, false},
		} {
			sub, verdict, err := v.verifyLegacyFast(tt.tok)
			if (verdict == fastDecided) != tt.decided {
				t.Errorf("issuer %q, %s: decided = %v; want %v", issuer, tt.name, verdict == fastDecided, tt.decided)
			}
			if verdict == fastDecided && (err == nil) != tt.ok {
				t.Errorf("issuer %q, %s: fast = %q, %v; want ok %v", issuer, tt.name, sub, err, tt.ok)
			}
			if got, err := v.verify(tt.tok); (err == nil) != tt.ok || (err == nil && got != "auth0|alice") {
				t.Errorf("issuer %q, %s: verify = %q, %v; want ok %v", issuer, tt.name, got, err, tt.ok)
			}
		}
	}
}

// FuzzLegacyFastPath holds the legacy fast path to golang-jwt: the same verdicts (expired or
// not) and the same caller, with and without an expected issuer.
func FuzzLegacyFastPath(f *testing.F) {
	for _, seed := range []string{
		legacyClaimsJSON(""), legacyClaimsJSON(`,"nbf":9999999999`), `{"sub":"x","aud":["a","seed-client-id"],"exp":1}`,
		`{"sub":"","aud":"seed-client-id","exp":9999999999}`, `{"SUB":"x"}`, `{"aud":null}`, `[]`,
	} {
		for mode := range uint8(4) {
			f.Add([]byte(seed), mode)
		}
	}
	verifiers := make([]appVerifier, 2)
	for i, issuer := range []string{"", "https://seed.example/"} {
		cfg := mustValidConfig(f)
		withLegacy(issuer)(&cfg)
		verifiers[i] = newAppVerifier(cfg)
	}
	keys := [][]byte{legacySecret, testSecret}
	f.Fuzz(func(t *testing.T, claims []byte, mode uint8) {
		v := verifiers[int(mode)%2]
		tok := signRaw(actionHeaderJSON, string(claims), keys[int(mode/2)%2])
		fast, verdict, fastErr := v.verifyLegacyFast(tok)
		if verdict != fastDecided {
			return
		}
		slow, slowErr := v.legacyGeneric(tok)
		if (fastErr == nil) != (slowErr == nil) || fast != slow {
			t.Fatalf("token %q: fast %q, %v; golang-jwt %q, %v", tok, fast, fastErr, slow, slowErr)
		}
		if a, b := errors.Is(fastErr, jwt.ErrTokenExpired), errors.Is(slowErr, jwt.ErrTokenExpired); a != b {
			t.Fatalf("token %q: fast expired %v, golang-jwt expired %v", tok, a, b)
		}
	})
}
