package reconcile_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rulehook/rulehook/metadata"
	"github.com/rulehook/rulehook/metadata/mgmt/mgmttest"
	"github.com/rulehook/rulehook/metadata/reconcile"
	"github.com/rulehook/rulehook/metadata/redisstore"
	"github.com/rulehook/rulehook/metadata/testkit"
)

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
