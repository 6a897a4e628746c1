package mgmttest

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// bucket is a token bucket: capacity tokens, refilled at rate per second.
type bucket struct {
	capacity float64
	rate     float64
	tokens   float64
	last     time.Time
}

func newBucket(capacity, rate float64, now time.Time) *bucket {
	return &bucket{capacity: capacity, rate: rate, tokens: capacity, last: now}
}

func (b *bucket) refill(now time.Time) {
	if el := now.Sub(b.last).Seconds(); el > 0 {
		b.tokens = math.Min(b.capacity, b.tokens+el*b.rate)
		b.last = now
	}
}

// take spends one token. When the bucket is empty and enforce is set it spends nothing and
// returns false with the time from which a token is available; otherwise it returns the time at
// which the bucket is full again.
func (b *bucket) take(now time.Time, enforce bool) (ok bool, remaining int, reset time.Time) {
	b.refill(now)
	if b.tokens < 1 && enforce {
		wait := (1 - b.tokens) / b.rate
		return false, 0, now.Add(time.Duration(wait * float64(time.Second)))
	}
	b.tokens = math.Max(0, b.tokens-1)
	full := (b.capacity - b.tokens) / b.rate
	return true, int(b.tokens), now.Add(time.Duration(full * float64(time.Second)))
}

// rateLimits holds the informational bucket every answer reports and the optional write limit.
type rateLimits struct {
	mu     sync.Mutex
	all    *bucket
	writes *bucket // nil when writes are not limited
}

func newRateLimits(cfg config, now time.Time) *rateLimits {
	limit := float64(max(cfg.rateLimit, 1))
	rl := &rateLimits{all: newBucket(limit, limit, now)}
	if cfg.writeRate > 0 {
		rl.writes = newBucket(float64(cfg.writeBurst), cfg.writeRate, now)
	}
	return rl
}

func isWrite(r *http.Request) bool {
	switch r.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		return strings.HasPrefix(r.URL.Path, "/api/v2/")
	}
	return false
}

// admit sets the X-RateLimit headers for r and answers 429 (returning false) when r is a write
// over the write limit.
func (rl *rateLimits) admit(w http.ResponseWriter, r *http.Request, now time.Time) bool {
	rl.mu.Lock()
	b, enforce := rl.all, false
	if rl.writes != nil && isWrite(r) {
		b, enforce = rl.writes, true
	}
	ok, remaining, reset := b.take(now, enforce)
	limit := int(b.capacity)
	rl.mu.Unlock()
	setRateHeaders(w, limit, remaining, reset)
	if !ok {
		tooManyRequests(w, r)
	}
	return ok
}

// headers sets the informational X-RateLimit headers without spending a token.
func (rl *rateLimits) headers(w http.ResponseWriter, now time.Time) {
	rl.mu.Lock()
	rl.all.refill(now)
	remaining := int(rl.all.tokens)
	reset := now.Add(time.Duration((rl.all.capacity - rl.all.tokens) / rl.all.rate * float64(time.Second)))
	limit := int(rl.all.capacity)
	rl.mu.Unlock()
	setRateHeaders(w, limit, remaining, reset)
}

func setRateHeaders(w http.ResponseWriter, limit, remaining int, reset time.Time) {
	h := w.Header()
	h.Set("X-RateLimit-Limit", strconv.Itoa(limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(remaining))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(ceilUnix(reset), 10))
}

// ceilUnix is t in Unix seconds, rounded up so that waiting until it is always long enough.
func ceilUnix(t time.Time) int64 {
	sec := t.Unix()
	if t.Nanosecond() > 0 {
		sec++
	}
	return sec
}
