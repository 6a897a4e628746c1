package harness

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// fakeRulehook verifies every callout the way CONTRACT.md says rulehook must (golang-jwt, HS256
// only, iss, aud, exp required and at most 300 s after iat, 30 s leeway, bsh over the exact body,
// sub = user.user_id, fresh jti) and answers with decide's decision.
type fakeRulehook struct {
	*httptest.Server
	issuer string
	decide func(body calloutBody) any

	mu       sync.Mutex
	rejected []string // why callouts were rejected
	jtis     map[string]bool
	bodies   []calloutBody
}

// calloutBody is what the Action sends (CONTRACT.md): the user, as Login.User describes it, and
// three flat objects of strings (transaction.id; client.client_id and name; request.ip and
// user_agent).
type calloutBody struct {
	User        User              `json:"user"`
	Transaction map[string]string `json:"transaction"`
	Client      map[string]string `json:"client"`
	Request     map[string]string `json:"request"`
}

func newFakeRulehook(t *testing.T, decide func(calloutBody) any) *fakeRulehook {
	t.Helper()
	f := &fakeRulehook{issuer: "https://" + testDomain + "/", decide: decide, jtis: map[string]bool{}}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeRulehook) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		f.reject(w, "read body: %v", err)
		return
	}
	if r.Method != http.MethodPost || r.URL.Path != "/v1/post-login" {
		f.reject(w, "%s %s; want POST /v1/post-login", r.Method, r.URL.Path)
		return
	}
	raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		f.reject(w, "no bearer token")
		return
	}
	parser := jwt.NewParser(
		jwt.WithValidMethods([]string{"HS256"}),
		jwt.WithIssuer(f.issuer),
		jwt.WithAudience(f.URL),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(30*time.Second),
	)
	claims := jwt.MapClaims{}
	tok, err := parser.ParseWithClaims(raw, claims, func(*jwt.Token) (any, error) { return []byte(testSecret), nil })
	if err != nil {
		f.reject(w, "token: %v", err)
		return
	}
	if got := tok.Header["typ"]; got != "JWT" {
		f.reject(w, "typ = %v; want JWT", got)
		return
	}
	iat, _ := claims.GetIssuedAt()
	exp, _ := claims.GetExpirationTime()
	if iat == nil || exp.Sub(iat.Time) > 300*time.Second {
		f.reject(w, "iat %v, exp %v; want exp at most 300 s after iat", iat, exp)
		return
	}
	sum := sha256.Sum256(body)
	if got, want := claims["bsh"], base64.RawURLEncoding.EncodeToString(sum[:]); got != want {
		f.reject(w, "bsh = %v; want %v", got, want)
		return
	}
	var top map[string]json.RawMessage
	var cb calloutBody
	if err := json.Unmarshal(body, &top); err != nil {
		f.reject(w, "body: %v", err)
		return
	}
	if keys := sortedKeys(top); !slices.Equal(keys, []string{"client", "request", "transaction", "user"}) {
		f.reject(w, "body keys = %v; want client, request, transaction, user", keys)
		return
	}
	if err := json.Unmarshal(body, &cb); err != nil {
		f.reject(w, "body: %v", err)
		return
	}
	if sub, _ := claims.GetSubject(); sub != cb.User.ID || sub == "" {
		f.reject(w, "sub = %q; want user_id %q", sub, cb.User.ID)
		return
	}
	jti, _ := claims["jti"].(string)
	f.mu.Lock()
	seen := f.jtis[jti]
	f.jtis[jti] = true
	f.bodies = append(f.bodies, cb)
	f.mu.Unlock()
	if jti == "" || seen {
		f.reject(w, "jti %q empty or reused", jti)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(f.decide(cb))
}

func (f *fakeRulehook) reject(w http.ResponseWriter, format string, args ...any) {
	f.mu.Lock()
	f.rejected = append(f.rejected, fmt.Sprintf(format, args...))
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusUnauthorized)
	io.WriteString(w, `{"error":"unauthorized","message":"invalid callout token"}`)
}

func (f *fakeRulehook) Rejected() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.rejected)
}

// decideByPlays is a CONTRACT-shaped decision: playlist_editor at >= 100 plays, other roles kept,
// displayName defaulted, the changes returned for writeMode ("rulehook" or "action").
func decideByPlays(plays map[string]int, writeMode string) func(calloutBody) any {
	return func(b calloutBody) any {
		n := plays[b.User.ID]
		var roles []string
		had := false
		if list, ok := b.User.AppMetadata["roles"].([]any); ok {
			for _, r := range list {
				if s, ok := r.(string); ok {
					if s == "playlist_editor" {
						had = true
						continue
					}
					roles = append(roles, s)
				}
			}
		}
		if n >= 100 {
			roles = append(roles, "playlist_editor")
		}
		if roles == nil {
			roles = []string{}
		}
		app, user := map[string]any{}, map[string]any{}
		if had != (n >= 100) {
			app["roles"] = roles
		}
		if dn, _ := b.User.UserMetadata["displayName"].(string); dn == "" {
			user["displayName"] = "user"
		}
		writer := "none"
		if len(app)+len(user) > 0 {
			writer = writeMode
		}
		return map[string]any{
			"user_id": b.User.ID, "plays": n, "roles": roles,
			"app_metadata": app, "user_metadata": user, "written_by": writer, "degraded": []string{},
		}
	}
}

func sortedKeys(m map[string]json.RawMessage) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
