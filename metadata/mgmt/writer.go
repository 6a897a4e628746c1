package mgmt

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/auth0/go-auth0/v3/management/client"
	"github.com/sony/gobreaker/v2"

	"github.com/rulehook/rulehook/metadata"
)

// minCallTime: below this much time left, Write does not start a PATCH it could not finish.
const minCallTime = 20 * time.Millisecond

// Writer is rulehook's Management API client for user data, named for the job no other part may
// do: it writes user metadata (Write, Rerun), or queues the write when the tenant cannot take it
// now, and it drains that queue (RunWorker). Its reads go through the same token, rate budget,
// breaker and parking as its writes: a user (User), the listing (ListUsers) and users-export jobs
// (StartExport, ExportJob, OpenExport), for the worker and for reconcile. Calls to any other
// endpoint go through a Client. It is safe for concurrent use.
type Writer struct {
	cfg     Config
	log     *slog.Logger
	api     *client.Management
	tokens  *tokenSource
	gate    *Budget
	park    *parkLot
	breaker *gobreaker.CircuitBreaker[struct{}]
	queue   Queue
	pending PendingQueue // nil when queue does not implement it
	holder  HoldQueue    // nil when queue does not implement it
	holdID  string       // this writer's consumer name for held entries
	plays   PlayReader
	stats   counters
	wake    chan struct{} // nudges an idle worker after a Put
}

// New returns a Writer for the tenant at cfg.BaseURL that queues into q and reads play counts from
// plays for the worker. It makes no network call: the first token is fetched by the first call.
// The error wraps metadata.ErrInvalid and lists every problem of cfg.
func New(cfg Config, q Queue, plays PlayReader) (*Writer, error) {
	cfg, base, err := cfg.withDefaults()
	if err == nil && (q == nil || plays == nil) {
		err = fmt.Errorf("%w: mgmt: a queue and a play reader are required", metadata.ErrInvalid)
	}
	if err != nil {
		return nil, err
	}
	c, err := newClient(cfg, base.String(), nil)
	if err != nil {
		return nil, err
	}

	w := &Writer{
		cfg:    cfg,
		log:    cfg.Logger,
		api:    c.API,
		queue:  q,
		plays:  plays,
		gate:   NewBudget(BudgetOptions{Reserve: cfg.LowRemaining, Logger: cfg.Logger, Now: cfg.Now}),
		park:   &parkLot{now: cfg.Now, log: cfg.Logger, retry: cfg.ConfigRetry},
		wake:   make(chan struct{}, 1),
		tokens: c.tokens,
	}
	w.pending, _ = q.(PendingQueue)
	w.holder, _ = q.(HoldQueue)
	w.holdID = "writer-" + rand.Text()
	w.breaker = gobreaker.NewCircuitBreaker[struct{}](gobreaker.Settings{
		Name:         "management-api",
		MaxRequests:  1,
		Timeout:      cfg.BreakerOpen,
		IsSuccessful: breakerSuccess,
		IsExcluded:   breakerExcluded,
		ReadyToTrip: func(c gobreaker.Counts) bool {
			return c.ConsecutiveFailures >= cfg.BreakerFailures
		},
		OnStateChange: func(_ string, from, to gobreaker.State) {
			w.log.Warn("management api circuit breaker", "from", breakerState(from).String(), "to", breakerState(to).String())
		},
	})
	return w, nil
}

// Write applies w.Patch to the user with one PATCH, or queues it. It returns:
//   - Written: the tenant accepted the PATCH (an empty patch makes no call and is reported Written);
//   - Merged: an entry was already pending or in flight for the user; the write joined it in the
//     queue without a call;
//   - Queued: the write is in the durable queue (the budget refused it: a 429's reset is ahead,
//     or a Background write could not have its turn before ctx's deadline; breaker open, or the
//     PATCH failed with 429, 5xx, 408, a timeout, a network or token error, or a configuration
//     error: a 403, or a 401 that a fresh token did not cure, after which writes are queued
//     without a call until Config.ConfigRetry has passed);
//     a rule write is stored as a re-run of the rules, an explicit one with its values;
//   - an error wrapping metadata.ErrInvalid for a bad user id or patch (nothing sent) or another
//     4xx answer, metadata.ErrNotFound for 404 (neither is queued), and metadata.ErrUnavailable
//     with metadata.ErrNotQueued (plus metadata.ErrRateLimited after a 429) when the write could
//     be neither sent nor queued.
//
// The PATCH goes through the Writer's Budget with ctx's priority (WithPriority; a login's write
// is Foreground and never waits), and is bounded by Config.Timeout and by ctx's deadline less
// Config.QueueReserve, so a failed PATCH still leaves time to queue. On success the change is audited (Changes from
// w.Before) when an Auditor is set; an audit failure is logged, not returned.
func (w *Writer) Write(ctx context.Context, wr metadata.Write) (metadata.Outcome, error) {
	if err := metadata.ValidateUserID(wr.UserID); err != nil {
		return 0, err
	}
	if err := wr.Patch.Validate(); err != nil {
		return 0, err
	}
	if wr.Patch.IsEmpty() {
		return metadata.Written, nil
	}
	if why, cause := w.mustQueue(ctx, wr.UserID); why != "" {
		return w.enqueue(ctx, wr, why, cause)
	}
	if err := w.gate.ready(ctx, PriorityOf(ctx)); err != nil {
		return w.enqueue(ctx, wr, "rate limited", err)
	}
	if wr.Explicit && w.holder != nil {
		return w.writeHeld(ctx, wr)
	}
	return w.writeDirect(ctx, wr)
}

// writeDirect PATCHes, and queues the write when the PATCH fails in a way worth retrying.
func (w *Writer) writeDirect(ctx context.Context, wr metadata.Write) (metadata.Outcome, error) {
	callCtx, cancel, ok := w.callContext(ctx, w.cfg.QueueReserve)
	if !ok {
		return w.enqueue(ctx, wr, "no time left for a call", context.DeadlineExceeded)
	}
	err := w.patchUser(callCtx, wr.UserID, wr.Patch)
	cancel()
	if err == nil {
		w.stats.written.Add(1)
		w.audit(ctx, wr.UserID, wr.Reason, wr.RequestID, wr.Patch.Changes(wr.Before))
		return metadata.Written, nil
	}
	var ce *callError
	if errors.As(err, &ce) && !ce.retryable() {
		w.stats.failed.Add(1)
		return 0, fmt.Errorf("mgmt: write for %s: %w", metadata.LogID(wr.UserID), err)
	}
	return w.enqueue(ctx, wr, "patch failed", err)
}

// mustQueue says why a write must not be sent now, with the error to report if queueing fails.
func (w *Writer) mustQueue(ctx context.Context, userID string) (string, error) {
	if w.breaker.State() == gobreaker.StateOpen {
		return "circuit breaker open", errBreakerOpen
	}
	if parked, until := w.park.blocked("PATCH user"); parked {
		return "configuration error", &callError{op: "PATCH user", kind: kindConfig, reset: until, noCall: true}
	}
	if w.pending != nil {
		_, err := w.pending.Pending(ctx, userID)
		if err == nil {
			return whyPending, nil
		}
		if !errors.Is(err, metadata.ErrNotFound) {
			w.log.Debug("queue pending check failed; writing directly", metadata.UserAttr(userID), "error", err)
		}
	}
	return "", nil
}

// entryOf is the queue entry of a write: its explicit values, or a re-run of the rules.
func (w *Writer) entryOf(wr metadata.Write) metadata.QueueEntry {
	e := metadata.QueueEntry{
		UserID:    wr.UserID,
		Reason:    wr.Reason,
		RequestID: wr.RequestID,
		Enqueued:  w.cfg.Now(),
	}
	if wr.Explicit {
		e.Explicit = wr.Patch
	} else {
		e.Rerun = true
	}
	return e
}

// enqueue stores the write in the queue; cause is why it was not written (may be nil).
func (w *Writer) enqueue(ctx context.Context, wr metadata.Write, why string, cause error) (metadata.Outcome, error) {
	e := w.entryOf(wr)
	if err := w.queue.Put(ctx, e); err != nil {
		w.stats.failed.Add(1)
		if cause == nil {
			cause = errors.New(why)
		}
		return 0, fmt.Errorf("%w: mgmt: write for %s neither sent (%w) nor queued (%w: %w)",
			metadata.ErrUnavailable, metadata.LogID(wr.UserID), cause, metadata.ErrNotQueued, err)
	}
	w.stats.queued.Add(1)
	w.log.Info("metadata write queued", metadata.UserAttr(wr.UserID), "why", why, "reason", wr.Reason,
		"request_id", wr.RequestID, "error", errString(cause))
	w.nudge()
	if why == whyPending {
		return metadata.Merged, nil
	}
	return metadata.Queued, nil
}

// whyPending is why a write joins the user's entry instead of being made.
const whyPending = "entry pending"

// Rerun queues a re-run of the rules for the user, for a play that crosses the threshold: the
// worker applies the decision with the user's state and play count at that time. The error wraps
// metadata.ErrInvalid for a bad user id, or the queue's error (metadata.ErrUnavailable).
func (w *Writer) Rerun(ctx context.Context, userID, reason, requestID string) error {
	if err := metadata.ValidateUserID(userID); err != nil {
		return err
	}
	e := metadata.QueueEntry{UserID: userID, Rerun: true, Reason: reason, RequestID: requestID, Enqueued: w.cfg.Now()}
	if err := w.queue.Put(ctx, e); err != nil {
		return fmt.Errorf("mgmt: queue a rerun for %s: %w", metadata.LogID(userID), err)
	}
	w.stats.queued.Add(1)
	w.nudge()
	return nil
}

// User reads the user's metadata (id, app_metadata, user_metadata). The error wraps
// metadata.ErrInvalid for a bad id, metadata.ErrNotFound on 404, metadata.ErrRateLimited (a
// *metadata.RateLimitError with the reset) on 429 or while the gate is closed, and
// metadata.ErrUnavailable on 5xx, timeouts, network errors or while the breaker is open. A
// Background ctx (WithPriority) waits for its turn in the budget first.
func (w *Writer) User(ctx context.Context, id string) (metadata.User, error) {
	if err := metadata.ValidateUserID(id); err != nil {
		return metadata.User{}, err
	}
	if err := w.gate.ready(ctx, PriorityOf(ctx)); err != nil {
		return metadata.User{}, fmt.Errorf("mgmt: read user %s: %w", metadata.LogID(id), notSent(ctx, "GET user", err))
	}
	callCtx, cancel, ok := w.callContext(ctx, 0)
	if !ok {
		return metadata.User{}, fmt.Errorf("%w: mgmt: no time left to read user %s", metadata.ErrUnavailable, metadata.LogID(id))
	}
	defer cancel()
	u, err := w.getUser(callCtx, id)
	if err != nil {
		return metadata.User{}, fmt.Errorf("mgmt: read user %s: %w", metadata.LogID(id), err)
	}
	return u, nil
}

// callContext bounds one call by Config.Timeout and by ctx's deadline less reserve; ok is false
// when too little time is left to make the call at all.
func (w *Writer) callContext(ctx context.Context, reserve time.Duration) (context.Context, context.CancelFunc, bool) {
	timeout := w.cfg.Timeout
	if deadline, has := ctx.Deadline(); has {
		left := time.Until(deadline) - reserve
		if left < minCallTime {
			return nil, nil, false
		}
		timeout = min(timeout, left)
	}
	c, cancel := context.WithTimeout(ctx, timeout)
	return c, cancel, true
}

// audit appends the changes to the audit trail, if there is one and anything changed.
func (w *Writer) audit(ctx context.Context, userID, reason, requestID string, changes []metadata.Change) {
	if w.cfg.Auditor == nil || len(changes) == 0 {
		return
	}
	e := metadata.AuditEntry{UserID: userID, Time: w.cfg.Now(), Reason: reason, RequestID: requestID, Changes: changes}
	if err := w.cfg.Auditor.AppendAudit(ctx, e); err != nil {
		w.log.Warn("audit append failed", metadata.UserAttr(userID), "reason", reason, "error", err)
	}
}

func (w *Writer) nudge() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
