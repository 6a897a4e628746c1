package webhook

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/rulehook/rulehook/metadata"
)

// steadyLogins answers every BeginLogin with the same count and never sees a replay, so that one
// signed callout can be sent b.N times.
type steadyLogins struct{ plays int64 }

func (s steadyLogins) BeginLogin(context.Context, string, string, time.Duration) (metadata.PlayCount, error) {
	return metadata.PlayCount{N: s.plays, Recorded: true}, nil
}

// BenchmarkCalloutNoChange measures the edge's own cost of the hot path (a refresh that changes
// nothing): verification, decoding, the decision and the answer, with Redis out of the picture.
func BenchmarkCalloutNoChange(b *testing.B) {
	for _, name := range []string{"no-logs", "json-logs"} {
		logged := name == "json-logs"
		b.Run(name, func(b *testing.B) {
			cfg := testConfig()
			cfg.Now = time.Now
			if logged {
				cfg.Logger = newLogger(io.Discard)
			}
			deps, _, _ := fakeDeps()
			deps.Logins = steadyLogins{plays: 150}
			s := newServer(b, cfg, deps)
			h := s.Handler()
			body := eventBody(b, alice, map[string]any{"roles": []any{"admin", "playlist_editor"}}, map[string]any{"displayName": "J"})
			co := newCallout(b, alice, body)
			co.claims["iat"], co.claims["exp"] = time.Now().Unix(), time.Now().Add(5*time.Minute).Unix()
			authz := "Bearer " + co.token(b)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				req := httptest.NewRequest(http.MethodPost, "/v1/post-login", bytes.NewReader(body))
				req.Header.Set("Authorization", authz)
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("status = %d (%s)", rec.Code, rec.Body)
				}
			}
		})
	}
}

// BenchmarkHealthz is the floor the callout is compared with.
func BenchmarkHealthz(b *testing.B) {
	deps, _, _ := fakeDeps()
	s := newServer(b, testConfig(), deps)
	h := s.Handler()
	b.ReportAllocs()
	for range b.N {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	}
}
