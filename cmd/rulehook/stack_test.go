package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/rulehook/rulehook/actions/harness"
	"github.com/rulehook/rulehook/metadata/mgmt/mgmttest"
	"github.com/rulehook/rulehook/metadata/redisstore"
	"github.com/rulehook/rulehook/metadata/redisstore/redistest"
	"github.com/rulehook/rulehook/metadata/testkit"
	"github.com/rulehook/rulehook/webhook/openapitest"
)

// stackDeadline is the CALLOUT_DEADLINE of a test stack: long enough that a loaded machine still
// answers an ordinary login in time (the Management API gets 60% of it), so that only the tests
// that inject a hang ever reach it.
const stackDeadline = 3 * time.Second

const (
	testSecret    = "a-callout-secret-of-at-least-32-bytes!"
	testNamespace = "https://music.example.com"
)

// testStack is a whole rulehook on loopback: a real redis-server, the emulated tenant, and
// `rulehook serve` run through run() on a free port.
type testStack struct {
	redis  *redistest.Server // nil on a Cluster or Sentinel stack
	tenant *mgmttest.Server
	// setPlays stores a play count wherever the stack's Redis keeps it.
	setPlays func(userID string, plays int) error
	url      string
	// client holds every exchange with the stack to webhook/openapi.yaml.
	client *http.Client
	proxy  *httptest.Server // in front of url for the Action, see actionURL
	env    map[string]string
	logs   *testkit.SyncBuffer
	cancel context.CancelFunc
	done   chan error
}

func startStack(t *testing.T, overrides map[string]string) *testStack {
	t.Helper()
	r := redistest.Start(t)
	setPlays := func(id string, n int) error {
		_, err := r.Do("SET", redisstore.PlaysKey(id), fmt.Sprint(n))
		return err
	}
	s := startStackOn(t, map[string]string{"REDIS_URL": r.URL()}, setPlays, overrides)
	s.redis = r
	return s
}

// startStackOn starts serve on the Redis that redisEnv names (REDIS_URL, or a Cluster's or a
// Sentinel group's variables).
func startStackOn(t *testing.T, redisEnv map[string]string, setPlays func(string, int) error, overrides map[string]string) *testStack {
	t.Helper()
	s := &testStack{tenant: mgmttest.New(), setPlays: setPlays, logs: &testkit.SyncBuffer{}, client: openAPIClient(t)}
	t.Cleanup(s.tenant.Close)
	addr := freeAddr(t)
	s.url = "http://" + addr
	s.env = tenantEnv(s.tenant, map[string]string{
		"LISTEN_ADDR":      addr,
		"CALLOUT_SECRET":   testSecret,
		"CALLOUT_AUDIENCE": s.url,
		"CALLOUT_DEADLINE": stackDeadline.String(),
		"API_AUDIENCE":     "https://music.example.com/api",
		"SHUTDOWN_TIMEOUT": "5s",
	})
	for _, m := range []map[string]string{redisEnv, overrides} {
		for k, v := range m {
			s.env[k] = v
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel, s.done = cancel, make(chan error, 1)
	go func() {
		s.done <- run(ctx, []string{"serve"}, func(k string) string { return s.env[k] }, io.Discard, s.logs)
	}()
	t.Cleanup(func() {
		if err := s.stop(); err != nil {
			t.Errorf("serve returned %v after a clean stop; want nil\nlogs:\n%s", err, s.logs)
		}
		checkNoEmails(t, s.logs.String())
	})
	testkit.WaitFor(t, func() error {
		select {
		case err := <-s.done:
			s.cancel()
			s.cancel = nil
			t.Fatalf("serve stopped at start: %v\nlogs:\n%s", err, s.logs)
		default:
		}
		_, err := http.Get(s.url + "/healthz")
		return err
	})
	return s
}

// stop ends serve as SIGTERM would and returns what run returned.
func (s *testStack) stop() error {
	if s.cancel == nil {
		return nil
	}
	// Connections the client dialled but never used count as busy for the server's first 5 s.
	http.DefaultClient.CloseIdleConnections()
	s.cancel()
	s.cancel = nil
	select {
	case err := <-s.done:
		return err
	case <-time.After(10 * time.Second):
		return errors.New("serve did not stop within 10s")
	}
}

// login runs the real Action under node against the stack, for u.
func (s *testStack) login(t *testing.T, u harness.User, secrets ...string) harness.Result {
	t.Helper()
	sec := map[string]string{
		"RULEHOOK_URL":     s.actionURL(t),
		"CALLOUT_AUDIENCE": s.url,
		"CALLOUT_SECRET":   testSecret,
		"CLAIM_NAMESPACE":  testNamespace,
		"AUTH0_DOMAIN":     s.tenant.Domain(),
		"TIMEOUT_MS":       "9000", // the most the Action allows: a loaded machine may be slow
	}
	for i := 0; i+1 < len(secrets); i += 2 {
		sec[secrets[i]] = secrets[i+1]
	}
	res, err := harness.Run(context.Background(), harness.Login{User: u, Secrets: sec})
	if errors.Is(err, harness.ErrNodeMissing) {
		t.Skip("node is not installed")
	}
	if err != nil {
		t.Fatalf("login through the Action: %v", err)
	}
	return res
}

// seed stores u in the tenant and sets its play count in Redis; it returns u as the Action's event
// carries it.
func (s *testStack) seed(t *testing.T, u mgmttest.User, plays int) harness.User {
	t.Helper()
	s.tenant.PutUser(u)
	if err := s.setPlays(u.ID, plays); err != nil {
		t.Fatalf("set plays: %v", err)
	}
	return harness.User{ID: u.ID, Email: u.Email, AppMetadata: u.AppMetadata, UserMetadata: u.UserMetadata}
}

func (s *testStack) stored(t *testing.T, id string) mgmttest.User {
	t.Helper()
	u, ok := s.tenant.User(id)
	if !ok {
		t.Fatalf("tenant has no user %q", id)
	}
	return u
}

// callout posts a callout signed as the Action signs it and decodes the answer.
func (s *testStack) callout(t *testing.T, u harness.User) (int, openapitest.Answer) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"user": u, "transaction": map[string]string{"id": "tx-test"}})
	req, _ := http.NewRequest(http.MethodPost, s.url+"/v1/post-login", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+signCallout(t, s.tenant.Issuer(), s.url, u.ID, body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatalf("callout: %v", err)
	}
	defer resp.Body.Close()
	var a openapitest.Answer
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusOK {
		if a, err = openapitest.DecodeAnswer(raw); err != nil {
			t.Fatalf("callout answer %s: %v", raw, err)
		}
	}
	return resp.StatusCode, a
}

var jtiSeq struct {
	sync.Mutex
	n int
}

func signCallout(t *testing.T, iss, aud, sub string, body []byte) string {
	t.Helper()
	jtiSeq.Lock()
	jtiSeq.n++
	jti := fmt.Sprintf("test-%d-%d", time.Now().UnixNano(), jtiSeq.n)
	jtiSeq.Unlock()
	sum := sha256.Sum256(body)
	now := time.Now()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"iss": iss, "aud": aud, "sub": sub, "iat": now.Unix(), "exp": now.Add(time.Minute).Unix(),
		"jti": jti, "bsh": base64.RawURLEncoding.EncodeToString(sum[:]),
	}).SignedString([]byte(testSecret))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// tenantEnv is the environment that makes a command reach tenant as its M2M application, with
// extra added.
func tenantEnv(tenant *mgmttest.Server, extra map[string]string) map[string]string {
	env := map[string]string{
		"AUTH0_DOMAIN": tenant.Domain(), "AUTH0_MANAGEMENT_URL": tenant.URL(),
		"AUTH0_CLIENT_ID": tenant.ClientID(), "AUTH0_CLIENT_SECRET": tenant.ClientSecret(),
	}
	maps.Copy(env, extra)
	return env
}

func freeAddr(t *testing.T) string {
	t.Helper()
	addr, err := freeLoopbackAddr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

func status(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// checkNoEmails fails the test for every log line that holds an '@': no email, email-bearing
// user id, token or secret is ever logged (issue 11 item 6). Every full-loop test runs it.
func checkNoEmails(t *testing.T, logs string) {
	t.Helper()
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, "@") {
			t.Errorf("log line holds an '@': %s", line)
		}
	}
}

func rolesOf(u mgmttest.User) []string {
	raw, _ := u.AppMetadata["roles"].([]any)
	out := []string{}
	for _, r := range raw {
		out = append(out, fmt.Sprint(r))
	}
	return out
}

func join(l []string) string { return strings.Join(l, ",") }

// appRequest calls the app API as userID, with an access token minted by the emulated tenant.
func (s *testStack) appRequest(t *testing.T, method, path, userID string, body []byte) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, s.url+path, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+s.tenant.Mint(map[string]any{"sub": userID, "aud": s.env["API_AUDIENCE"]}))
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// recordPlay records one play for userID through POST /v1/plays.
func (s *testStack) recordPlay(t *testing.T, userID string) {
	t.Helper()
	if code, body := s.appRequest(t, http.MethodPost, "/v1/plays", userID, nil); code != http.StatusOK {
		t.Fatalf("POST /v1/plays as %s = %d %s; want 200", userID, code, body)
	}
}
