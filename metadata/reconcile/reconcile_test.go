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
	"github.com/rulehook/rulehook/metadata/mgmt/mgmttest"
	"github.com/rulehook/rulehook/metadata/reconcile"
	"github.com/rulehook/rulehook/metadata/redisstore"
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

func TestDryRunWritesNothing(t *testing.T) {
	e := newEnv(t)
	users := e.seed(50, mixed)
	ctx := context.Background()
	const leftOver = `{"v":1,"page":3,"per_page":100}`
	if err := e.store.SetCheckpoint(ctx, reconcile.DefaultName, leftOver); err != nil {
		t.Fatal(err)
	}
	var changes testkit.SyncBuffer
	// A dry run needs neither a writer nor a checkpointer.
	sum, err := reconcile.Run(ctx, reconcile.Options{Policy: metadata.DefaultPolicy, DryRun: true, Changes: &changes},
		reconcile.Deps{Users: e.w, Plays: e.store})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	differing := countDiffering(users)
	if sum.Planned != differing || sum.Written != 0 || sum.Queued != 0 || sum.Unchanged != 50-differing || sum.Resumed {
		t.Errorf("Summary = %+v; want %d planned, %d unchanged, nothing written, not resumed", sum, differing, 50-differing)
	}
	if got := e.tenant.Count(http.MethodPatch, ""); got != 0 {
		t.Errorf("PATCH requests = %d; want 0", got)
	}
	if got := e.checkpoint(reconcile.DefaultName); got != leftOver {
		t.Errorf("checkpoint = %q; want the left-over %q untouched", got, leftOver)
	}
	if n, err := e.w.QueueDepth(ctx); err != nil || n != 0 {
		t.Errorf("QueueDepth = %d, %v; want 0", n, err)
	}
	if got := strings.Count(changes.String(), " (planned)\n"); got != differing {
		t.Errorf("planned change lines = %d; want %d:\n%s", got, differing, changes.String())
	}
	if want := "auth0|user00001 app_metadata.roles: [\"admin\"] -> [\"admin\",\"playlist_editor\"] (planned)\n"; !strings.Contains(changes.String(), want) {
		t.Errorf("Changes lacks %q", want)
	}
	for i := range users {
		if u, _ := e.tenant.User(users[i].id); users[i].kind == unnamed && u.UserMetadata != nil {
			t.Errorf("user %s was changed by a dry run: %+v", users[i].id, u)
		}
	}
}

// flakyPlays fails to read the plays of some users, as Redis would in an outage.
type flakyPlays struct {
	reconcile.PlayReader
	fail map[string]bool
}

func (f flakyPlays) PlayCount(ctx context.Context, id string) (metadata.PlayCount, error) {
	if f.fail[id] {
		return metadata.PlayCount{}, fmt.Errorf("%w: emulated redis failure", metadata.ErrUnavailable)
	}
	return f.PlayReader.PlayCount(ctx, id)
}

func TestUnreadablePlaysNeverDemote(t *testing.T) {
	e := newEnv(t)
	editor := mgmttest.User{ID: "auth0|editor", AppMetadata: map[string]any{"roles": []any{"playlist_editor", "admin"}},
		UserMetadata: map[string]any{"displayName": "E"}}
	unnamed := mgmttest.User{ID: "auth0|unnamed", AppMetadata: map[string]any{"roles": []any{"playlist_editor"}}}
	control := mgmttest.User{ID: "auth0|control", AppMetadata: map[string]any{"roles": []any{"playlist_editor"}},
		UserMetadata: map[string]any{"displayName": "C"}}
	for _, u := range []mgmttest.User{editor, unnamed, control} {
		e.tenant.PutUser(u)
		e.rdb.Set(context.Background(), redisstore.PlaysKey(u.ID), "0", 0) // a recorded 0 for everyone
	}
	deps := e.deps()
	deps.Plays = flakyPlays{PlayReader: e.store, fail: map[string]bool{editor.ID: true, unnamed.ID: true}}
	sum, err := reconcile.Run(context.Background(), reconcile.Options{Policy: metadata.DefaultPolicy, Rate: 100}, deps)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if sum.PlaysUnknown != 2 || sum.Written != 2 || sum.Unchanged != 1 {
		t.Errorf("Summary = %+v; want 2 with unknown plays, 2 written (unnamed, control), 1 unchanged (editor)", sum)
	}
	if got := e.tenant.Count(http.MethodPatch, "/api/v2/users/"+editor.ID); got != 0 {
		t.Errorf("PATCHes of %s = %d; want 0 (plays unknown: roles kept)", editor.ID, got)
	}
	for _, r := range e.tenant.Requests() {
		if r.Method == http.MethodPatch && strings.HasSuffix(r.Path, unnamed.ID) && strings.Contains(r.Body, "app_metadata") {
			t.Errorf("PATCH of %s carries app_metadata with its plays unknown: %s", unnamed.ID, r.Body)
		}
	}
	for id, want := range map[string]string{editor.ID: "[playlist_editor admin]", unnamed.ID: "[playlist_editor]", control.ID: "[]"} {
		u, _ := e.tenant.User(id)
		if got := fmt.Sprint(u.AppMetadata["roles"]); got != want {
			t.Errorf("roles of %s = %s; want %s", id, got, want)
		}
	}
	if u, _ := e.tenant.User(unnamed.ID); u.UserMetadata["displayName"] != "user" {
		t.Errorf("displayName of %s = %v; want the default, set whatever the plays", unnamed.ID, u.UserMetadata["displayName"])
	}
}

func TestReconcilePausesUntilTheRateLimitResets(t *testing.T) {
	e := newEnv(t)
	e.seed(6, func(int) kind { return promote })
	// The second PATCH gets a 429 whose reset is the next whole second but one.
	reset := time.Now().Truncate(time.Second).Add(2 * time.Second)
	var first sync1
	deps := e.deps()
	deps.Writer = writerFunc(func(ctx context.Context, w metadata.Write) (metadata.Outcome, error) {
		if first.once() {
			e.tenant.SetFault(http.MethodPatch, "/api/v2/users/*", mgmttest.Fault{Status: http.StatusTooManyRequests, Reset: reset, Times: 1})
		}
		return e.w.Write(ctx, w)
	})
	var progress testkit.SyncBuffer
	sum, err := reconcile.Run(context.Background(), reconcile.Options{
		Policy: metadata.DefaultPolicy, Rate: 100, Concurrency: 1, Progress: &progress}, deps)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if sum.Written != 5 || sum.Queued != 1 {
		t.Errorf("Summary = %+v; want 5 written and the refused one queued", sum)
	}
	if n, err := e.w.QueueDepth(context.Background()); err != nil || n != 1 {
		t.Errorf("QueueDepth = %d, %v; want 1", n, err)
	}
	var refused time.Time
	for _, r := range e.tenant.Requests() {
		switch {
		case r.Method != http.MethodPatch:
		case r.Status == http.StatusTooManyRequests:
			refused = r.Time
		case !refused.IsZero() && r.Time.Before(reset):
			t.Errorf("PATCH at %s, after the 429 and before its reset %s", r.Time.Format(time.StampMilli), reset.Format(time.StampMilli))
		}
	}
	if refused.IsZero() {
		t.Fatalf("no PATCH was refused: the fault did not apply")
	}
	if !strings.Contains(progress.String(), "paused: management api rate limited until") {
		t.Errorf("progress does not mention the pause:\n%s", progress.String())
	}
	byUser, _ := e.patches()
	if len(byUser) != 5 {
		t.Errorf("users PATCHed = %d; want 5 (the sixth is queued for the worker)", len(byUser))
	}
}

// writerFunc adapts a function to reconcile.Writer.
type writerFunc func(context.Context, metadata.Write) (metadata.Outcome, error)

func (f writerFunc) Write(ctx context.Context, w metadata.Write) (metadata.Outcome, error) {
	return f(ctx, w)
}

// sync1 reports true the second time once is called, and never again.
type sync1 struct{ n int }

func (s *sync1) once() bool { s.n++; return s.n == 2 }

func TestReconcileSlowsDownBeforeTheWriteLimit(t *testing.T) {
	// The tenant allows 10 writes per second, burst 10; the run asks for 100/s. The writer's gate
	// reports X-RateLimit-Remaining nearly spent and the run waits, instead of drawing 429s.
	e := newEnv(t, mgmttest.WithWriteRate(10, 10))
	e.seed(20, func(int) kind { return promote })
	sum, err := reconcile.Run(context.Background(), reconcile.Options{Policy: metadata.DefaultPolicy, Rate: 100}, e.deps())
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	refused := e.tenant.CountStatus(http.StatusTooManyRequests)
	if sum.Written+sum.Queued != 20 || sum.Queued != refused {
		t.Errorf("Summary = %+v with %d answers 429; want 20 written or queued, one queued per 429", sum, refused)
	}
	if refused > 2 {
		t.Errorf("answers 429 = %d; want at most 2: the run should wait when Remaining is low", refused)
	}
}

func TestRestartAndBadCheckpoint(t *testing.T) {
	e := newEnv(t)
	users := e.seed(10, mixed)
	ctx := context.Background()
	if err := e.store.SetCheckpoint(ctx, "bad", "not json"); err != nil {
		t.Fatal(err)
	}
	opts := reconcile.Options{Policy: metadata.DefaultPolicy, Rate: 100, Name: "bad"}
	if _, err := reconcile.Run(ctx, opts, e.deps()); !errors.Is(err, metadata.ErrInvalid) {
		t.Errorf("Run with an unreadable checkpoint = %v; want ErrInvalid", err)
	}
	if got := e.tenant.Count(http.MethodPatch, ""); got != 0 {
		t.Errorf("PATCHes with an unreadable checkpoint = %d; want 0", got)
	}
	opts.Restart = true
	sum, err := reconcile.Run(ctx, opts, e.deps())
	if err != nil || sum.Resumed || sum.Written != countDiffering(users) {
		t.Errorf("Run with Restart = %+v, %v; want a fresh complete run", sum, err)
	}
	if got := e.checkpoint("bad"); got != "" {
		t.Errorf("checkpoint after Restart = %q; want none", got)
	}
}

func TestOptionsAndDepsAreChecked(t *testing.T) {
	good := reconcile.Deps{Users: staleLister{}, Plays: flakyPlays{}, Writer: writerFunc(nil), Checkpoints: dyingStore{}}
	tests := []struct {
		name string
		opts reconcile.Options
		deps reconcile.Deps
	}{
		{"no policy", reconcile.Options{}, good},
		{"negative rate", reconcile.Options{Policy: metadata.DefaultPolicy, Rate: -1}, good},
		{"page too large", reconcile.Options{Policy: metadata.DefaultPolicy, PerPage: 101}, good},
		{"name with braces", reconcile.Options{Policy: metadata.DefaultPolicy, Name: "a}b"}, good},
		{"no writer", reconcile.Options{Policy: metadata.DefaultPolicy}, reconcile.Deps{Users: staleLister{}, Plays: flakyPlays{}, Checkpoints: dyingStore{}}},
		{"no checkpointer", reconcile.Options{Policy: metadata.DefaultPolicy}, reconcile.Deps{Users: staleLister{}, Plays: flakyPlays{}, Writer: writerFunc(nil)}},
		{"no lister", reconcile.Options{Policy: metadata.DefaultPolicy, DryRun: true}, reconcile.Deps{Plays: flakyPlays{}}},
	}
	for _, tt := range tests {
		if _, err := reconcile.Run(context.Background(), tt.opts, tt.deps); !errors.Is(err, metadata.ErrInvalid) {
			t.Errorf("%s: Run = %v; want ErrInvalid", tt.name, err)
		}
	}
}

func TestUserListedTwiceIsWrittenOnce(t *testing.T) {
	// A user created during the run shifts the pages, and the lagging index still shows the user
	// written on the previous page unchanged.
	e := newEnv(t)
	users := e.seed(2, func(int) kind { return promote })
	listing := e.snapshot().users
	shifted := staleLister{users: []metadata.User{listing[0], listing[0], listing[1]}}
	deps := e.deps()
	deps.Users = shifted
	sum, err := reconcile.Run(context.Background(), reconcile.Options{Policy: metadata.DefaultPolicy, Rate: 100, PerPage: 1}, deps)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if sum.Users != 3 || sum.Written != 2 || sum.Skipped != 1 {
		t.Errorf("Summary = %+v; want 3 listed, 2 written, 1 skipped", sum)
	}
	e.checkWrittenOnce(users)
}
