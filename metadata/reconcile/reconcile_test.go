package reconcile_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rulehook/rulehook/metadata"
	"github.com/rulehook/rulehook/metadata/reconcile"
	"github.com/rulehook/rulehook/metadata/testkit"
)

func TestReconcileWritesOnlyUsersThatDiffer(t *testing.T) {
	e := newEnv(t)
	users := e.seed(1000, mixed)
	differing := countDiffering(users)
	var progress, changes testkit.SyncBuffer
	const rate = 200

	sum, err := reconcile.Run(context.Background(), reconcile.Options{
		Policy: metadata.DefaultPolicy, Rate: rate,
		Progress: &progress, ProgressEvery: 250 * time.Millisecond, Changes: &changes,
	}, e.deps())
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	e.checkCompleteRun(sum, users)

	_, times := e.patches()
	if got, limit := maxPerWindow(times, time.Second), rate+rate/20+2; got > limit {
		t.Errorf("most PATCHes in one second = %d; want at most %d (rate %d/s)", got, limit, rate)
	}
	if min := time.Duration(differing-1) * time.Second / rate; sum.Elapsed < min {
		t.Errorf("Elapsed = %s for %d writes; want at least %s at %d/s", sum.Elapsed, differing, min, rate)
	}
	if got := e.checkpoint(reconcile.DefaultName); got != "" {
		t.Errorf("checkpoint after a complete run = %q; want none", got)
	}
	if got := e.tenant.Count(http.MethodGet, "/api/v2/users"); got != 10 {
		t.Errorf("listing requests = %d; want 10 pages of 100", got)
	}

	e.checkAudit(users, sum.RunID)

	lines := strings.Split(strings.TrimSpace(changes.String()), "\n")
	if len(lines) != differing {
		t.Errorf("Changes has %d lines; want %d (one changed key per differing user)", len(lines), differing)
	}
	for _, want := range []string{
		`auth0|user00001 app_metadata.roles: ["admin"] -> ["admin","playlist_editor"] (written)`,
		`auth0|user00002 app_metadata.roles: ["playlist_editor","beta"] -> ["beta"] (written)`,
		`auth0|user00003 user_metadata.displayName: (absent) -> "user" (written)`,
	} {
		if !strings.Contains(changes.String(), want+"\n") {
			t.Errorf("Changes lacks %q", want)
		}
	}
	if got := progress.String(); !strings.Contains(got, "reconcile: 1000/1000 users (100%), 600 written, 0 queued, 400 unchanged") {
		t.Errorf("last progress line missing; progress:\n%s", got)
	}
	if strings.Count(progress.String(), "\n") < 3 {
		t.Errorf("progress has fewer than 3 lines over %s:\n%s", sum.Elapsed, progress.String())
	}
}

// checkAudit checks that every differing user has exactly one audit entry, from this run, with
// the right before and after.
func (e *env) checkAudit(users []seeded, runID string) {
	e.t.Helper()
	ctx := context.Background()
	for _, s := range users {
		got, err := e.store.Audit(ctx, s.id, 10)
		if err != nil {
			e.t.Fatalf("Audit(%s): %v", s.id, err)
		}
		if !s.kind.differs() {
			if len(got) != 0 {
				e.t.Errorf("Audit(%s) of an unchanged user = %+v; want none", s.id, got)
			}
			continue
		}
		if len(got) != 1 {
			e.t.Errorf("Audit(%s) has %d entries; want 1", s.id, len(got))
			continue
		}
		a := got[0]
		if a.Reason != metadata.ReasonReconcile || a.RequestID != runID || len(a.Changes) != 1 {
			e.t.Errorf("Audit(%s) = %+v; want one change, reason %q, request id %q", s.id, a, metadata.ReasonReconcile, runID)
			continue
		}
		c := a.Changes[0]
		var want string
		switch s.kind {
		case promote:
			want = `app_metadata roles ["admin"] ["admin","playlist_editor"]`
		case demote:
			want = `app_metadata roles ["playlist_editor","beta"] ["beta"]`
		case unnamed:
			want = `user_metadata displayName null "user"`
		}
		if got := fmt.Sprintf("%s %s %s %s", c.Object, c.Key, jsonOf(c.Before), jsonOf(c.After)); got != want {
			e.t.Errorf("audit change of %s = %s; want %s", s.id, got, want)
		}
	}
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestReconcileLowRate(t *testing.T) {
	e := newEnv(t)
	users := e.seed(10, func(int) kind { return promote })
	const rate = 4
	sum, err := reconcile.Run(context.Background(), reconcile.Options{Policy: metadata.DefaultPolicy, Rate: rate}, e.deps())
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if sum.Written != 10 {
		t.Errorf("Written = %d; want 10", sum.Written)
	}
	e.checkWrittenOnce(users)
	_, times := e.patches()
	// Arrival times carry the machine's jitter (a delayed request lands next to the one after it),
	// so allow one such pair; a burst of the rate's worth would still fail both checks.
	if got := maxPerWindow(times, time.Second); got > rate+2 {
		t.Errorf("most PATCHes in one second = %d; want at most %d (rate %d/s, one on the window's edge, one delayed)", got, rate+2, rate)
	}
	// Evenly spaced, not bursts.
	if got, want := maxPerWindow(times, 50*time.Millisecond), 2; got > want {
		t.Errorf("most PATCHes in 50ms = %d; want at most %d at %d/s", got, want, rate)
	}
}

// killingWriter cancels the run once after written writes succeeded, as a SIGINT would.
type killingWriter struct {
	reconcile.Writer
	after   int64
	written atomic.Int64
	kill    func()
}

func (k *killingWriter) Write(ctx context.Context, w metadata.Write) (metadata.Outcome, error) {
	out, err := k.Writer.Write(ctx, w)
	if err == nil && k.written.Add(1) == k.after {
		k.kill()
	}
	return out, err
}

// runKilled runs reconcile.Run and cancels it once after writes succeeded, as a SIGINT would; t
// fails unless the run ends with context.Canceled.
func (e *env) runKilled(opts reconcile.Options, after int64) reconcile.Summary {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	deps := e.deps()
	deps.Writer = &killingWriter{Writer: e.w, after: after, kill: cancel}
	sum, err := reconcile.Run(ctx, opts, deps)
	if !errors.Is(err, context.Canceled) {
		e.t.Fatalf("first Run = %+v, %v; want context.Canceled", sum, err)
	}
	return sum
}

func TestReconcileResumesAfterInterruption(t *testing.T) {
	e := newEnv(t)
	users := e.seed(300, mixed)
	differing := countDiffering(users) // 180, 30 per page of 50
	opts := reconcile.Options{Policy: metadata.DefaultPolicy, Rate: 1000, PerPage: 50, Name: "resume-test"}

	first := e.runKilled(opts, 70)
	if first.Written < 70 || first.Written >= differing {
		t.Fatalf("first Run wrote %d; want at least 70 and not all %d", first.Written, differing)
	}
	if e.checkpoint("resume-test") == "" {
		t.Fatalf("no checkpoint after an interrupted run")
	}

	second, err := reconcile.Run(context.Background(), opts, e.deps())
	if err != nil {
		t.Fatalf("second Run: %v", err)
	}
	if !second.Resumed || second.StartPage != 2 || second.RunID != first.RunID {
		t.Errorf("second Run resumed=%v at page %d as %q; want resumed at page 2 as %q",
			second.Resumed, second.StartPage, second.RunID, first.RunID)
	}
	if got := first.Written + second.Written; got != differing {
		t.Errorf("written by both runs = %d + %d; want %d", first.Written, second.Written, differing)
	}
	if wantSkipped := first.Written - 60; second.Skipped != wantSkipped {
		t.Errorf("second Run skipped %d; want the %d written on page 2 by the first", second.Skipped, wantSkipped)
	}
	if second.Users != 200 {
		t.Errorf("second Run listed %d users; want pages 2 to 5 (200)", second.Users)
	}
	e.checkWrites(users)
	if got := e.checkpoint("resume-test"); got != "" {
		t.Errorf("checkpoint after the resumed run = %q; want none", got)
	}
}

// staleLister serves a snapshot of the listing taken before any write: Auth0's search index lags
// writes, so a resumed run may list users as they were before the interrupted run wrote them.
type staleLister struct{ users []metadata.User }

func (s staleLister) ListUsers(_ context.Context, page, perPage int) ([]metadata.User, int, error) {
	start := min(page*perPage, len(s.users))
	return s.users[start:min(start+perPage, len(s.users))], len(s.users), nil
}

func (e *env) snapshot() staleLister {
	e.t.Helper()
	var all []metadata.User
	for page := 0; ; page++ {
		users, total, err := e.w.ListUsers(context.Background(), page, 100)
		if err != nil {
			e.t.Fatalf("ListUsers(%d): %v", page, err)
		}
		all = append(all, users...)
		if len(all) >= total || len(users) == 0 {
			return staleLister{all}
		}
	}
}

// dyingStore is a checkpointer that stops saving once the process "dies".
type dyingStore struct {
	reconcile.Checkpointer
	dead *atomic.Bool
}

func (d dyingStore) SetCheckpoint(ctx context.Context, name, value string) error {
	if d.dead.Load() {
		return fmt.Errorf("%w: process died", metadata.ErrUnavailable)
	}
	return d.Checkpointer.SetCheckpoint(ctx, name, value)
}

// dyingWriter makes the process "die" right after the PATCH of the after-th write landed,
// before the run can record it.
type dyingWriter struct {
	reconcile.Writer
	after   int64
	written atomic.Int64
	dead    *atomic.Bool
	lastID  atomic.Value
}

func (d *dyingWriter) Write(ctx context.Context, w metadata.Write) (metadata.Outcome, error) {
	out, err := d.Writer.Write(ctx, w)
	if err == nil && d.written.Add(1) == d.after {
		d.lastID.Store(w.UserID)
		d.dead.Store(true)
	}
	return out, err
}

func TestReconcileNeverWritesTwiceWithStaleListing(t *testing.T) {
	e := newEnv(t)
	users := e.seed(120, mixed) // 24 differing users per page of 40
	stale := e.snapshot()
	opts := reconcile.Options{Policy: metadata.DefaultPolicy, Rate: 1000, PerPage: 40, Concurrency: 1, Name: "stale"}

	dead := new(atomic.Bool)
	deps := e.deps()
	dying := &dyingWriter{Writer: e.w, after: 30, dead: dead}
	deps.Writer, deps.Checkpoints = dying, dyingStore{Checkpointer: e.store, dead: dead}
	first, err := reconcile.Run(context.Background(), opts, deps)
	if !errors.Is(err, metadata.ErrUnavailable) || first.Written != 30 {
		t.Fatalf("first Run = %+v, %v; want 30 written, then the checkpoint error", first, err)
	}

	// The restarted process lists through the lagging index: page 1 shows the users the first
	// run wrote as they were. Those recorded as done are skipped; the one whose write was never
	// recorded is re-read directly and found settled.
	deps = e.deps()
	deps.Users = stale
	second, err := reconcile.Run(context.Background(), opts, deps)
	if err != nil {
		t.Fatalf("second Run: %v", err)
	}
	if second.StartPage != 1 || second.Skipped != 6 || second.Written != 48-6 {
		t.Errorf("second Run = %+v; want page 1 onwards, 6 skipped (5 recorded, 1 re-read), 42 written", second)
	}
	last := dying.lastID.Load().(string)
	if got := e.tenant.Count(http.MethodGet, "/api/v2/users/"+last); got != 1 {
		t.Errorf("GETs of %s (write not recorded) = %d; want 1 re-read", last, got)
	}
	e.checkWrites(users)
}
