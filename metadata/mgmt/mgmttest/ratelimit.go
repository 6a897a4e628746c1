package mgmttest

import (
	"math"
	"net/http"
	"strconv"
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
// returns false.
func (b *bucket) take(now time.Time, enforce bool) bool {
	b.refill(now)
	if b.tokens < 1 && enforce {
		return false
	}
	b.tokens = math.Max(0, b.tokens-1)
	return true
}

// status is what the X-RateLimit headers say of the bucket now: its size, the whole tokens left,
// and when the next token is added. Auth0 documents X-RateLimit-Reset as "the expected time when
// additional requests will be added to the bucket", in Unix seconds (Auth0 docs "Rate Limit Use
// Cases", section "Predict when requests to a tenant will be rate limited"); go-auth0 waits until
// it before retrying a 429 (management/internal/retrier.go). A full bucket answers now.
func (b *bucket) status(now time.Time) (limit, remaining int, reset time.Time) {
	b.refill(now)
	next := 0.0
	if b.tokens < b.capacity {
		next = (math.Floor(b.tokens) + 1 - b.tokens) / b.rate
	}
	return int(b.capacity), int(b.tokens), now.Add(time.Duration(next * float64(time.Second)))
}

// limitedBucket is a live Bucket of the tier in force.
type limitedBucket struct {
	Bucket
	*bucket
}

// rateLimits holds the tier's buckets and the informational bucket every other answer reports.
type rateLimits struct {
	mu      sync.Mutex
	all     *bucket // informational: never refuses
	buckets []limitedBucket
}

func newRateLimits(cfg config, now time.Time) *rateLimits {
	limit := float64(DefaultRateLimit)
	rl := &rateLimits{all: newBucket(limit, limit, now)}
	tier := cfg.tier
	if tier == nil && cfg.writeRate > 0 {
		t := writeTier(cfg.writeRate, cfg.writeBurst)
		tier = &t
	}
	if tier != nil {
		for _, b := range tier.Buckets {
			rl.buckets = append(rl.buckets, limitedBucket{Bucket: b,
				bucket: newBucket(float64(max(b.Burst, 1)), b.PerSecond, now)})
		}
	}
	return rl
}

// bucketFor is the bucket r counts against, and whether it refuses when empty; mu must be held.
func (rl *rateLimits) bucketFor(r *http.Request) (*bucket, bool) {
	for _, b := range rl.buckets {
		if b.matches(r) {
			return b.bucket, true
		}
	}
	return rl.all, false
}

// admit spends a token of r's bucket, sets the X-RateLimit headers and answers 429 (returning
// false) when r's bucket is enforced and empty.
func (rl *rateLimits) admit(w http.ResponseWriter, r *http.Request, now time.Time) bool {
	rl.mu.Lock()
	b, enforce := rl.bucketFor(r)
	ok := b.take(now, enforce)
	limit, remaining, reset := b.status(now)
	rl.mu.Unlock()
	setRateHeaders(w, limit, remaining, reset)
	if !ok {
		tooManyRequests(w, r)
	}
	return ok
}

// headers sets r's bucket's X-RateLimit headers without spending a token.
func (rl *rateLimits) headers(w http.ResponseWriter, r *http.Request, now time.Time) {
	rl.mu.Lock()
	b, _ := rl.bucketFor(r)
	limit, remaining, reset := b.status(now)
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
