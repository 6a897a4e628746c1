package mgmt

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/sony/gobreaker/v2"
	"golang.org/x/time/rate"

	"github.com/rulehook/rulehook/metadata"
)

// Worker defaults, applied by RunWorker to zero WorkerOptions fields.
const (
	DefaultLease      = 30 * time.Second
	DefaultPoll       = time.Second
	DefaultMinBackoff = time.Second
	DefaultMaxBackoff = 5 * time.Minute
)

// queueOpTimeout bounds Done and Retry, which run even while the worker stops: an applied entry
// must be acknowledged, a claimed one given back.
const queueOpTimeout = 2 * time.Second

// WorkerOptions tune RunWorker. Zero values take the defaults named on each field.
type WorkerOptions struct {
	// Lease is how long a claimed entry stays with this worker (default DefaultLease). It must be
	// longer than a GET and a PATCH take (at least 3 × Config.Timeout); an entry whose lease ends
	// is claimed again and re-applied, which is harmless (only differences are written) but costs
	// calls.
	Lease time.Duration
	// Poll is how long an idle worker waits before looking at the queue again (default
	// DefaultPoll); a Write or Rerun of this process wakes it at once.
	Poll time.Duration
	// MinBackoff and MaxBackoff bound the exponential wait after a failed attempt (defaults
	// DefaultMinBackoff and DefaultMaxBackoff); a 429 waits for its reset instead.
	MinBackoff, MaxBackoff time.Duration
	// Interval is the least time between two Management API calls of this worker (default 0: as
	// fast as the Writer's Budget lets Background calls go).
	Interval time.Duration
	// ExplicitOnly applies only what an entry writes on its own (the app API's displayName), not a
	// re-run of the rules: in WRITE_MODE action or shadow another party writes what the rules
	// decide (CONTRACT: exactly one writer per key), so a re-run that an earlier management-mode
	// process queued is dropped with the rest of the entry written.
	ExplicitOnly bool
}

func (o WorkerOptions) withDefaults(timeout time.Duration) (WorkerOptions, error) {
	o.Lease, o.Poll = cmp.Or(o.Lease, DefaultLease), cmp.Or(o.Poll, DefaultPoll)
	o.MinBackoff, o.MaxBackoff = cmp.Or(o.MinBackoff, DefaultMinBackoff), cmp.Or(o.MaxBackoff, DefaultMaxBackoff)
	var errs []error
	if o.Lease < 3*timeout {
		errs = append(errs, fmt.Errorf("lease %s is shorter than 3 × the call timeout %s", o.Lease, timeout))
	}
	if o.Poll < 0 || o.MinBackoff < 0 || o.Interval < 0 {
		errs = append(errs, errors.New("poll, backoff and interval must not be negative"))
	}
	if o.MaxBackoff < o.MinBackoff {
		errs = append(errs, fmt.Errorf("max backoff %s is below min backoff %s", o.MaxBackoff, o.MinBackoff))
	}
	if len(errs) > 0 {
		return o, fmt.Errorf("%w: worker options: %w", metadata.ErrInvalid, errors.Join(errs...))
	}
	return o, nil
}

// RunWorker applies queued writes until ctx ends, then returns nil (or, at once, an error wrapping
// metadata.ErrInvalid for bad options or an empty consumer). consumer names this worker in the
// queue's leases; give each replica its own (the pod name).
//
// For each claimed entry it reads the user (404: the entry is dropped), applies the entry's
// explicit values, re-runs the rules with the current play count when the entry asks for it (a
// play count that cannot be read leaves the entry queued: no demotion on an outage; one that is
// not recorded leaves the roles as they are, CONTRACT rule 6), and PATCHes
// only what differs from the user's current metadata (no call when nothing does). Success is
// acknowledged (Done) and audited with Reason metadata.ReasonQueue; a 429 gives the entry back
// until the reset, a 5xx, timeout, network error or a 200 that is not the user asked for until an
// exponential backoff, a configuration error (403, or a 401 a fresh token did not cure) until
// Config.ConfigRetry has passed, and another 4xx drops it.
// Its calls are Background in the Writer's Budget: while the gate is closed, the tenant's bucket
// down to the reserve kept for logins, or the breaker open, the worker makes no call and waits,
// without spinning.
func (w *Writer) RunWorker(ctx context.Context, consumer string, opts WorkerOptions) error {
	opts, err := opts.withDefaults(w.cfg.Timeout)
	if err != nil {
		return err
	}
	if consumer == "" || strings.ContainsAny(consumer, " \r\n") {
		return fmt.Errorf("%w: worker consumer must be a non-empty name without spaces", metadata.ErrInvalid)
	}
	k := &worker{w: w, consumer: consumer, opts: opts, interval: rate.NewLimiter(rate.Inf, 1)}
	if opts.Interval > 0 {
		k.interval = rate.NewLimiter(rate.Every(opts.Interval), 1)
	}
	ctx = WithPriority(ctx, Background)
	w.log.Info("queue worker started", "consumer", consumer)
	for ctx.Err() == nil {
		k.step(ctx)
	}
	w.log.Info("queue worker stopped", "consumer", consumer)
	return nil
}

type worker struct {
	w        *Writer
	consumer string
	opts     WorkerOptions
	interval *rate.Limiter // Interval between two calls of this worker
}

// step claims one entry and applies it, or waits.
func (k *worker) step(ctx context.Context) {
	if wait := k.pause(); wait > 0 {
		k.sleep(ctx, wait, false)
		return
	}
	entries, err := k.w.queue.Claim(ctx, k.consumer, 1, k.opts.Lease)
	if err != nil {
		if ctx.Err() == nil {
			k.w.log.Warn("queue claim failed", "consumer", k.consumer, "error", err)
			k.sleep(ctx, k.opts.Poll, false)
		}
		return
	}
	if len(entries) == 0 {
		k.sleep(ctx, k.opts.Poll, true)
		return
	}
	for _, e := range entries {
		k.apply(ctx, e)
	}
}

// pause is how long the worker must wait before any call: the budget, the breaker, a parked
// configuration error (of reads or of writes: an entry needs both).
func (k *worker) pause() time.Duration {
	wait := k.w.gate.delay(Background)
	if wait <= 0 && k.w.breaker.State() == gobreaker.StateOpen {
		wait = k.opts.Poll
	}
	for _, op := range []string{"GET user", "PATCH user"} {
		if parked, until := k.w.park.blocked(op); parked {
			wait = max(wait, until.Sub(k.w.cfg.Now()))
		}
	}
	return wait
}

func (k *worker) apply(ctx context.Context, e metadata.QueueEntry) {
	w := k.w
	rerun := e.Rerun && !k.opts.ExplicitOnly
	var plays metadata.PlayCount
	if rerun {
		p, err := w.plays.PlayCount(ctx, e.UserID)
		if err != nil {
			k.retry(ctx, e, k.backoff(e.Attempts), "play count unavailable", err)
			return
		}
		plays = p
	}
	if !k.waitToCall(ctx, e) {
		return
	}
	u, err := k.getUser(ctx, e.UserID)
	if err != nil {
		k.failed(ctx, e, err)
		return
	}
	patch := e.Explicit.Effective(u)
	if rerun {
		d := w.cfg.Policy.Decide(metadata.Input{User: patch.Apply(u)}.WithPlays(plays))
		patch = patch.Merge(d.Patch)
	}
	if patch.IsEmpty() {
		w.stats.unchanged.Add(1)
		k.done(ctx, e)
		return
	}
	if err := patch.Validate(); err != nil {
		k.drop(ctx, e, "queued values are not writable", err)
		return
	}
	if !k.waitToCall(ctx, e) {
		return
	}
	callCtx, cancel, _ := w.callContext(ctx, 0)
	err = w.patchUser(callCtx, e.UserID, patch)
	cancel()
	if err != nil {
		k.failed(ctx, e, err)
		return
	}
	w.stats.applied.Add(1)
	k.done(ctx, e)
	w.log.Info("queued write applied", metadata.UserAttr(e.UserID), "version", e.Version, "attempts", e.Attempts,
		"reason", e.Reason, "request_id", e.RequestID)
	w.audit(context.WithoutCancel(ctx), e.UserID, metadata.ReasonQueue, e.RequestID, patch.Changes(u))
}

func (k *worker) getUser(ctx context.Context, id string) (metadata.User, error) {
	callCtx, cancel, _ := k.w.callContext(ctx, 0)
	defer cancel()
	return k.w.getUser(callCtx, id)
}

// waitToCall waits until the worker may call: Interval, then its turn in the budget (Background: the
// gate open and more than the reserve left to logins). A wait longer than a quarter of the lease
// gives the entry back instead, until the wait would end.
func (k *worker) waitToCall(ctx context.Context, e metadata.QueueEntry) bool {
	wctx, cancel := context.WithTimeout(ctx, k.opts.Lease/4)
	defer cancel()
	err := k.interval.Wait(wctx)
	if err == nil {
		err = k.w.gate.ready(wctx, Background)
	}
	var rl *metadata.RateLimitError
	switch {
	case err == nil:
		return true
	case ctx.Err() != nil:
		k.retry(ctx, e, k.w.cfg.Now(), "worker stopping", ctx.Err())
	case errors.As(err, &rl):
		k.retry(ctx, e, rl.Reset, "rate limited", nil)
	default: // the interval or the pacing outlasted the quarter lease
		k.retry(ctx, e, k.w.cfg.Now().Add(k.opts.MinBackoff), "rate limited", nil)
	}
	return false
}

// failed decides what becomes of an entry whose call failed.
func (k *worker) failed(ctx context.Context, e metadata.QueueEntry, err error) {
	var ce *callError
	errors.As(err, &ce)
	switch kindOf(err) {
	case kindNotFound:
		k.drop(ctx, e, "user not found", nil)
	case kindInvalid:
		k.drop(ctx, e, "tenant refused the patch", err)
	case kindRateLimited:
		until := k.w.cfg.Now().Add(k.opts.MinBackoff)
		if ce != nil && !ce.reset.IsZero() {
			until = ce.reset
		}
		k.retry(ctx, e, until, "rate limited", err)
	case kindCanceled:
		k.retry(ctx, e, k.w.cfg.Now(), "worker stopping", err)
	case kindConfig: // kept, and tried again when the parking ends (Config.ConfigRetry)
		k.retry(ctx, e, ce.reset, "configuration error", err)
	default:
		k.retry(ctx, e, k.backoff(e.Attempts), "tenant unavailable", err)
	}
}

func (k *worker) backoff(attempts int) time.Time {
	d := k.opts.MaxBackoff
	if attempts < 30 {
		d = min(k.opts.MinBackoff<<attempts, k.opts.MaxBackoff)
	}
	if d > 0 { // ±20 % so that entries failed together do not come back together
		d = d*4/5 + rand.N(d*2/5+1)
	}
	return k.w.cfg.Now().Add(d)
}

func (k *worker) retry(ctx context.Context, e metadata.QueueEntry, notBefore time.Time, why string, cause error) {
	k.w.stats.retr.Add(1)
	qctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), queueOpTimeout)
	defer cancel()
	if err := k.w.queue.Retry(qctx, e, notBefore); err != nil {
		k.w.log.Warn("queue retry failed; the entry comes back when its lease ends", metadata.UserAttr(e.UserID), "error", err)
		return
	}
	k.w.log.Info("queued write put back", metadata.UserAttr(e.UserID), "why", why, "attempts", e.Attempts+1,
		"not_before", notBefore.UTC().Format(time.RFC3339Nano), "error", errString(cause))
}

func (k *worker) done(ctx context.Context, e metadata.QueueEntry) {
	qctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), queueOpTimeout)
	defer cancel()
	if err := k.w.queue.Done(qctx, e); err != nil {
		k.w.log.Warn("queue done failed; the entry comes back when its lease ends", metadata.UserAttr(e.UserID), "error", err)
	}
}

func (k *worker) drop(ctx context.Context, e metadata.QueueEntry, why string, cause error) {
	k.w.stats.dropped.Add(1)
	k.w.log.Warn("queued write dropped", metadata.UserAttr(e.UserID), "why", why, "reason", e.Reason,
		"request_id", e.RequestID, "error", errString(cause))
	k.done(ctx, e)
}

// sleep waits d, or less when ctx ends (false) or, if wakeable, a Put of this process nudges.
func (k *worker) sleep(ctx context.Context, d time.Duration, wakeable bool) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	var wake <-chan struct{}
	if wakeable {
		wake = k.w.wake
	}
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
	case <-wake:
	}
	return true
}
