package reconcile

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/rulehook/rulehook/metadata"
)

const (
	// writeTimeout bounds one write, detached from the run's context so that a write in flight
	// when the run is stopped still finishes and is recorded. The writer bounds its own calls far
	// below it.
	writeTimeout = 30 * time.Second
	// maxFailuresInRow writes failing in a row with the outcome unknown (the tenant and the queue
	// both down) stop the run; the checkpoint stays for the next one.
	maxFailuresInRow = 10
)

// Run reconciles every user of the tenant with opts.Policy: it lists the users page by page,
// reads each one's play count, and writes, with metadata.ReasonReconcile, only the users whose
// metadata differ from what the rules decide. A user whose play count cannot be read keeps the
// roles they have. Writes start at most opts.Rate per second and not while deps.Gate is closed.
//
// Without DryRun, Run resumes from the checkpoint named opts.Name when there is one (unless
// opts.Restart), saves it as it goes and clears it when every page is done; see the package
// documentation for why no user is written twice across an interruption.
//
// The Summary is returned with every error, counting what was done until then. The error wraps
// metadata.ErrInvalid for bad options or deps, or for a checkpoint that cannot be read; ctx's
// error when ctx ends (the checkpoint then stays); the listing's error when a page cannot be read
// after the retries; the checkpointer's when the checkpoint cannot be saved (nothing more is
// written then); and the last write's error when maxFailuresInRow writes in a row failed.
func Run(ctx context.Context, opts Options, deps Deps) (Summary, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return Summary{}, err
	}
	deps, err = deps.withDefaults(opts.DryRun)
	if err != nil {
		return Summary{}, err
	}
	// A burst of 1 spaces the writes evenly: no second holds more than Rate of them.
	r := &runner{opts: opts, deps: deps, log: deps.Logger, now: time.Now, pacer: rate.NewLimiter(rate.Limit(opts.Rate), 1),
		listed: map[string]bool{}}
	r.start = r.now()
	return r.run(ctx)
}

// runner is one Run. The dispatcher (run, page, decide) is one goroutine; writes run in up to
// Concurrency others; mu guards what they share.
type runner struct {
	opts  Options
	deps  Deps
	log   *slog.Logger
	now   func() time.Time
	pacer *rate.Limiter
	start time.Time
	runID string
	base  int // users on the pages before the one the run started at

	mu          sync.Mutex
	st          state
	listed      map[string]bool // every user this process has listed, against a listing that shifts
	sum         Summary
	queuedInRow int
	failedInRow int
	fatal       error // stops the run: a checkpoint that cannot be saved, too many failures
	pausing     bool
	pausedUntil time.Time
	probe       *probedPage // the first page, read to choose the source (export.go)
}

func (r *runner) run(ctx context.Context) (Summary, error) {
	st, resumed, err := r.load(ctx)
	if err != nil {
		return r.summary(), err
	}
	r.mu.Lock()
	r.st, r.runID = st, st.runID
	r.base = st.page * st.perPage
	r.sum.RunID, r.sum.Resumed, r.sum.StartPage = st.runID, resumed, st.page
	r.mu.Unlock()
	if resumed {
		r.log.Info("reconcile resumed", "run_id", st.runID, "page", st.page,
			"done", len(st.done), "in_flight", len(st.inFlight))
	}

	stopProgress := r.startProgress()
	err = r.walk(ctx) // the listing's pages, or a users export's
	stopProgress()
	if err != nil {
		return r.summary(), err
	}
	if !r.opts.DryRun {
		if err := r.deps.Checkpoints.ClearCheckpoint(ctx, r.opts.Name); err != nil {
			return r.summary(), fmt.Errorf("reconcile: every user done, but clearing checkpoint %q failed (the next run resumes past the end and finds nothing to do): %w",
				r.opts.Name, err)
		}
	}
	return r.summary(), nil
}

// pages walks the listing from the state's page to the last one.
func (r *runner) pages(ctx context.Context) error {
	perPage := r.st.perPage
	for page := r.st.page; ; page++ {
		users, total, probed := r.probed(page)
		var err error
		if !probed {
			users, total, err = r.list(ctx, page, perPage)
		}
		if err != nil {
			return err
		}
		r.mu.Lock()
		r.sum.Total = total
		r.mu.Unlock()
		if err := r.page(ctx, users); err != nil {
			return err
		}
		last := len(users) < perPage || (total > 0 && (page+1)*perPage >= total)
		r.mu.Lock()
		r.st.next()
		err = r.saveLocked(ctx)
		r.mu.Unlock()
		if err != nil || last {
			return err
		}
	}
}

// page handles one page of users: decides each in turn and starts the writes, at most
// Concurrency at once, then waits for them.
func (r *runner) page(ctx context.Context, users []metadata.User) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	slots := make(chan struct{}, r.opts.Concurrency)
	for _, u := range users {
		if err := r.stopped(ctx); err != nil {
			return err
		}
		w, ok := r.decide(ctx, u)
		if !ok {
			continue
		}
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			r.unlist()
			return ctx.Err()
		}
		err := r.waitToWrite(ctx) // after the slot: the write starts right after the wait
		if err == nil {
			err = r.begin(ctx, w.UserID)
		}
		if err != nil {
			<-slots
			r.unlist()
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			r.write(ctx, w)
		}()
	}
	wg.Wait()
	return r.stopped(ctx)
}

// stopped returns why the run must stop, if it must.
func (r *runner) stopped(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fatal != nil {
		return r.fatal
	}
	return ctx.Err()
}

// decide counts u and returns the write it needs, if any.
func (r *runner) decide(ctx context.Context, u metadata.User) (metadata.Write, bool) {
	u, inFlight, ok := r.admit(ctx, u)
	if !ok {
		return metadata.Write{}, false
	}
	in, d, ok := r.decideRoles(ctx, u)
	if !ok {
		return metadata.Write{}, false
	}
	if !d.Changed() {
		if inFlight { // the interrupted run's write had landed
			r.count(&r.sum.Skipped, u.ID, true)
		} else {
			r.count(&r.sum.Unchanged, u.ID, false)
		}
		return metadata.Write{}, false
	}
	if in, d, ok = r.freshen(ctx, in, d, inFlight); !ok { // an export's user may be old: export.go
		return metadata.Write{}, false
	}
	u = in.User
	if r.opts.DryRun {
		r.mu.Lock()
		r.sum.Planned++
		r.changesLocked(u.ID, d.Patch.Changes(u), "planned")
		r.mu.Unlock()
		return metadata.Write{}, false
	}
	return metadata.Write{
		UserID:    u.ID,
		Patch:     d.Patch,
		Reason:    metadata.ReasonReconcile,
		RequestID: r.runID,
		Before:    u,
	}, true
}

// decideRoles applies the rules to u with its play count and returns what it decided on; ok is
// false when the run stops first.
// A count that cannot be read, or is not recorded, leaves the roles as they are.
func (r *runner) decideRoles(ctx context.Context, u metadata.User) (metadata.Input, metadata.Decision, bool) {
	in := metadata.Input{User: u}
	plays, err := r.deps.Plays.PlayCount(ctx, u.ID)
	switch {
	case err != nil && ctx.Err() != nil:
		r.unlist()
		return in, metadata.Decision{}, false
	case err != nil:
		r.log.Warn("reconcile: play count unreadable, roles kept", userAttrs(u.ID, err)...)
		r.mu.Lock()
		r.sum.PlaysUnknown++
		r.mu.Unlock()
	default:
		in = in.WithPlays(plays)
	}
	d := r.opts.Policy.Decide(in)
	if d.KeptUnrecorded {
		r.mu.Lock()
		r.sum.Unrecorded++
		if r.opts.Unrecorded != nil {
			fmt.Fprintf(r.opts.Unrecorded, "%s %s.%s: holds %s, no play count recorded (kept)\n",
				u.ID, metadata.ObjectAppMetadata, metadata.RolesKey, metadata.RolePlaylistEditor)
		}
		r.mu.Unlock()
	}
	return in, d, true
}

// admit counts a listed user and returns the user to apply the rules to, with inFlight true when
// the interrupted run had started writing it (then re-read from the tenant); ok is false when the
// user is already handled or cannot be.
func (r *runner) admit(ctx context.Context, u metadata.User) (_ metadata.User, inFlight, ok bool) {
	r.mu.Lock()
	r.sum.Users++
	done, inFlight := r.st.done[u.ID], r.st.inFlight[u.ID]
	again := r.listed[u.ID]
	if r.listed != nil { // nil when reading an export, which lists no user twice
		r.listed[u.ID] = true
	}
	r.mu.Unlock()

	switch {
	case again: // a user created or deleted meanwhile shifted the pages: handled already
		r.count(&r.sum.Skipped, u.ID, false)
		return u, false, false
	case metadata.ValidateUserID(u.ID) != nil:
		r.fail(u.ID, "bad user id", metadata.ValidateUserID(u.ID))
		return u, false, false
	case done:
		r.count(&r.sum.Skipped, u.ID, false)
		return u, false, false
	case inFlight:
		u, ok = r.reread(ctx, u.ID)
		return u, true, ok
	}
	return u, false, true
}

// unlist takes back the count of a user the run stops before handling: the next run lists it again.
func (r *runner) unlist() {
	r.mu.Lock()
	r.sum.Users--
	r.mu.Unlock()
}

// reread reads a user from the tenant itself: one whose write the interrupted run had started,
// or one whose export record differs (export.go). Like the export job's calls it waits for the
// gate and rides out rate limits and a tenant briefly unavailable (retry), instead of failing
// the user on the first 429 while writes wait it out.
func (r *runner) reread(ctx context.Context, id string) (metadata.User, bool) {
	if r.deps.Fresh == nil {
		r.log.Warn("reconcile: cannot re-read a user the interrupted run was writing; skipped", userAttrs(id, nil)...)
		r.count(&r.sum.Skipped, id, true)
		return metadata.User{}, false
	}
	var u metadata.User
	err := r.retry(ctx, "re-read a user", func(ctx context.Context) (err error) {
		u, err = r.deps.Fresh.User(ctx, id)
		return err
	})
	switch {
	case errors.Is(err, metadata.ErrNotFound):
		r.count(&r.sum.Skipped, id, true)
		return metadata.User{}, false
	case err != nil && ctx.Err() != nil: // stopped while waiting for the gate: the next run reads it again
		r.unlist()
		return metadata.User{}, false
	case err != nil:
		r.fail(id, "re-read from the tenant failed", err)
		return metadata.User{}, false
	}
	return u, true
}

// count adds one to the field (guarded by mu); markDone also records id as handled.
func (r *runner) count(field *int, id string, markDone bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	*field++
	if markDone {
		delete(r.st.inFlight, id)
		r.st.done[id] = true
	}
}

func (r *runner) fail(id, what string, err error) {
	r.log.Warn("reconcile: user not reconciled: "+what, userAttrs(id, err)...)
	r.count(&r.sum.Failed, id, false)
}

// begin records that the write of id starts, before it starts.
func (r *runner) begin(ctx context.Context, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	r.st.inFlight[id] = true
	if err := r.saveLocked(ctx); err != nil {
		delete(r.st.inFlight, id)
		r.fatal = err
		return err
	}
	return nil
}

// write makes one write and records its outcome. It runs to the end even when ctx is done.
func (r *runner) write(ctx context.Context, w metadata.Write) {
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), writeTimeout)
	out, err := r.deps.Writer.Write(wctx, w)
	cancel()
	gateClosed, _ := r.gateClosed()

	r.mu.Lock()
	defer r.mu.Unlock()
	known := true // whether the tenant's state after the write is known
	switch {
	case err == nil && (out == metadata.Queued || out == metadata.Merged):
		r.sum.Queued++
		r.failedInRow = 0
		if !gateClosed {
			r.queuedInRow++
		}
		r.changesLocked(w.UserID, w.Patch.Changes(w.Before), "queued")
	case err == nil:
		r.sum.Written++
		r.failedInRow, r.queuedInRow = 0, 0
		r.changesLocked(w.UserID, w.Patch.Changes(w.Before), "written")
	case errors.Is(err, metadata.ErrNotFound), errors.Is(err, metadata.ErrInvalid):
		r.sum.Failed++ // refused: nothing was written, and trying again would not help
		r.failedInRow = 0
		r.log.Warn("reconcile: write refused", userAttrs(w.UserID, err)...)
	default:
		r.sum.Failed++
		r.failedInRow++
		known = false // a PATCH that timed out may have landed: a resumed run re-reads the user
		r.log.Warn("reconcile: write failed", userAttrs(w.UserID, err)...)
		if r.failedInRow >= maxFailuresInRow && r.fatal == nil {
			r.fatal = fmt.Errorf("reconcile: %d writes in a row failed, stopping: %w", r.failedInRow, err)
		}
	}
	if !known {
		return
	}
	delete(r.st.inFlight, w.UserID)
	r.st.done[w.UserID] = true
	if err := r.saveLocked(ctx); err != nil && r.fatal == nil {
		r.fatal = err
	}
}

// summary returns a copy of the counts with the elapsed time.
func (r *runner) summary() Summary {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.sum
	s.Elapsed = r.now().Sub(r.start)
	return s
}

// startProgress writes a progress line every ProgressEvery until the returned func is called,
// which writes the last one.
func (r *runner) startProgress() (stop func()) {
	if r.opts.Progress == nil {
		return func() {}
	}
	quit, exited := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(exited)
		t := time.NewTicker(r.opts.ProgressEvery)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				r.mu.Lock()
				r.progressLocked()
				r.mu.Unlock()
			case <-quit:
				return
			}
		}
	}()
	return func() {
		close(quit)
		<-exited
		r.mu.Lock()
		r.progressLocked()
		r.mu.Unlock()
	}
}
