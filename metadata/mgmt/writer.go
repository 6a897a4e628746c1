package mgmt

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/auth0/go-auth0/v3/management/client"
	"github.com/auth0/go-auth0/v3/management/option"
	"github.com/sony/gobreaker/v2"

	"github.com/rulehook/rulehook/metadata"
)

// minCallTime: below this much time left, Write does not start a PATCH it could not finish.
const minCallTime = 20 * time.Millisecond

// Writer writes user metadata through the Management API, or queues it when it cannot now.
// It is safe for concurrent use.
type Writer struct {
	cfg     Config
	log     *slog.Logger
	api     *client.Management
	tokens  *tokenSource
	gate    *Budget
	breaker *gobreaker.CircuitBreaker[struct{}]
	queue   Queue
	pending PendingQueue // nil when queue does not implement it
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
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = 32 // logins write concurrently; the default 2 churns connections
	hc := &http.Client{Timeout: cfg.Timeout, Transport: transport}
	apiClient := &http.Client{Timeout: cfg.Timeout, Transport: answerTransport{next: transport}}

	opts := []option.RequestOption{option.WithHTTPClient(apiClient), option.WithoutRetries()}
	if base.Scheme == "http" { // loopback only, checked by withDefaults
		opts = append(opts, option.WithInsecure())
	}
	api, err := client.New(base.Host, opts...)
	if err != nil {
		return nil, fmt.Errorf("%w: mgmt: %w", metadata.ErrInvalid, err)
	}

	w := &Writer{
		cfg:   cfg,
		log:   cfg.Logger,
		api:   api,
		queue: q,
		plays: plays,
		gate:  NewBudget(BudgetOptions{Reserve: cfg.LowRemaining, Logger: cfg.Logger, Now: cfg.Now}),
		wake:  make(chan struct{}, 1),
		tokens: &tokenSource{
			endpoint:     base.String() + "/oauth/token",
			clientID:     cfg.ClientID,
			clientSecret: cfg.ClientSecret,
			audience:     cfg.Audience,
			client:       hc,
			timeout:      cfg.Timeout,
			now:          cfg.Now,
		},
	}
	w.pending, _ = q.(PendingQueue)
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
//   - Queued: the write is in the durable queue (the budget refused it: a 429's reset is ahead,
//     or a Background write could not have its turn before ctx's deadline; breaker open, an entry already
//     pending for the user, or the PATCH failed with 429, 5xx, 408, a timeout, a network or
//     token error, or 401/403 — a credential or grant problem that must not lose the write);
//     a rule write is stored as a re-run of the rules, an explicit one with its values;
//   - an error wrapping metadata.ErrInvalid for a bad user id or patch (nothing sent) or another
//     4xx answer, metadata.ErrNotFound for 404 (neither is queued), and metadata.ErrUnavailable
//     (plus metadata.ErrRateLimited after a 429) when the write could be neither sent nor queued.
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
		return 0, fmt.Errorf("mgmt: write for %s: %w", wr.UserID, err)
	}
	return w.enqueue(ctx, wr, "patch failed", err)
}

// mustQueue says why a write must not be sent now, with the error to report if queueing fails.
func (w *Writer) mustQueue(ctx context.Context, userID string) (string, error) {
	if w.breaker.State() == gobreaker.StateOpen {
		return "circuit breaker open", errBreakerOpen
	}
	if w.pending != nil {
		_, err := w.pending.Pending(ctx, userID)
		if err == nil {
			return "entry pending", nil
		}
		if !errors.Is(err, metadata.ErrNotFound) {
			w.log.Debug("queue pending check failed; writing directly", "user_id", userID, "error", err)
		}
	}
	return "", nil
}

// enqueue stores the write in the queue; cause is why it was not written (may be nil).
func (w *Writer) enqueue(ctx context.Context, wr metadata.Write, why string, cause error) (metadata.Outcome, error) {
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
	if err := w.queue.Put(ctx, e); err != nil {
		w.stats.failed.Add(1)
		if cause == nil {
			cause = errors.New(why)
		}
		return 0, fmt.Errorf("%w: mgmt: write for %s neither sent (%w) nor queued (%w)",
			metadata.ErrUnavailable, wr.UserID, cause, err)
	}
	w.stats.queued.Add(1)
	w.log.Info("metadata write queued", "user_id", wr.UserID, "why", why, "reason", wr.Reason,
		"request_id", wr.RequestID, "error", errString(cause))
	w.nudge()
	return metadata.Queued, nil
}

// Rerun queues a re-run of the rules for the user, for a play that crosses the threshold: the
// worker applies the decision with the user's state and play count at that time. The error wraps
// metadata.ErrInvalid for a bad user id, or the queue's error (metadata.ErrUnavailable).
func (w *Writer) Rerun(ctx context.Context, userID, reason, requestID string) error {
	if err := metadata.ValidateUserID(userID); err != nil {
		return err
	}
	e := metadata.QueueEntry{UserID: userID, Rerun: true, Reason: reason, RequestID: requestID, Enqueued: w.cfg.Now()}
	if err := w.queue.Put(ctx, e); err != nil {
		return fmt.Errorf("mgmt: queue a rerun for %s: %w", userID, err)
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
		return metadata.User{}, fmt.Errorf("mgmt: read user %s: %w", id, notSent(ctx, "GET user", err))
	}
	callCtx, cancel, ok := w.callContext(ctx, 0)
	if !ok {
		return metadata.User{}, fmt.Errorf("%w: mgmt: no time left to read user %s", metadata.ErrUnavailable, id)
	}
	defer cancel()
	u, err := w.getUser(callCtx, id)
	if err != nil {
		return metadata.User{}, fmt.Errorf("mgmt: read user %s: %w", id, err)
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
		w.log.Warn("audit append failed", "user_id", userID, "reason", reason, "error", err)
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
