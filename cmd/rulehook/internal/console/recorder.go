package console

import (
	"bytes"
	"encoding/json"
	"net/http"
	"sync"
)

// maxRecorded bounds one recorded callout answer; rulehook's answers are a few hundred bytes.
const maxRecorded = 16 << 10

// Recorder keeps the last answer of POST /v1/post-login for each user, so that the console can
// show what rulehook told the Action. The Action itself reports only what it did with the answer.
type Recorder struct {
	mu   sync.Mutex
	last map[string]json.RawMessage
}

// NewRecorder returns an empty Recorder.
func NewRecorder() *Recorder { return &Recorder{last: map[string]json.RawMessage{}} }

// Wrap records the callout answers that next writes; every other route passes untouched.
func (rec *Recorder) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v1/post-login" {
			next.ServeHTTP(w, r)
			return
		}
		tee := &teeWriter{ResponseWriter: w}
		next.ServeHTTP(tee, r)
		rec.keep(tee.buf.Bytes())
	})
}

// Take returns and forgets the last answer recorded for userID; nil when there is none.
func (rec *Recorder) Take(userID string) json.RawMessage {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	b := rec.last[userID]
	delete(rec.last, userID)
	return b
}

// Forget drops what was recorded for userID, before a new login of that user.
func (rec *Recorder) Forget(userID string) { rec.Take(userID) }

func (rec *Recorder) keep(body []byte) {
	var head struct {
		UserID string `json:"user_id"`
	}
	if len(body) == 0 || json.Unmarshal(body, &head) != nil || head.UserID == "" {
		return // an error answer names no user; the console shows the Action's view of it
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.last[head.UserID] = append(json.RawMessage(nil), body...)
}

// teeWriter copies what is written, up to maxRecorded bytes, on its way to the client.
type teeWriter struct {
	http.ResponseWriter
	buf bytes.Buffer
}

func (t *teeWriter) Write(p []byte) (int, error) {
	if room := maxRecorded - t.buf.Len(); room > 0 {
		t.buf.Write(p[:min(len(p), room)])
	}
	return t.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the underlying writer (deadlines, flushing).
func (t *teeWriter) Unwrap() http.ResponseWriter { return t.ResponseWriter }
