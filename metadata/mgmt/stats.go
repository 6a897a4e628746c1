package mgmt

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/sony/gobreaker/v2"
)

// BreakerState is the circuit breaker's state.
type BreakerState int

// Breaker states, in the order a tenant outage walks through them.
const (
	BreakerClosed   BreakerState = iota // calls go through
	BreakerHalfOpen                     // one call probes the tenant
	BreakerOpen                         // no call is made; writes are queued
)

func (s BreakerState) String() string {
	switch s {
	case BreakerClosed:
		return "closed"
	case BreakerHalfOpen:
		return "half-open"
	case BreakerOpen:
		return "open"
	}
	return "unknown"
}

func breakerState(s gobreaker.State) BreakerState {
	switch s {
	case gobreaker.StateHalfOpen:
		return BreakerHalfOpen
	case gobreaker.StateOpen:
		return BreakerOpen
	}
	return BreakerClosed
}

// Stats is a snapshot of a Writer's counters (monotonic since New) and state, for metrics and logs.
// The queue depth is not in it: it costs a Redis call, see (*Writer).QueueDepth.
type Stats struct {
	// Management API answers by class (429 is counted apart from the other 4xx), and calls that got
	// no answer (timeout, network error). Token requests are not included.
	Calls2xx, Calls4xx, Calls429, Calls5xx, CallsNoAnswer int64
	// TokenRequests is the number of /oauth/token requests made; TokenErrors the calls that could
	// not get a token.
	TokenRequests, TokenErrors int64
	// Gate is the rate-limit gate now.
	Gate GateState
	// Breaker is the circuit breaker's state now.
	Breaker BreakerState
	// Write outcomes: PATCHed directly, stored in the queue (including Rerun), or neither.
	Written, Queued, Failed int64
	// Worker outcomes per queue entry: PATCHed, nothing to change, dropped (user gone or patch
	// refused), put back for a later attempt.
	Applied, Unchanged, Dropped, Retried int64
	// ConfigErrors counts configuration-error answers (403, or a 401 a fresh token did not cure);
	// ConfigParked is true while one is unresolved (see Writer.ConfigError).
	ConfigErrors int64
	ConfigParked bool
}

type counters struct {
	c2xx, c4xx, c429, c5xx, cNone     atomic.Int64
	tokenErrors                       atomic.Int64
	written, queued, failed           atomic.Int64
	applied, unchanged, dropped, retr atomic.Int64
}

// count records the answer of one call; status 0 means no answer.
func (c *counters) count(status int) {
	switch {
	case status == 0:
		c.cNone.Add(1)
	case status == 429:
		c.c429.Add(1)
	case status >= 500:
		c.c5xx.Add(1)
	case status >= 400:
		c.c4xx.Add(1)
	default:
		c.c2xx.Add(1)
	}
}

// Stats returns the writer's counters and state. It makes no call.
func (w *Writer) Stats() Stats {
	gate := w.gate.state()
	_, parked := w.park.current()
	return Stats{
		Calls2xx:      w.stats.c2xx.Load(),
		Calls4xx:      w.stats.c4xx.Load(),
		Calls429:      w.stats.c429.Load(),
		Calls5xx:      w.stats.c5xx.Load(),
		CallsNoAnswer: w.stats.cNone.Load(),
		TokenRequests: w.tokens.requests.Load(),
		TokenErrors:   w.stats.tokenErrors.Load(),
		Gate:          gate,
		Breaker:       breakerState(w.breaker.State()),
		Written:       w.stats.written.Load(),
		Queued:        w.stats.queued.Load(),
		Failed:        w.stats.failed.Load(),
		Applied:       w.stats.applied.Load(),
		Unchanged:     w.stats.unchanged.Load(),
		Dropped:       w.stats.dropped.Load(),
		Retried:       w.stats.retr.Load(),
		ConfigErrors:  w.park.count(),
		ConfigParked:  parked,
	}
}

// QueueDepth returns the number of entries in the retry queue (Queue.Depth).
func (w *Writer) QueueDepth(ctx context.Context) (int64, error) { return w.queue.Depth(ctx) }

// OverdueQueue is implemented by a Queue that can tell how long its most overdue entry has
// waited for a worker (redisstore.Store does).
type OverdueQueue interface {
	Overdue(ctx context.Context) (time.Duration, error)
}

// QueueOverdue returns how long the retry queue's most overdue entry has been due without a
// worker taking it (OverdueQueue.Overdue). ok is false when the Queue cannot tell.
func (w *Writer) QueueOverdue(ctx context.Context) (d time.Duration, ok bool, err error) {
	q, ok := w.queue.(OverdueQueue)
	if !ok {
		return 0, false, nil
	}
	d, err = q.Overdue(ctx)
	return d, true, err
}
