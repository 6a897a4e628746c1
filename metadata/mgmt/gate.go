package mgmt

import (
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

const (
	// rateLimitFallback closes the gate after a 429 without a usable X-RateLimit-Reset.
	rateLimitFallback = time.Second
	// maxGateClose bounds how long one answer can close the gate, against a bogus reset.
	maxGateClose = 5 * time.Minute
	// probeWait is how long background calls wait after a probe for its answer before the next
	// probe, when the answer never comes.
	probeWait = time.Second
	// probeBackoff is the extra wait after the reset per strain (up to maxStrain), and
	// probeJitter the most added at random, so that the probes of separate processes, which all
	// read the same whole-second X-RateLimit-Reset, do not fall on the same instant as each other
	// or lock onto the phase of a steady stream of logins.
	probeBackoff = time.Second
	maxStrain    = 5
	probeJitter  = time.Second
)

// Budget is a process's share of the tenant's Management API rate limit, fed by the
// X-RateLimit-* headers of every answer. Every Management API call of the process goes through
// it (Writer's calls do; other clients use Transport or Wait):
//   - a 429 closes the gate until its X-RateLimit-Reset: no call is sent until then, a
//     Foreground call is refused at once (the Writer queues the write), a Background one waits;
//   - X-RateLimit-Remaining, less the calls booked since, estimates what the tenant's bucket
//     holds; a Background call waits while it holds no more than the reserve (Auth0's free tier
//     shares one bucket of 2 between reads, writes and Actions calls), and until the
//     X-RateLimit-Reset, "the expected time when additional requests will be added" (Auth0 docs
//     "Rate Limit Use Cases"), plus up to a second at random; then one call probes and its
//     answer tells the rest. The token that reset promised may have gone to another process's
//     login meanwhile: every answer that shows the reserve spent (a 429, or less Remaining than
//     the reserve) holds the next probe a second longer, and every other answer a second less.
//
// Foreground calls (logins) never wait on the reserve: they take it. A Budget is safe for
// concurrent use; the zero value is not usable, call NewBudget.
type Budget struct {
	now     func() time.Time
	log     *slog.Logger
	reserve int64        // tokens Background leaves to Foreground; negative: none
	waiters atomic.Int64 // calls blocked in wait, for tests to know a waiter is there

	mu          sync.Mutex
	closedUntil time.Time
	known       bool      // an answer has carried X-RateLimit-Remaining
	remaining   int64     // the tenant's tokens as estimated; may go negative
	limit       int64     // last X-RateLimit-Limit; 0 before any
	reset       time.Time // when the tenant adds tokens next, as last said
	next        time.Time // when a Background call may probe after the reset
	strain      int       // answers that showed the reserve spent, less those that did not
	jitter      func() time.Duration
	changed     chan struct{}
}

// BudgetOptions configure NewBudget.
type BudgetOptions struct {
	// Reserve is how many tokens of the tenant's bucket Background calls leave to Foreground
	// ones, at most X-RateLimit-Limit less one (default DefaultLowRemaining; negative: none).
	Reserve int
	// Logger receives a warning when a 429 closes the gate; nil discards.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// NewBudget returns an open Budget that has seen no answer yet.
func NewBudget(o BudgetOptions) *Budget {
	if o.Reserve == 0 {
		o.Reserve = DefaultLowRemaining
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Budget{now: o.Now, log: o.Logger, reserve: int64(o.Reserve), changed: make(chan struct{}),
		jitter: func() time.Duration { return rand.N(probeJitter) }}
}

// Observe reads the rate-limit headers of a Management API answer (h may be nil when there was
// none) and wakes the calls waiting for it.
func (b *Budget) Observe(status int, h http.Header) {
	now := b.now()
	reset, hasReset := parseUnix(h.Get("X-RateLimit-Reset"))
	remaining, hasRemaining := parseInt(h.Get("X-RateLimit-Remaining"))
	limit, hasLimit := parseInt(h.Get("X-RateLimit-Limit"))

	b.mu.Lock()
	defer b.mu.Unlock()
	defer b.wakeLocked()
	if hasLimit && limit > 0 {
		b.limit = limit
	}
	if hasRemaining {
		b.known, b.remaining = true, remaining
	}
	if hasReset {
		b.reset = reset
	}
	if status != http.StatusTooManyRequests {
		if hasRemaining && remaining < b.reserveLocked() {
			b.strain = min(b.strain+1, maxStrain)
		} else if hasRemaining {
			b.strain = max(b.strain-1, 0)
		}
		b.next = b.reset.Add(time.Duration(b.strain)*probeBackoff + b.jitter())
		return
	}
	b.known, b.remaining = true, 0
	b.strain = min(b.strain+1, maxStrain)
	until := reset
	if !hasReset || !until.After(now) {
		until = now.Add(rateLimitFallback)
	}
	until = minTime(until, now.Add(maxGateClose))
	b.reset = until
	b.next = until.Add(time.Duration(b.strain)*probeBackoff + b.jitter())
	if !until.After(b.closedUntil) {
		return
	}
	if !b.closedUntil.After(now) {
		b.log.Warn("management api rate limited: writes queued until the reset",
			"reset", until.UTC().Format(time.RFC3339), "wait_ms", until.Sub(now).Milliseconds())
	}
	b.closedUntil = until
}

func (b *Budget) observe(status int, h http.Header) { b.Observe(status, h) }

func (b *Budget) wakeLocked() {
	close(b.changed)
	b.changed = make(chan struct{})
}

// closed reports whether a 429's reset is ahead, and when it is.
func (b *Budget) closed() (bool, time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closedUntil.After(b.now()) {
		return true, b.closedUntil
	}
	return false, time.Time{}
}

// reserveLocked is the reserve the tenant's bucket allows: at most its size less one.
func (b *Budget) reserveLocked() int64 {
	if b.limit > 0 {
		return min(b.reserve, b.limit-1)
	}
	return b.reserve
}

// pacedLocked reports whether a Background call must wait for the reset, and until when. Once
// the reset (and the strain's extra wait) has passed the tenant has added at least one token:
// the estimate lets one call through, whose answer says how many. Only a call that books (book)
// takes that probe and starts its probeWait; a look (state, delay, ready) changes nothing.
func (b *Budget) pacedLocked(now time.Time, book bool) (bool, time.Time) {
	r := b.reserveLocked()
	if !b.known || r < 0 || b.remaining > r {
		return false, time.Time{}
	}
	if b.next.After(now) {
		return true, b.next
	}
	if book {
		b.remaining, b.next = r+1, now.Add(probeWait)
	}
	return false, time.Time{}
}

// GateState is the rate budget as seen in Stats.
type GateState struct {
	// Closed is true while a 429's reset is ahead: no Management API call is made.
	Closed bool
	// Paced is true while Background calls (the worker, reconcile) wait for the reset because
	// the tenant's bucket holds no more than the reserve; logins still write.
	Paced bool
	// Reset is when the gate opens; while it is open and Background calls are paced, when the
	// pacing ends; zero when the gate is open and nothing is paced.
	Reset time.Time
	// Remaining is the estimate of the tenant's bucket: the last X-RateLimit-Remaining less the
	// calls booked since; -1 before any answer carried one.
	Remaining int64
}

func (b *Budget) state() GateState {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	s := GateState{Remaining: -1, Closed: b.closedUntil.After(now)}
	if b.known {
		s.Remaining = b.remaining
	}
	paced, until := b.pacedLocked(now, false)
	s.Paced = paced
	switch {
	case s.Closed:
		s.Reset = b.closedUntil
	case paced:
		s.Reset = until
	}
	return s
}

// State returns the budget's state now. It makes no call and books nothing: a probe due is left
// to the call that takes it.
func (b *Budget) State() GateState { return b.state() }

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
