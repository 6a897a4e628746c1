package webhook

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/rulehook/rulehook/metadata"
	"github.com/rulehook/rulehook/metadata/mgmt/mgmttest"
	"github.com/rulehook/rulehook/metadata/testkit"
	"github.com/rulehook/rulehook/webhook/openapitest"
)

var (
	testSecret     = []byte("0123456789abcdef0123456789abcdef-current")
	testPrevSecret = []byte("0123456789abcdef0123456789abcdef-previous")
	testNow        = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
)

const (
	testAudience = "https://rulehook.example.com"
	testIssuer   = "https://rulehook-dev.local/"

	// the users of most tests
	alice = "auth0|alice"
	bob   = "google-oauth2|bob"
)

// testConfig is a valid management-mode, fail-open configuration with a frozen clock.
func testConfig() Config {
	return Config{
		Policy:          metadata.DefaultPolicy,
		WriteMode:       WriteModeManagement,
		FailOpen:        true,
		CalloutSecrets:  [][]byte{testSecret, testPrevSecret},
		CalloutAudience: testAudience,
		CalloutIssuer:   testIssuer,
		CalloutDeadline: 500 * time.Millisecond,
		MaxBodyBytes:    4096,
		Now:             func() time.Time { return testNow },
	}
}

// newServer builds a Server from cfg and deps, filling missing deps with fresh fakes.
func newServer(t testing.TB, cfg Config, deps Deps) *Server {
	t.Helper()
	s, err := New(cfg, deps)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	checkExchanges(t, s)
	return s
}

// fakeStore is an in-memory LoginStore, PlayStore, AppStore and Pinger, for the odd failure
// cases (an erroring or hanging Redis) and for fast unit tests.
type fakeStore struct {
	mu     sync.Mutex
	plays  map[string]int64
	jtis   map[string]bool
	genres map[string]string
	songs  map[string][]metadata.Song
	err    error // returned by every call when set
	hang   bool  // every call blocks until its context ends
	calls  int
}

func newFakeStore() *fakeStore {
	return &fakeStore{
		plays:  map[string]int64{},
		jtis:   map[string]bool{},
		genres: map[string]string{},
		songs:  map[string][]metadata.Song{},
	}
}

func (f *fakeStore) enter(ctx context.Context) error {
	f.mu.Lock()
	f.calls++
	err, hang := f.err, f.hang
	f.mu.Unlock()
	if hang {
		<-ctx.Done()
		return ctx.Err()
	}
	return err
}

func (f *fakeStore) BeginLogin(ctx context.Context, userID, jti string, ttl time.Duration) (metadata.PlayCount, error) {
	if err := f.enter(ctx); err != nil {
		return metadata.PlayCount{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	key := userID + "\x00" + jti
	if f.jtis[key] {
		return metadata.PlayCount{}, metadata.ErrReplay
	}
	f.jtis[key] = true
	n, ok := f.plays[userID]
	return metadata.PlayCount{N: n, Recorded: ok}, nil
}

func (f *fakeStore) jtiUsed(userID, jti string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.jtis[userID+"\x00"+jti]
}

func (f *fakeStore) Plays(ctx context.Context, userID string) (int64, error) {
	if err := f.enter(ctx); err != nil {
		return 0, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.plays[userID], nil
}

func (f *fakeStore) RecordPlay(ctx context.Context, userID string) (int64, error) {
	if err := f.enter(ctx); err != nil {
		return 0, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.plays[userID]++
	return f.plays[userID], nil
}

func (f *fakeStore) FavGenre(ctx context.Context, userID string) (string, error) {
	if err := f.enter(ctx); err != nil {
		return "", err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	g, ok := f.genres[userID]
	if !ok {
		return "", metadata.ErrNotFound
	}
	return g, nil
}

func (f *fakeStore) SetFavGenre(ctx context.Context, userID, genre string) error {
	if err := f.enter(ctx); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.genres[userID] = genre
	return nil
}

func (f *fakeStore) Songs(ctx context.Context, userID string) ([]metadata.Song, error) {
	if err := f.enter(ctx); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]metadata.Song(nil), f.songs[userID]...), nil
}

func (f *fakeStore) AddSong(ctx context.Context, userID, name string) (metadata.Song, error) {
	if err := f.enter(ctx); err != nil {
		return metadata.Song{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.songs[userID]) >= metadata.MaxSongsPerUser {
		return metadata.Song{}, metadata.ErrLimit
	}
	song := metadata.Song{ID: int64(len(f.songs[userID]) + 1), Name: name}
	f.songs[userID] = append(f.songs[userID], song)
	return song, nil
}

func (f *fakeStore) Ping(ctx context.Context) error { return f.enter(ctx) }

// fakeWriter records writes; it can fail, queue, or hang until the context ends.
type fakeWriter struct {
	mu     sync.Mutex
	writes []metadata.Write
	users  map[string]metadata.User
	err    error
	queue  bool
	hang   bool
	block  chan struct{} // when set, Write ignores its context and waits for this to close
}

func newFakeWriter() *fakeWriter { return &fakeWriter{users: map[string]metadata.User{}} }

func (f *fakeWriter) Write(ctx context.Context, w metadata.Write) (metadata.Outcome, error) {
	f.mu.Lock()
	f.writes = append(f.writes, w)
	err, queue, hang, block := f.err, f.queue, f.hang, f.block
	f.mu.Unlock()
	if block != nil {
		<-block
	}
	if hang {
		<-ctx.Done()
		return 0, ctx.Err()
	}
	if err != nil {
		return 0, err
	}
	if queue {
		return metadata.Queued, nil
	}
	f.mu.Lock()
	f.users[w.UserID] = w.Patch.Apply(f.users[w.UserID])
	f.mu.Unlock()
	return metadata.Written, nil
}

func (f *fakeWriter) User(ctx context.Context, id string) (metadata.User, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return metadata.User{}, f.err
	}
	u, ok := f.users[id]
	if !ok {
		return metadata.User{}, metadata.ErrNotFound
	}
	return u, nil
}

func (f *fakeWriter) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.writes)
}

func (f *fakeWriter) last() metadata.Write {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.writes[len(f.writes)-1]
}

// fakeDeps returns deps backed by one fakeStore and one fakeWriter.
func fakeDeps() (Deps, *fakeStore, *fakeWriter) {
	st, w := newFakeStore(), newFakeWriter()
	return Deps{Logins: st, Plays: st, App: st, Pinger: st, Writer: w, Users: w}, st, w
}

// apiAudience is the audience of the app API's access tokens.
const apiAudience = "https://music.example.com/api"

// appEnv is an app API under test: the emulated tenant's JWKS and tokens, fake stores.
type appEnv struct {
	tenant *mgmttest.Server
	srv    *Server
	store  *fakeStore
	writer *fakeWriter
}

// newAppEnv is an app API on the emulated tenant's JWKS and fake stores; mutate, when not nil,
// changes its config.
func newAppEnv(t *testing.T, mutate func(*Config)) *appEnv { return newAppEnvDeps(t, mutate, nil) }

// newAppEnvDeps is newAppEnv whose deps mutateDeps, when not nil, changes too.
func newAppEnvDeps(t *testing.T, mutate func(*Config), mutateDeps func(*Deps)) *appEnv {
	t.Helper()
	tenant := mgmttest.New()
	t.Cleanup(tenant.Close)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	kf, err := JWKSKeyfunc(ctx, tenant.JWKSURL(), nil)
	if err != nil {
		t.Fatalf("JWKSKeyfunc: %v", err)
	}
	cfg := testConfig()
	cfg.Now = time.Now // tokens minted by the tenant carry the real time
	cfg.APIKeyfunc, cfg.APIAudience, cfg.APIIssuer = kf, apiAudience, tenant.Issuer()
	if mutate != nil {
		mutate(&cfg)
	}
	deps, store, writer := fakeDeps()
	if mutateDeps != nil {
		mutateDeps(&deps)
	}
	return &appEnv{tenant: tenant, srv: newServer(t, cfg, deps), store: store, writer: writer}
}

// token mints an access token for the app API for sub.
func (e *appEnv) token(sub string, opts ...mgmttest.MintOption) string {
	return e.tenant.Mint(map[string]any{"sub": sub, "aud": []string{apiAudience, e.tenant.Issuer() + "userinfo"}}, opts...)
}

// do sends an app API request with token (none when "") and body (JSON when it starts with '{').
func (e *appEnv) do(method, path, token, body string) *httptest.ResponseRecorder {
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, r)
	if strings.HasPrefix(body, "{") {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return serve(e.srv.Handler(), req)
}

// callout is one signed post-login request under construction.
type callout struct {
	claims jwt.MapClaims
	body   []byte
	secret []byte
	alg    jwt.SigningMethod
	bsh    *string // overrides the body hash
}

// eventBody renders a post-login event for userID with the given metadata.
func eventBody(t testing.TB, userID string, app, user map[string]any) []byte {
	t.Helper()
	u := map[string]any{"user_id": userID, "email": "someone@example.com"}
	if app != nil {
		u["app_metadata"] = app
	}
	if user != nil {
		u["user_metadata"] = user
	}
	b, err := json.Marshal(map[string]any{
		"user":        u,
		"transaction": map[string]any{"id": "txn-123"},
		"client":      map[string]any{"client_id": "cid", "name": "app"},
		"request":     map[string]any{"ip": "192.0.2.1", "user_agent": "test"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var jtiSeq struct {
	sync.Mutex
	n int
}

func nextJTI() string {
	jtiSeq.Lock()
	defer jtiSeq.Unlock()
	jtiSeq.n++
	return "jti-" + strconv.Itoa(jtiSeq.n)
}

// newCallout returns a valid callout for body, signed with the current secret.
func newCallout(t testing.TB, userID string, body []byte) *callout {
	t.Helper()
	return &callout{
		claims: jwt.MapClaims{
			"iss": testIssuer,
			"aud": testAudience,
			"sub": userID,
			"iat": testNow.Unix(),
			"exp": testNow.Add(60 * time.Second).Unix(),
			"jti": nextJTI(),
		},
		body:   body,
		secret: testSecret,
		alg:    jwt.SigningMethodHS256,
	}
}

func bodyHash(body []byte) string {
	sum := sha256.Sum256(body)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func (co *callout) token(t testing.TB) string {
	t.Helper()
	claims := jwt.MapClaims{}
	for k, v := range co.claims {
		claims[k] = v
	}
	if _, set := claims["bsh"]; !set {
		claims["bsh"] = bodyHash(co.body)
	}
	if co.bsh != nil {
		claims["bsh"] = *co.bsh
	}
	tok, err := jwt.NewWithClaims(co.alg, claims).SignedString(co.secret)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func (co *callout) request(t testing.TB) *http.Request {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/v1/post-login", bytes.NewReader(co.body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+co.token(t))
	return req
}

// serve runs req through h and returns the recorded answer. When newServer built h, the
// exchange is held to openapi.yaml when the test ends (see checkExchanges).
func serve(h http.Handler, req *http.Request) *httptest.ResponseRecorder {
	body, sent := teeBody(req)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	io.Copy(io.Discard, body) // what the handler left unread, for the document check
	recordExchange(h, req, sent.Bytes(), rec)
	return rec
}

// answer is the callout's answer decoded loosely, to see nulls.
type answer = openapitest.Answer

func decodeAnswer(t testing.TB, rec *httptest.ResponseRecorder) answer {
	t.Helper()
	if rec.Code != http.StatusOK {
		t.Fatalf("status = %d; want 200 (body %s)", rec.Code, rec.Body)
	}
	a, err := openapitest.DecodeAnswer(rec.Body.Bytes())
	if err != nil {
		t.Fatalf("decoding answer %s: %v", rec.Body, err)
	}
	checkNeverNull(t, a.Raw)
	return a
}

// checkNeverNull fails when a list or object of the answer is null or missing.
func checkNeverNull(t testing.TB, raw []byte) {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("answer %s: %v", raw, err)
	}
	for _, k := range []string{"roles", "app_metadata", "user_metadata", "degraded"} {
		v, ok := m[k]
		if !ok || string(v) == "null" {
			t.Errorf("answer %s: %s = %s; want a list or object, never null", raw, k, v)
		}
	}
	for _, k := range []string{"user_id", "plays", "written_by"} {
		if _, ok := m[k]; !ok {
			t.Errorf("answer %s: %s missing", raw, k)
		}
	}
}

// errorOf decodes a JSON error answer.
func errorOf(t testing.TB, rec *httptest.ResponseRecorder) errorBody {
	t.Helper()
	var e errorBody
	if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil {
		t.Fatalf("error answer %q is not JSON: %v", rec.Body, err)
	}
	if e.Error == "" || e.Message == "" {
		t.Errorf("error answer %s: want both error and message", rec.Body)
	}
	return e
}

// logBuffer collects JSON log lines.
type logBuffer struct{ testkit.SyncBuffer }

// lines returns the decoded log lines.
func (l *logBuffer) lines(t testing.TB) []map[string]any {
	t.Helper()
	var out []map[string]any
	dec := json.NewDecoder(strings.NewReader(l.String()))
	for {
		var m map[string]any
		if err := dec.Decode(&m); err == io.EOF {
			return out
		} else if err != nil {
			t.Fatalf("log is not JSON lines: %v\n%s", err, l.String())
		}
		out = append(out, m)
	}
}

func newLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// jsonEqual compares two values by their JSON encoding (nil and empty maps differ).
func jsonEqual(a, b any) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(ja, jb)
}
