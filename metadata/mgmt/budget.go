package mgmt

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/rulehook/rulehook/metadata"
)

// Priority says how a Management API call shares the Budget.
type Priority int

const (
	// Foreground calls are a login's write and the app API's: they are sent at once, taking the
	// reserve too, and refused only while a 429's reset is ahead (the Writer then queues).
	Foreground Priority = iota
	// Background calls are the queue worker's, reconcile's and deploy-action's: they wait until
	// the gate is open and the tenant's bucket holds more than the reserve.
	Background
)

func (p Priority) String() string {
	if p == Background {
		return "background"
	}
	return "foreground"
}

type priorityKey struct{}

// WithPriority returns a context under which the Writer's calls have priority p. Without it a
// call is Foreground; the worker marks its own calls Background, and `rulehook reconcile` runs
// under Background.
func WithPriority(ctx context.Context, p Priority) context.Context {
	return context.WithValue(ctx, priorityKey{}, p)
}

// PriorityOf returns the priority ctx carries (Foreground by default).
func PriorityOf(ctx context.Context) Priority {
	p, _ := ctx.Value(priorityKey{}).(Priority)
	return p
}

// Wait blocks until a call of priority p may be sent and books it (the estimate of the tenant's
// bucket goes down by one). A Foreground call never waits: while a 429's reset is ahead Wait
// returns a *metadata.RateLimitError at once. A Background call waits for the gate and the
// pacing; it returns a *metadata.RateLimitError with the time the wait would end, at once, when
// ctx's deadline comes first, and ctx's error when ctx ends while it waits.
func (b *Budget) Wait(ctx context.Context, p Priority) error { return b.wait(ctx, p, true) }

// ready waits as Wait does without booking: the call that follows books.
func (b *Budget) ready(ctx context.Context, p Priority) error { return b.wait(ctx, p, false) }

func (b *Budget) wait(ctx context.Context, p Priority, book bool) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		until, changed, ok := b.try(p, book)
		if ok {
			return nil
		}
		if p == Foreground {
			return &metadata.RateLimitError{Reset: until}
		}
		if dl, has := ctx.Deadline(); has && dl.Before(until) {
			return &metadata.RateLimitError{Reset: until}
		}
		t := time.NewTimer(until.Sub(b.now()))
		b.waiters.Add(1)
		select { // the loop's first check returns ctx's error
		case <-ctx.Done():
		case <-t.C:
		case <-changed:
		}
		b.waiters.Add(-1)
		t.Stop()
	}
}

// try books a call of priority p when it may go now; otherwise it returns until when it must
// wait at most and a channel closed when an answer changes that.
func (b *Budget) try(p Priority, book bool) (until time.Time, changed <-chan struct{}, ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	if p == Background {
		if paced, until := b.pacedLocked(now, book); paced {
			return until, b.changed, false
		}
	}
	if b.closedUntil.After(now) {
		return b.closedUntil, b.changed, false
	}
	if book && b.known {
		b.remaining--
	}
	return time.Time{}, nil, true
}

// delay is how long a call of priority p would wait now.
func (b *Budget) delay(p Priority) time.Duration {
	until, _, ok := b.try(p, false)
	if ok {
		return 0
	}
	return until.Sub(b.now())
}

// Transport returns an http.RoundTripper that sends every Management API request (a path under
// /api/v2/) through the budget with priority p, and feeds it every answer's headers; other
// requests (the token endpoint) pass through. A request that may not be sent fails with Wait's
// error, before anything is sent. It is how a Management API client other than the Writer (the
// deploy-action command's) shares the process's budget:
//
//	hc := &http.Client{Transport: budget.Transport(http.DefaultTransport, mgmt.Background)}
func (b *Budget) Transport(next http.RoundTripper, p Priority) http.RoundTripper {
	return budgetTransport{b: b, next: next, p: p}
}

type budgetTransport struct {
	b    *Budget
	next http.RoundTripper
	p    Priority
}

func (t budgetTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !strings.HasPrefix(req.URL.Path, "/api/v2/") {
		return t.next.RoundTrip(req)
	}
	if err := t.b.Wait(req.Context(), t.p); err != nil {
		if req.Body != nil {
			_ = req.Body.Close() // a RoundTripper closes the body, even when it sends nothing
		}
		return nil, err
	}
	resp, err := t.next.RoundTrip(req)
	if err == nil {
		t.b.Observe(resp.StatusCode, resp.Header)
	}
	return resp, err
}

// notSent is the error of a call the budget did not let through: rate limited, or the caller
// gone while it waited.
func notSent(ctx context.Context, op string, err error) error {
	var rl *metadata.RateLimitError
	if errors.As(err, &rl) {
		return &callError{op: op, kind: kindRateLimited, reset: rl.Reset, noCall: true}
	}
	return &callError{op: op, kind: ctxKind(ctx), noCall: true, cause: err}
}

// Gate reports whether a Background call would wait now (a 429's reset ahead, or the tenant's
// bucket down to the reserve), and until when. With it the Writer is a reconcile.RateGate, so a
// walk does not even start a write that would only wait.
func (w *Writer) Gate() (closed bool, reset time.Time) {
	s := w.gate.state()
	return s.Closed || s.Paced, s.Reset
}
