package webhook

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// countingReader fails no read but counts them.
type countingReader struct {
	mu    sync.Mutex
	reads int
	r     io.Reader
}

func (c *countingReader) Read(p []byte) (int, error) {
	c.mu.Lock()
	c.reads++
	c.mu.Unlock()
	return c.r.Read(p)
}

// TestCalloutRefusesTheTokenBeforeReadingTheBody: issue 11 item 1. A bad token is refused
// without a read of the body, and the connection is closed rather than drained.
func TestCalloutRefusesTheTokenBeforeReadingTheBody(t *testing.T) {
	for _, authz := range []string{"", "Bearer x", "Bearer " + signRaw(actionHeaderJSON, validClaimsJSON(""), []byte("wrong-key-0123456789abcdef0123456789"))} {
		deps, _, _ := fakeDeps()
		s := newServer(t, testConfig(), deps)
		body := &countingReader{r: strings.NewReader(strings.Repeat(" ", 4000))}
		req := httptest.NewRequest(http.MethodPost, "/v1/post-login", body)
		req.ContentLength = 4000
		if authz != "" {
			req.Header.Set("Authorization", authz)
		}
		// Straight to the handler: serve would read what the handler left, for its document check.
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, req)
		if rec.Code != http.StatusUnauthorized {
			t.Errorf("Authorization %q: status = %d; want 401", authz, rec.Code)
		}
		if body.reads != 0 {
			t.Errorf("Authorization %q: body read %d times; want 0", authz, body.reads)
		}
		if got := rec.Header().Get("Connection"); got != "close" {
			t.Errorf("Authorization %q: Connection = %q; want close", authz, got)
		}
	}
}

// TestCalloutBodyBudget: bodies held at once are bounded; past the budget a callout gets a
// fast 503 in the contract's shape, and the budget is given back afterwards.
func TestCalloutBodyBudget(t *testing.T) {
	cfg := testConfig()
	cfg.MaxBodyBytes, cfg.MaxBodyMemoryBytes = 4096, 8192
	deps, store, _ := fakeDeps()
	store.plays[alice] = 150
	s := newServer(t, cfg, deps)
	h := s.Handler()

	// Two callouts with valid tokens whose 4090-byte bodies (8180 of the 8192) are still arriving.
	var held sync.WaitGroup
	writers := make([]*io.PipeWriter, 2)
	for i := range writers {
		pr, pw := io.Pipe()
		writers[i] = pw
		req := newCallout(t, alice, bytes.Repeat([]byte(" "), 4090)).request(t)
		req.Body, req.ContentLength = pr, 4090
		held.Go(func() {
			if rec := serve(h, req); rec.Code != http.StatusBadRequest {
				t.Errorf("held callout %d: status = %d; want 400 once its body fails", i, rec.Code)
			}
		})
		if _, err := pw.Write([]byte(" ")); err != nil { // returns once the handler reads
			t.Fatal(err)
		}
	}

	rec := serve(h, newCallout(t, alice, eventBody(t, alice, nil, nil)).request(t))
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("callout past the budget: status = %d; want 503 (%s)", rec.Code, rec.Body)
	}
	if got := errorOf(t, rec).Error; got != "unavailable" {
		t.Errorf("error = %q; want unavailable", got)
	}
	if rec.Header().Get("Retry-After") == "" {
		t.Error("no Retry-After on the 503")
	}
	for _, pw := range writers {
		pw.CloseWithError(errors.New("client went away"))
	}
	held.Wait()
	if got := s.bodies.used.Load(); got != 0 {
		t.Errorf("budget in use after every callout ended = %d; want 0", got)
	}
	if rec := serve(h, newCallout(t, alice, eventBody(t, alice, nil, nil)).request(t)); rec.Code != http.StatusOK {
		t.Errorf("callout after the budget was given back: status = %d; want 200 (%s)", rec.Code, rec.Body)
	}
}

func TestBodyBudgetLargeBodiesUseHalf(t *testing.T) {
	b := bodyBudget{limit: 1 << 20}
	if !b.take(400 << 10) {
		t.Fatal("take(400 KiB) of 1 MiB = false")
	}
	if b.take(200 << 10) {
		t.Error("a second large body went past half of the budget")
	}
	if !b.take(1000) {
		t.Error("a small body found no room beside a large one")
	}
}

// TestAnswerMatchesEncodingJSON: the hand-written answer is byte for byte what c.JSON wrote.
func TestAnswerMatchesEncodingJSON(t *testing.T) {
	for _, resp := range []loginResponse{
		{UserID: "auth0|a", Roles: []string{}, AppMetadata: emptyObject, UserMetadata: emptyObject, WrittenBy: "none", Degraded: noneDegraded},
		{UserID: "auth0|<b>&\u2028é\xff", Plays: optionalCount{n: 120, known: true}, Roles: []string{"admin", "a\"b\\", "\x01"},
			AppMetadata: map[string]any{"roles": []any{"admin", json.Number("9007199254740993")}}, UserMetadata: map[string]any{"displayName": "<user>"},
			WrittenBy: "rulehook", Degraded: []string{"redis", "management_api"}},
		{UserID: "x", Plays: optionalCount{n: -1, known: true}},
	} {
		var want bytes.Buffer
		if err := json.NewEncoder(&want).Encode(resp); err != nil {
			t.Fatal(err)
		}
		got, err := appendAnswer(nil, &resp)
		if err != nil || string(got) != want.String() {
			t.Errorf("appendAnswer = %q, %v; want %q", got, err, want.String())
		}
	}
}

// TestNoChangeLoginsLogAtDebug: the logging policy. At info, a login that changes nothing
// writes no line; one that changes something, a rejection and a failure each write one.
func TestNoChangeLoginsLogAtDebug(t *testing.T) {
	var logs logBuffer
	cfg := testConfig()
	cfg.Logger = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	deps, store, _ := fakeDeps()
	store.plays[alice] = 150
	s := newServer(t, cfg, deps)
	h := s.Handler()
	named := map[string]any{"displayName": "A"}
	editor := map[string]any{"roles": []any{"playlist_editor"}}

	mustStatus(t, "no change", serve(h, newCallout(t, alice, eventBody(t, alice, editor, named)).request(t)).Code, 200)
	if n := len(logs.lines(t)); n != 0 {
		t.Fatalf("a no-change login wrote %d lines at info; want 0:\n%s", n, logs.String())
	}
	mustStatus(t, "promote", serve(h, newCallout(t, alice, eventBody(t, alice, nil, named)).request(t)).Code, 200)
	mustStatus(t, "rejected", serve(h, httptest.NewRequest(http.MethodPost, "/v1/post-login", nil)).Code, 401)
	lines := logs.lines(t)
	if len(lines) != 2 {
		t.Fatalf("got %d lines; want 2 (the promotion and the rejection):\n%s", len(lines), logs.String())
	}
	if lines[0]["reason"] != reasonWritten || lines[1]["reason"] != reasonNoToken {
		t.Errorf("lines = %v; want reasons %q then %q", lines, reasonWritten, reasonNoToken)
	}
}
