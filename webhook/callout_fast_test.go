package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// signRaw builds a token from a header and claims as written, signed with key.
func signRaw(header, claims string, key []byte) string {
	enc := base64.RawURLEncoding
	input := enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(claims))
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(input))
	return input + "." + enc.EncodeToString(mac.Sum(nil))
}

const actionHeaderJSON = `{"alg":"HS256","typ":"JWT"}`

// validClaimsJSON are the claims the Action sends, valid at testNow.
func validClaimsJSON(extra string) string {
	return fmt.Sprintf(`{"iss":%q,"aud":%q,"sub":"auth0|alice","iat":%d,"exp":%d,"jti":"j-1","bsh":"%s"%s}`,
		testIssuer, testAudience, testNow.Unix(), testNow.Unix()+60, strings.Repeat("A", 43), extra)
}

func TestActionHeaderIsTheActionsHeader(t *testing.T) {
	if got, want := actionHeader, base64.RawURLEncoding.EncodeToString([]byte(actionHeaderJSON)); got != want {
		t.Errorf("actionHeader = %q; want %q", got, want)
	}
}

// TestCalloutFastPathDecides checks which tokens the fast path decides itself and that each
// verdict is golang-jwt's.
func TestCalloutFastPathDecides(t *testing.T) {
	v := newCalloutVerifier(mustValidConfig(t))
	tests := []struct {
		name    string
		token   string
		decided bool
		ok      bool
	}{
		{"the Action's token", signRaw(actionHeaderJSON, validClaimsJSON(""), testSecret), true, true},
		{"previous secret", signRaw(actionHeaderJSON, validClaimsJSON(""), testPrevSecret), true, true},
		{"unknown key", signRaw(actionHeaderJSON, validClaimsJSON(""), []byte("x-0123456789abcdef0123456789abcdef")), true, false},
		{"extra claim", signRaw(actionHeaderJSON, validClaimsJSON(`,"nonce":[1,{"a":"b"}]`), testSecret), true, true},
		{"another header goes to golang-jwt", signRaw(`{"alg":"HS256","typ":"JWT","kid":"k"}`, validClaimsJSON(""), testSecret), false, true},
		{"crit header", signRaw(`{"alg":"HS256","typ":"JWT","crit":["exp"]}`, validClaimsJSON(""), testSecret), false, false},
		{"case-folded claim goes to golang-jwt", signRaw(actionHeaderJSON, strings.Replace(validClaimsJSON(""), `"jti"`, `"JTI"`, 1), testSecret), false, true},
		{"duplicate claim goes to golang-jwt", signRaw(actionHeaderJSON, validClaimsJSON(`,"sub":"auth0|bob"`), testSecret), false, true},
		{"fractional time goes to golang-jwt", signRaw(actionHeaderJSON, validClaimsJSON(`,"nbf":1.5`), testSecret), false, true},
		{"aud list", signRaw(actionHeaderJSON, strings.Replace(validClaimsJSON(""), fmt.Sprintf("%q", testAudience), fmt.Sprintf(`["x",%q]`, testAudience), 1), testSecret), true, true},
		{"claims not JSON", signRaw(actionHeaderJSON, `{"iss":`, testSecret), true, false},
		{"expired", signRaw(actionHeaderJSON, strings.Replace(validClaimsJSON(""), fmt.Sprint(testNow.Unix()+60), fmt.Sprint(testNow.Unix()-31), 1), testSecret), true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, verdict, fastErr := v.verifyFast(tt.token)
			if got := verdict == fastDecided; got != tt.decided {
				t.Errorf("decided = %v; want %v", got, tt.decided)
			}
			if verdict == fastDecided && (fastErr == nil) != tt.ok {
				t.Errorf("fast error = %v; want ok %v", fastErr, tt.ok)
			}
			_, err := v.verifyGeneric(tt.token)
			if (err == nil) != tt.ok {
				t.Errorf("golang-jwt error = %v; want ok %v", err, tt.ok)
			}
			if tt.name == "crit header" && !errors.Is(err, errCrit) {
				t.Errorf("golang-jwt error = %v; want %v", err, errCrit)
			}
		})
	}
}

func TestCalloutRejectsCritHeader(t *testing.T) {
	deps, store, _ := fakeDeps()
	s := newServer(t, testConfig(), deps)
	body := eventBody(t, alice, nil, nil)
	co := newCallout(t, alice, body)
	claims := fmt.Sprintf(`{"iss":%q,"aud":%q,"sub":%q,"iat":%d,"exp":%d,"jti":"crit-1","bsh":%q}`,
		testIssuer, testAudience, alice, testNow.Unix(), testNow.Unix()+60, bodyHash(body))
	req := co.request(t)
	req.Header.Set("Authorization", "Bearer "+signRaw(`{"alg":"HS256","crit":["bsh"],"bsh":1}`, claims, testSecret))
	rec := serve(s.Handler(), req)
	if rec.Code != http.StatusUnauthorized {
		t.Fatalf("status = %d; want 401 (%s)", rec.Code, rec.Body)
	}
	if store.calls != 0 {
		t.Errorf("store calls = %d; want 0", store.calls)
	}
}

func mustValidConfig(t testing.TB) Config {
	t.Helper()
	cfg := testConfig()
	deps, _, _ := fakeDeps()
	if err := cfg.validate(deps); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// FuzzCalloutFastPath holds the fast path to golang-jwt: for every token both accept with the
// same claims, or both reject for the same class of reason (expired or not). The fuzzer writes
// the claims and picks the header, the key and a change to the token text.
func FuzzCalloutFastPath(f *testing.F) {
	for _, seed := range []string{
		validClaimsJSON(""), validClaimsJSON(`,"nbf":0`), validClaimsJSON(`,"x":{"y":[true,null]}`),
		`{"iss":"https://rulehook-dev.local/","aud":["https://rulehook.example.com",""],"sub":"s","iat":1777636800,"exp":1777636860,"jti":"j","bsh":"b"}`,
		`{"Iss":"a"}`, `{"exp":1e3}`, `{"aud":null}`, `{"sub":"\u00e9"}`, `[]`, `null`, `{"exp":-1}`,
		`{"iss":"https://rulehook-dev.local/","aud":"https://rulehook.example.com","sub":"s","iat":1777636800,"exp":1777637101,"jti":"j","bsh":"b"}`,
	} {
		for mode := range uint8(6) {
			f.Add([]byte(seed), mode, "")
		}
	}
	f.Add([]byte(validClaimsJSON("")), uint8(0), "\n")
	f.Add([]byte(validClaimsJSON("")), uint8(0), "A")
	v := newCalloutVerifier(mustValidConfig(f))
	headers := []string{actionHeaderJSON, `{"typ":"JWT","alg":"HS256"}`, `{"alg":"HS256","crit":["x"]}`}
	keys := [][]byte{testSecret, testPrevSecret, []byte("some-other-key-0123456789abcdef0123")}
	f.Fuzz(func(t *testing.T, claims []byte, mode uint8, mangle string) {
		tok := signRaw(headers[int(mode)%len(headers)], string(claims), keys[int(mode/3)%len(keys)])
		if mangle != "" {
			at := int(mode) % (len(tok) + 1)
			tok = tok[:at] + mangle + tok[at:]
		}
		fast, verdict, fastErr := v.verifyFast(tok)
		if verdict != fastDecided {
			return
		}
		slow, slowErr := v.verifyGeneric(tok)
		if (fastErr == nil) != (slowErr == nil) {
			t.Fatalf("token %q: fast error %v, golang-jwt error %v", tok, fastErr, slowErr)
		}
		if fastErr != nil {
			if a, b := errors.Is(fastErr, jwt.ErrTokenExpired), errors.Is(slowErr, jwt.ErrTokenExpired); a != b {
				t.Fatalf("token %q: fast expired %v (%v), golang-jwt expired %v (%v)", tok, a, fastErr, b, slowErr)
			}
			return
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("token %q: fast claims %+v; golang-jwt claims %+v", tok, fast, slow)
		}
	})
}
