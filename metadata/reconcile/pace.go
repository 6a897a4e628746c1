package reconcile

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rulehook/rulehook/metadata"
)

const (
	// gatePoll is how soon a closed gate without a usable reset is asked again.
	gatePoll = 250 * time.Millisecond
	// maxGateWait bounds one wait for the gate, against a bogus reset.
	maxGateWait = 5 * time.Minute
	// queuedInRowBackoff: after this many writes in a row came back queued while the gate was
	// open (the tenant failing, the breaker open), the next ones are spaced out exponentially so a
	// tenant outage does not pour the whole tenant into the retry queue.
	queuedInRowBackoff = 3
	minBackoff         = 500 * time.Millisecond
	maxBackoff         = 30 * time.Second
	// listAttempts bounds the tries of one call (retry) that fails with ErrUnavailable.
	listAttempts = 5
	// rateLimitedListWaits bounds the waits of one call (retry) for a rate limit to pass.
	rateLimitedListWaits = 20
	// auth0ListLimit is how many users Auth0 lets a client page through.
	auth0ListLimit = 1000
)

// waitToWrite waits until the next write may start: the gate open, the rate respected, and the
// backoff after writes queued in a row served.
func (r *runner) waitToWrite(ctx context.Context) error {
	if d := r.backoff(); d > 0 {
		if err := metadata.Sleep(ctx, d); err != nil {
			return err
		}
	}
	for {
		if err := r.waitGate(ctx); err != nil {
			return err
		}
		if err := r.pacer.Wait(ctx); err != nil {
			return err
		}
		if closed, _ := r.gateClosed(); !closed {
			return nil
		}
	}
}

func (r *runner) gateClosed() (bool, time.Time) {
	if r.deps.Gate == nil {
		return false, time.Time{}
	}
	return r.deps.Gate.Gate()
}

// waitGate returns once the gate is open.
func (r *runner) waitGate(ctx context.Context) error {
	for {
		closed, reset := r.gateClosed()
		if !closed {
			r.noteOpen()
			return ctx.Err()
		}
		d := time.Until(reset)
		if reset.IsZero() || d <= 0 {
			d = gatePoll
		}
		r.notePause(reset)
		if err := metadata.Sleep(ctx, min(d, maxGateWait)); err != nil {
			return err
		}
	}
}

// backoff is the pause owed for the writes queued in a row while the gate was open.
func (r *runner) backoff() time.Duration {
	r.mu.Lock()
	n := r.queuedInRow
	r.mu.Unlock()
	if n < queuedInRowBackoff {
		return 0
	}
	d := minBackoff << min(n-queuedInRowBackoff, 10)
	return min(d, maxBackoff)
}

// list reads one page through retry: waiting out rate limits and retrying a few times on
// ErrUnavailable. A page past the listing's reach is refused with ErrInvalid, which the error
// explains.
func (r *runner) list(ctx context.Context, page, perPage int) ([]metadata.User, int, error) {
	var (
		users []metadata.User
		total int
		last  error // the last call's, for the hint
	)
	err := r.retry(ctx, fmt.Sprintf("list page %d of %d users", page, perPage), func(ctx context.Context) error {
		users, total, last = r.deps.Users.ListUsers(ctx, page, perPage)
		return last
	})
	switch {
	case err == nil:
		return users, total, nil
	case ctx.Err() != nil:
		return nil, 0, ctx.Err()
	case errors.Is(err, metadata.ErrInvalid) && page*perPage >= auth0ListLimit:
		return nil, 0, fmt.Errorf("reconcile: list page %d of %d users (Auth0 lets a client page through its first 1000 users only): %w",
			page, perPage, last)
	}
	return nil, 0, err
}
