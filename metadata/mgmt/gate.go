package mgmt

import (
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"
)

const (
	// rateLimitFallback closes the gate after a 429 without a usable X-RateLimit-Reset.
	rateLimitFallback = time.Second
	// maxGateClose bounds how long one answer can close the gate, against a bogus reset.
	maxGateClose = 5 * time.Minute
)

// gate is the process-wide rate-limit gate. A 429 closes it until X-RateLimit-Reset: no call is
// made until then (Write queues, the worker waits). A low X-RateLimit-Remaining paces the worker
// only: it waits for the reset and leaves the rest of the window to logins.
type gate struct {
	now func() time.Time
	log *slog.Logger
	low int64 // pace the worker at remaining <= low; negative: never

	mu          sync.Mutex
	closedUntil time.Time
	paceUntil   time.Time
	remaining   int64 // last X-RateLimit-Remaining seen; -1 before any
}

func newGate(now func() time.Time, log *slog.Logger, low int) *gate {
	return &gate{now: now, log: log, low: int64(low), remaining: -1}
}

// observe reads the rate-limit headers of an answer (h may be nil when there was none).
func (g *gate) observe(status int, h http.Header) {
	now := g.now()
	reset, hasReset := parseUnix(h.Get("X-RateLimit-Reset"))
	remaining, hasRemaining := parseInt(h.Get("X-RateLimit-Remaining"))

	g.mu.Lock()
	defer g.mu.Unlock()
	if hasRemaining {
		g.remaining = remaining
		switch {
		case g.low >= 0 && remaining <= g.low && hasReset && reset.After(now):
			g.paceUntil = reset
		case remaining > g.low:
			g.paceUntil = time.Time{}
		}
	}
	if status != http.StatusTooManyRequests {
		return
	}
	until := reset
	if !hasReset || !until.After(now) {
		until = now.Add(rateLimitFallback)
	}
	until = minTime(until, now.Add(maxGateClose))
	if !until.After(g.closedUntil) {
		return
	}
	if !g.closedUntil.After(now) {
		g.log.Warn("management api rate limited: writes queued until the reset",
			"reset", until.UTC().Format(time.RFC3339), "wait_ms", until.Sub(now).Milliseconds())
	}
	g.closedUntil = until
}

// closed reports whether calls must wait, and until when.
func (g *gate) closed() (bool, time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closedUntil.After(g.now()) {
		return true, g.closedUntil
	}
	return false, time.Time{}
}

// workerWait is how long the worker waits before its next call: until the gate opens, or until
// the reset when the window is nearly spent.
func (g *gate) workerWait() (time.Duration, time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	until := g.closedUntil
	if g.paceUntil.After(until) {
		until = g.paceUntil
	}
	return until.Sub(g.now()), until
}

// GateState is the rate-limit gate as seen in Stats.
type GateState struct {
	// Closed is true while a 429's reset is ahead: no Management API call is made.
	Closed bool
	// Paced is true while background work (the worker) waits for the reset because Remaining is
	// low; logins still write.
	Paced bool
	// Reset is when the gate opens and the pacing ends (the later of the two); zero when the gate
	// is open and nothing is paced.
	Reset time.Time
	// Remaining is the last X-RateLimit-Remaining seen; -1 before any.
	Remaining int64
}

func (g *gate) state() GateState {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	s := GateState{Remaining: g.remaining, Closed: g.closedUntil.After(now), Paced: g.paceUntil.After(now)}
	if s.Closed {
		s.Reset = g.closedUntil
	}
	if s.Paced && g.paceUntil.After(s.Reset) {
		s.Reset = g.paceUntil
	}
	return s
}

func parseUnix(v string) (time.Time, bool) {
	n, ok := parseInt(v)
	if !ok || n <= 0 {
		return time.Time{}, false
	}
	return time.Unix(n, 0), true
}

func parseInt(v string) (int64, bool) {
	if v == "" {
		return 0, false
	}
	n, err := strconv.ParseInt(v, 10, 64)
	return n, err == nil
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
