package webhook

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/rulehook/rulehook/metadata"
	"github.com/rulehook/rulehook/metadata/testkit"
)

// TestCalloutRejections covers every rejection of CONTRACT.md: its status, and no side effect
// (the jti is not claimed, Redis is not asked, nothing is written).
func TestCalloutRejections(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	valid := eventBody(t, alice, map[string]any{"roles": []any{"admin"}}, nil)
	tests := []struct {
		name   string
		mutate func(co *callout, req *http.Request)
		status int
		code   string
	}{
		{"no authorization", func(co *callout, r *http.Request) { r.Header.Del("Authorization") }, 401, "missing_token"},
		{"basic scheme", func(co *callout, r *http.Request) { r.Header.Set("Authorization", "Basic YTpi") }, 401, "missing_token"},
		{"bearer without token", func(co *callout, r *http.Request) { r.Header.Set("Authorization", "Bearer  ") }, 401, "missing_token"},
		{"garbage token", func(co *callout, r *http.Request) { r.Header.Set("Authorization", "Bearer a.b.c") }, 401, "invalid_token"},
		{"alg none", func(co *callout, r *http.Request) {
			claims := jwt.MapClaims{}
			for k, v := range co.claims {
				claims[k] = v
			}
			claims["bsh"] = bodyHash(co.body)
			tok, err := jwt.NewWithClaims(jwt.SigningMethodNone, claims).SignedString(jwt.UnsafeAllowNoneSignatureType)
			if err != nil {
				t.Fatal(err)
			}
			r.Header.Set("Authorization", "Bearer "+tok)
		}, 401, "invalid_token"},
		{"HS384", func(co *callout, r *http.Request) { co.alg = jwt.SigningMethodHS384; resign(t, co, r) }, 401, "invalid_token"},
		{"HS512", func(co *callout, r *http.Request) { co.alg = jwt.SigningMethodHS512; resign(t, co, r) }, 401, "invalid_token"},
		{"RS256", func(co *callout, r *http.Request) {
			claims := jwt.MapClaims{}
			for k, v := range co.claims {
				claims[k] = v
			}
			claims["bsh"] = bodyHash(co.body)
			tok, err := jwt.NewWithClaims(jwt.SigningMethodRS256, claims).SignedString(rsaKey)
			if err != nil {
				t.Fatal(err)
			}
			r.Header.Set("Authorization", "Bearer "+tok)
		}, 401, "invalid_token"},
		{"unknown secret", func(co *callout, r *http.Request) {
			co.secret = []byte("another-secret-another-secret-another-secret")
			resign(t, co, r)
		}, 401, "invalid_token"},
		{"wrong issuer", func(co *callout, r *http.Request) { co.claims["iss"] = "https://evil.example/"; resign(t, co, r) }, 401, "invalid_token"},
		{"no issuer", func(co *callout, r *http.Request) { delete(co.claims, "iss"); resign(t, co, r) }, 401, "invalid_token"},
		{"wrong audience", func(co *callout, r *http.Request) { co.claims["aud"] = "https://other.example"; resign(t, co, r) }, 401, "invalid_token"},
		{"no audience", func(co *callout, r *http.Request) { delete(co.claims, "aud"); resign(t, co, r) }, 401, "invalid_token"},
		{"expired beyond leeway", func(co *callout, r *http.Request) {
			co.claims["iat"] = testNow.Add(-100 * time.Second).Unix()
			co.claims["exp"] = testNow.Add(-31 * time.Second).Unix()
			resign(t, co, r)
		}, 401, "invalid_token"},
		{"no exp", func(co *callout, r *http.Request) { delete(co.claims, "exp"); resign(t, co, r) }, 401, "invalid_token"},
		{"no iat", func(co *callout, r *http.Request) { delete(co.claims, "iat"); resign(t, co, r) }, 401, "invalid_token"},
		{"iat in the future", func(co *callout, r *http.Request) {
			co.claims["iat"] = testNow.Add(45 * time.Second).Unix()
			co.claims["exp"] = testNow.Add(100 * time.Second).Unix()
			resign(t, co, r)
		}, 401, "invalid_token"},
		{"lifetime over 300 s", func(co *callout, r *http.Request) {
			co.claims["exp"] = testNow.Add(301 * time.Second).Unix()
			resign(t, co, r)
		}, 401, "invalid_token"},
		{"no jti", func(co *callout, r *http.Request) { delete(co.claims, "jti"); resign(t, co, r) }, 401, "invalid_token"},
		{"jti too long", func(co *callout, r *http.Request) { co.claims["jti"] = strings.Repeat("j", 257); resign(t, co, r) }, 401, "invalid_token"},
		{"no sub", func(co *callout, r *http.Request) { delete(co.claims, "sub"); resign(t, co, r) }, 401, "invalid_token"},
		{"no bsh", func(co *callout, r *http.Request) { empty := ""; co.bsh = &empty; resign(t, co, r) }, 401, "invalid_token"},
		{"bsh of another body", func(co *callout, r *http.Request) {
			h := bodyHash([]byte(`{"user":{"user_id":"auth0|alice"}}`))
			co.bsh = &h
			resign(t, co, r)
		}, 401, "invalid_token"},
		{"bsh padded", func(co *callout, r *http.Request) { h := bodyHash(co.body) + "="; co.bsh = &h; resign(t, co, r) }, 401, "invalid_token"},
		{"bsh standard base64", func(co *callout, r *http.Request) {
			h := strings.NewReplacer("-", "+", "_", "/").Replace(bodyHash(co.body))
			if h == bodyHash(co.body) {
				h = "A" + h[1:]
			}
			co.bsh = &h
			resign(t, co, r)
		}, 401, "invalid_token"},
		{"body changed after signing", func(co *callout, r *http.Request) {
			body := eventBody(t, alice, map[string]any{"roles": []any{"admin", "playlist_editor"}}, nil)
			setBody(r, body)
		}, 401, "invalid_token"},
		{"sub is another user", func(co *callout, r *http.Request) { co.claims["sub"] = "auth0|mallory"; resign(t, co, r) }, 403, "subject_mismatch"},
		{"malformed JSON", func(co *callout, r *http.Request) {
			co.body = []byte(`{"user":`)
			setBody(r, co.body)
			resign(t, co, r)
		}, 400, "bad_request"},
		{"trailing data", func(co *callout, r *http.Request) {
			co.body = append(valid[:len(valid):len(valid)], []byte(`{}`)...)
			setBody(r, co.body)
			resign(t, co, r)
		}, 400, "bad_request"},
		{"JSON null", func(co *callout, r *http.Request) { co.body = []byte(`null`); setBody(r, co.body); resign(t, co, r) }, 400, "bad_request"},
		{"no user", func(co *callout, r *http.Request) {
			co.body = []byte(`{"transaction":{"id":"x"}}`)
			setBody(r, co.body)
			resign(t, co, r)
		}, 400, "bad_request"},
		{"user not an object", func(co *callout, r *http.Request) {
			co.body = []byte(`{"user":"auth0|alice"}`)
			setBody(r, co.body)
			resign(t, co, r)
		}, 400, "bad_request"},
		{"user_id missing", func(co *callout, r *http.Request) {
			co.body = []byte(`{"user":{}}`)
			setBody(r, co.body)
			resign(t, co, r)
		}, 400, "bad_request"},
		{"user_id a number", func(co *callout, r *http.Request) {
			co.body = []byte(`{"user":{"user_id":7}}`)
			setBody(r, co.body)
			resign(t, co, r)
		}, 400, "bad_request"},
		{"user_id with a control character", func(co *callout, r *http.Request) {
			co.claims["sub"] = "auth0|a\nb"
			co.body = eventBody(t, "auth0|a\nb", nil, nil)
			setBody(r, co.body)
			resign(t, co, r)
		}, 400, "bad_request"},
		{"user_id too long", func(co *callout, r *http.Request) {
			id := "auth0|" + strings.Repeat("a", metadata.MaxUserIDBytes)
			co.claims["sub"] = id
			co.body = eventBody(t, id, nil, nil)
			setBody(r, co.body)
			resign(t, co, r)
		}, 400, "bad_request"},
		{"app_metadata not an object", func(co *callout, r *http.Request) {
			co.body = []byte(`{"user":{"user_id":"auth0|alice","app_metadata":[1]}}`)
			setBody(r, co.body)
			resign(t, co, r)
		}, 400, "bad_request"},
		{"body over the limit", func(co *callout, r *http.Request) {
			co.body = eventBody(t, alice, map[string]any{"pad": strings.Repeat("p", 5000)}, nil)
			setBody(r, co.body)
			resign(t, co, r)
		}, 413, "too_large"},
		{"body over the limit, length unknown", func(co *callout, r *http.Request) {
			co.body = eventBody(t, alice, map[string]any{"pad": strings.Repeat("p", 5000)}, nil)
			setBody(r, co.body)
			r.ContentLength = -1
			r.Body = io.NopCloser(bytes.NewReader(co.body))
			resign(t, co, r)
		}, 413, "too_large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			deps, store, writer := fakeDeps()
			store.plays[alice] = 150
			s := newServer(t, testConfig(), deps)
			co := newCallout(t, alice, valid)
			req := co.request(t)
			tt.mutate(co, req)

			rec := serve(s.Handler(), req)
			if rec.Code != tt.status {
				t.Fatalf("status = %d; want %d (body %s)", rec.Code, tt.status, rec.Body)
			}
			if got := errorOf(t, rec).Error; got != tt.code {
				t.Errorf("error = %q; want %q", got, tt.code)
			}
			if tt.status == http.StatusUnauthorized && !strings.HasPrefix(rec.Header().Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("WWW-Authenticate = %q; want a Bearer challenge", rec.Header().Get("WWW-Authenticate"))
			}
			if store.calls != 0 {
				t.Errorf("store calls = %d; want 0", store.calls)
			}
			if jti, _ := co.claims["jti"].(string); store.jtiUsed(alice, jti) {
				t.Errorf("jti %q claimed by a rejected callout", jti)
			}
			if n := writer.count(); n != 0 {
				t.Errorf("writes = %d; want 0", n)
			}
			if strings.Contains(rec.Body.String(), "secret") || strings.Contains(rec.Body.String(), "jwt") {
				t.Errorf("answer %s leaks internals", rec.Body)
			}
		})
	}
}

// resign re-signs co into r's Authorization header after a change of claims, key or body.
func resign(t *testing.T, co *callout, r *http.Request) {
	t.Helper()
	r.Header.Set("Authorization", "Bearer "+co.token(t))
}

func setBody(r *http.Request, body []byte) {
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
}

func TestCalloutReplay(t *testing.T) {
	deps, store, writer := fakeDeps()
	store.plays[alice] = 100
	s := newServer(t, testConfig(), deps)
	co := newCallout(t, alice, eventBody(t, alice, map[string]any{"roles": []any{"admin"}}, map[string]any{"displayName": "A"}))
	tok := co.token(t)

	send := func() *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/v1/post-login", bytes.NewReader(co.body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+tok)
		return serve(s.Handler(), req)
	}
	if rec := send(); rec.Code != http.StatusOK {
		t.Fatalf("first call: status = %d; want 200 (%s)", rec.Code, rec.Body)
	}
	if got := writer.count(); got != 1 {
		t.Fatalf("writes after first call = %d; want 1", got)
	}
	rec := send()
	if rec.Code != http.StatusConflict {
		t.Fatalf("replayed call: status = %d; want 409 (%s)", rec.Code, rec.Body)
	}
	if got := errorOf(t, rec).Error; got != "replay" {
		t.Errorf("error = %q; want replay", got)
	}
	if got := writer.count(); got != 1 {
		t.Errorf("writes after replay = %d; want 1", got)
	}
}

func TestCalloutAcceptsPreviousSecretAndLeeway(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(co *callout)
	}{
		{"previous secret", func(co *callout) { co.secret = testPrevSecret }},
		{"expired within leeway", func(co *callout) {
			co.claims["iat"] = testNow.Add(-100 * time.Second).Unix()
			co.claims["exp"] = testNow.Add(-20 * time.Second).Unix()
		}},
		{"iat slightly ahead", func(co *callout) { co.claims["iat"] = testNow.Add(20 * time.Second).Unix() }},
		{"lifetime exactly 300 s", func(co *callout) { co.claims["exp"] = testNow.Add(300 * time.Second).Unix() }},
		{"audience in a list", func(co *callout) { co.claims["aud"] = []string{"x", testAudience} }},
		{"lower-case bearer", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			deps, _, _ := fakeDeps()
			s := newServer(t, testConfig(), deps)
			co := newCallout(t, alice, eventBody(t, alice, nil, map[string]any{"displayName": "A"}))
			if tt.mutate != nil {
				tt.mutate(co)
			}
			req := co.request(t)
			if tt.mutate == nil {
				req.Header.Set("Authorization", "bearer "+co.token(t))
			}
			if rec := serve(s.Handler(), req); rec.Code != http.StatusOK {
				t.Errorf("status = %d; want 200 (%s)", rec.Code, rec.Body)
			}
		})
	}
}

// TestCalloutDecisions checks the answer for the rules' cases, and the one write each makes.
func TestCalloutDecisions(t *testing.T) {
	tests := []struct {
		name          string
		plays         int64
		app, user     map[string]any
		wantRoles     []string
		wantApp       map[string]any
		wantUser      map[string]any
		wantWrittenBy string
		wantWrites    int
	}{
		{
			name: "no change", plays: 150,
			app:       map[string]any{"roles": []any{"admin", "playlist_editor"}},
			user:      map[string]any{"displayName": "J-vald3z"},
			wantRoles: []string{"admin", "playlist_editor"}, wantApp: map[string]any{}, wantUser: map[string]any{},
			wantWrittenBy: "none",
		},
		{
			name: "no change below the threshold, no roles", plays: 99,
			user:      map[string]any{"displayName": "J"},
			wantRoles: []string{}, wantApp: map[string]any{}, wantUser: map[string]any{},
			wantWrittenBy: "none",
		},
		{
			name: "promote at the threshold keeping other roles", plays: 100,
			app:       map[string]any{"roles": []any{"admin"}},
			user:      map[string]any{"displayName": "J"},
			wantRoles: []string{"admin", "playlist_editor"},
			wantApp:   map[string]any{"roles": []any{"admin", "playlist_editor"}}, wantUser: map[string]any{},
			wantWrittenBy: "rulehook", wantWrites: 1,
		},
		{
			name: "demote below the threshold keeping other roles", plays: 99,
			app:       map[string]any{"roles": []any{"playlist_editor", "admin"}, "plan": "pro"},
			user:      map[string]any{"displayName": "J"},
			wantRoles: []string{"admin"},
			wantApp:   map[string]any{"roles": []any{"admin"}}, wantUser: map[string]any{},
			wantWrittenBy: "rulehook", wantWrites: 1,
		},
		{
			name: "default name only", plays: 3,
			user:      map[string]any{"displayName": ""},
			wantRoles: []string{}, wantApp: map[string]any{}, wantUser: map[string]any{"displayName": "user"},
			wantWrittenBy: "rulehook", wantWrites: 1,
		},
		{
			name: "both change in one write", plays: 101,
			wantRoles: []string{"playlist_editor"},
			wantApp:   map[string]any{"roles": []any{"playlist_editor"}}, wantUser: map[string]any{"displayName": "user"},
			wantWrittenBy: "rulehook", wantWrites: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			deps, store, writer := fakeDeps()
			store.plays[alice] = tt.plays
			s := newServer(t, testConfig(), deps)
			co := newCallout(t, alice, eventBody(t, alice, tt.app, tt.user))
			req := co.request(t)
			req.Header.Set("X-Request-Id", "req-"+strings.ReplaceAll(tt.name, " ", "-"))

			a := decodeAnswer(t, serve(s.Handler(), req))
			checkAnswer(t, a, answer{
				UserID: alice, Plays: &tt.plays, Roles: tt.wantRoles,
				AppMetadata: tt.wantApp, UserMetadata: tt.wantUser,
				WrittenBy: tt.wantWrittenBy, Degraded: []string{},
			})
			if got := writer.count(); got != tt.wantWrites {
				t.Fatalf("writes = %d; want %d", got, tt.wantWrites)
			}
			if tt.wantWrites == 0 {
				return
			}
			w := writer.last()
			if w.UserID != alice || w.Explicit || w.Reason != metadata.ReasonLogin || w.RequestID != req.Header.Get("X-Request-Id") {
				t.Errorf("write = %+v; want user %s, rule write, reason login, request id %s", w, alice, req.Header.Get("X-Request-Id"))
			}
			if !jsonEqual(objectOrEmpty(w.Patch.AppMetadata), tt.wantApp) || !jsonEqual(objectOrEmpty(w.Patch.UserMetadata), tt.wantUser) {
				t.Errorf("patch = %+v; want app %v user %v", w.Patch, tt.wantApp, tt.wantUser)
			}
			if w.Before.ID != alice {
				t.Errorf("write.Before.ID = %q; want %q", w.Before.ID, alice)
			}
		})
	}
}

func TestCalloutQueuedWriteIsWrittenByRulehook(t *testing.T) {
	deps, store, writer := fakeDeps()
	writer.queue = true
	store.plays[alice] = 100
	s := newServer(t, testConfig(), deps)
	co := newCallout(t, alice, eventBody(t, alice, nil, map[string]any{"displayName": "A"}))
	a := decodeAnswer(t, serve(s.Handler(), co.request(t)))
	if a.WrittenBy != "rulehook" || !slices.Equal(a.Roles, []string{"playlist_editor"}) {
		t.Errorf("answer = %s; want written_by rulehook with playlist_editor", a.Raw)
	}
}

func TestCalloutActionMode(t *testing.T) {
	for _, tt := range []struct {
		name          string
		plays         int64
		user          map[string]any
		wantWrittenBy string
		wantApp       map[string]any
		wantUser      map[string]any
	}{
		{"changes", 120, nil, "action", map[string]any{"roles": []any{"playlist_editor"}}, map[string]any{"displayName": "user"}},
		{"no change", 5, map[string]any{"displayName": "A"}, "none", map[string]any{}, map[string]any{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.WriteMode = WriteModeAction
			store := newFakeStore()
			store.plays[alice] = tt.plays
			// No Writer at all: action mode must not need one.
			s := newServer(t, cfg, Deps{Logins: store, Plays: store, App: store, Pinger: store})
			co := newCallout(t, alice, eventBody(t, alice, nil, tt.user))
			a := decodeAnswer(t, serve(s.Handler(), co.request(t)))
			if a.WrittenBy != tt.wantWrittenBy || !jsonEqual(a.AppMetadata, tt.wantApp) || !jsonEqual(a.UserMetadata, tt.wantUser) {
				t.Errorf("answer = %s; want written_by %s, app %v, user %v", a.Raw, tt.wantWrittenBy, tt.wantApp, tt.wantUser)
			}
		})
	}
}

// TestCalloutFailurePolicy covers Redis and Management API failures under both policies.
func TestCalloutFailurePolicy(t *testing.T) {
	errRedis := errors.Join(metadata.ErrUnavailable, errors.New("dial tcp 127.0.0.1:6379: connection refused"))
	errMgmt := errors.Join(metadata.ErrUnavailable, errors.New("PATCH /api/v2/users: 503 upstream detail"))
	editor := map[string]any{"roles": []any{"admin", "playlist_editor"}}
	tests := []struct {
		name       string
		open       bool
		storeErr   error
		writerErr  error
		plays      int64
		app, user  map[string]any
		wantStatus int
		want       answer
		wantWrites int
	}{
		{
			name: "redis down, open: roles kept, nothing demoted", open: true, storeErr: errRedis,
			app: editor, user: map[string]any{"displayName": "A"}, wantStatus: 200,
			want: answer{UserID: alice, Roles: []string{"admin", "playlist_editor"}, AppMetadata: map[string]any{},
				UserMetadata: map[string]any{}, WrittenBy: "none", Degraded: []string{"redis"}},
		},
		{
			name: "redis down, open: default name still written", open: true, storeErr: errRedis,
			app: editor, wantStatus: 200, wantWrites: 1,
			want: answer{UserID: alice, Roles: []string{"admin", "playlist_editor"}, AppMetadata: map[string]any{},
				UserMetadata: map[string]any{"displayName": "user"}, WrittenBy: "rulehook", Degraded: []string{"redis"}},
		},
		{
			name: "redis down, closed", storeErr: errRedis, app: editor, wantStatus: 503,
		},
		{
			name: "management api down, open: current roles, never the undecided ones", open: true, writerErr: errMgmt,
			plays: 150, app: map[string]any{"roles": []any{"admin"}}, wantStatus: 200, wantWrites: 1,
			want: answer{UserID: alice, Roles: []string{"admin"}, AppMetadata: map[string]any{},
				UserMetadata: map[string]any{}, WrittenBy: "none", Degraded: []string{"management_api"}},
		},
		{
			name: "management api down, closed", writerErr: errMgmt, plays: 150, wantStatus: 503, wantWrites: 1,
		},
		{
			name: "both down, open", open: true, storeErr: errRedis, writerErr: errMgmt, app: editor, wantStatus: 200, wantWrites: 1,
			want: answer{UserID: alice, Roles: []string{"admin", "playlist_editor"}, AppMetadata: map[string]any{},
				UserMetadata: map[string]any{}, WrittenBy: "none", Degraded: []string{"redis", "management_api"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.FailOpen = tt.open
			deps, store, writer := fakeDeps()
			store.err, writer.err = tt.storeErr, tt.writerErr
			store.plays[alice] = tt.plays
			s := newServer(t, cfg, deps)
			rec := serve(s.Handler(), newCallout(t, alice, eventBody(t, alice, tt.app, tt.user)).request(t))
			if got := writer.count(); got != tt.wantWrites {
				t.Errorf("writes = %d; want %d", got, tt.wantWrites)
			}
			if tt.wantStatus != http.StatusOK {
				if rec.Code != tt.wantStatus {
					t.Fatalf("status = %d; want %d (%s)", rec.Code, tt.wantStatus, rec.Body)
				}
				if e := errorOf(t, rec); e.Error != "unavailable" || strings.Contains(rec.Body.String(), "upstream") || strings.Contains(rec.Body.String(), "127.0.0.1") {
					t.Errorf("error answer = %s; want unavailable without internals", rec.Body)
				}
				return
			}
			a := decodeAnswer(t, rec)
			if tt.storeErr != nil && a.Plays != nil {
				t.Errorf("plays = %d; want null when the count is unknown", *a.Plays)
			}
			a.Plays = nil
			checkAnswer(t, a, tt.want)
		})
	}
}

// TestCalloutDeadline: a hanging Redis or Management API still gets an answer within
// CalloutDeadline.
func TestCalloutDeadline(t *testing.T) {
	for _, tt := range []struct {
		name       string
		hangStore  bool
		hangWriter bool
		deafWriter bool // ignores its context
		open       bool
		wantStatus int
		wantDeg    []string
	}{
		{"redis hangs, open", true, false, false, true, 200, []string{"redis"}},
		{"redis hangs, closed", true, false, false, false, 503, nil},
		{"management api hangs, open", false, true, false, true, 200, []string{"management_api"}},
		{"management api hangs, closed", false, true, false, false, 503, nil},
		{"management api ignores the deadline, open", false, false, true, true, 200, []string{"management_api"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.CalloutDeadline = 300 * time.Millisecond
			cfg.FailOpen = tt.open
			deps, store, writer := fakeDeps()
			store.hang, writer.hang = tt.hangStore, tt.hangWriter
			if tt.deafWriter {
				writer.block = make(chan struct{})
				defer close(writer.block)
			}
			store.plays[alice] = 200
			s := newServer(t, cfg, deps)
			body := eventBody(t, alice, map[string]any{"roles": []any{"admin", "playlist_editor"}}, map[string]any{"displayName": "A"})
			if tt.hangWriter || tt.deafWriter {
				body = eventBody(t, alice, nil, map[string]any{"displayName": "A"})
			}
			req := newCallout(t, alice, body).request(t)
			start := time.Now()
			rec := serve(s.Handler(), req)
			if elapsed := time.Since(start); elapsed > testkit.Within(cfg.CalloutDeadline) {
				t.Errorf("answered after %s; want it bounded by the %s deadline", elapsed, cfg.CalloutDeadline)
			}
			if rec.Code != tt.wantStatus {
				t.Fatalf("status = %d; want %d (%s)", rec.Code, tt.wantStatus, rec.Body)
			}
			if tt.wantStatus == http.StatusOK {
				if a := decodeAnswer(t, rec); !slices.Equal(a.Degraded, tt.wantDeg) {
					t.Errorf("degraded = %v; want %v", a.Degraded, tt.wantDeg)
				}
			}
		})
	}
}

func checkAnswer(t *testing.T, got, want answer) {
	t.Helper()
	if got.UserID != want.UserID ||
		!slices.Equal(got.Roles, want.Roles) ||
		!jsonEqual(got.AppMetadata, want.AppMetadata) ||
		!jsonEqual(got.UserMetadata, want.UserMetadata) ||
		got.WrittenBy != want.WrittenBy ||
		!slices.Equal(got.Degraded, want.Degraded) ||
		(want.Plays != nil && (got.Plays == nil || *got.Plays != *want.Plays)) {
		t.Errorf("answer = %s; want %+v", got.Raw, want)
	}
}
