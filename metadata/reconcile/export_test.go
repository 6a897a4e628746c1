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
	"github.com/rulehook/rulehook/metadata/testkit"
)

// exportOpts are options for runs that read an export: fast polls, a high write rate.
func exportOpts(name string) reconcile.Options {
	return reconcile.Options{Policy: metadata.DefaultPolicy, Rate: 1000, Name: name,
		ExportPoll: time.Millisecond, ExportPollMax: 5 * time.Millisecond}
}

// checkExportJobs checks how many users-export jobs the tenant was asked for, and why that many.
func (e *env) checkExportJobs(want int, why string) {
	e.t.Helper()
	if got := e.tenant.ExportJobs(); got != want {
		e.t.Errorf("export jobs = %d; want %d (%s)", got, want, why)
	}
}

func (e *env) jobReads() int { return e.tenant.Count(http.MethodGet, "/api/v2/jobs/") }

// exactCount counts the logged requests with the method and exactly the path.
func (e *env) exactCount(method, path string) int {
	n := 0
	for _, r := range e.tenant.Requests() {
		if r.Method == method && r.Path == path {
			n++
		}
	}
	return n
}

func TestReconcileExportReachesPastTheListing(t *testing.T) {
	e := newEnv(t, mgmttest.WithExportPolls(3))
	users := e.seed(3000, mixed)
	differing := countDiffering(users)
	var progress testkit.SyncBuffer
	opts := exportOpts("export")
	opts.Progress, opts.ProgressEvery = &progress, time.Hour

	sum, err := reconcile.Run(context.Background(), opts, e.deps())
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	e.checkCompleteRun(sum, users)
	e.checkExportJobs(1, "one job, however long it runs")
	if got := e.jobReads(); got != 4 {
		t.Errorf("job reads = %d; want 4 (3 while it runs, 1 completed)", got)
	}
	if got := e.exactCount(http.MethodGet, "/api/v2/users"); got != 1 {
		t.Errorf("listing requests = %d; want 1 (the total, to choose the export)", got)
	}
	if got := e.tenant.Count(http.MethodGet, "/api/v2/users/"); got != differing {
		t.Errorf("users read afresh = %d; want the %d whose export record differs", got, differing)
	}
	for _, want := range []string{
		"reconcile: 3000 users, more than the 1000 the listing reaches: reading them through a users-export job",
		"users-export job job_", "processing, 66% done",
		"reconcile: 3000/3000 users (100%), 1800 written",
	} {
		if !strings.Contains(progress.String(), want) {
			t.Errorf("progress lacks %q:\n%s", want, progress.String())
		}
	}
	if got := e.checkpoint("export"); got != "" {
		t.Errorf("checkpoint after a complete run = %q; want none", got)
	}
}

func TestReconcileExportResumesAfterInterruption(t *testing.T) {
	e := newEnv(t)
	users := e.seed(1500, mixed)
	differing := countDiffering(users) // 900, 60 per chunk of 100
	opts := exportOpts("export-resume")

	first := e.runKilled(opts, 400)
	cp := e.checkpoint("export-resume")
	if !strings.Contains(cp, `"source":"export"`) || !strings.Contains(cp, `"job_id":"job_`) {
		t.Fatalf("checkpoint after the kill = %s; want the export source and its job", cp)
	}
	readsBefore := e.jobReads()

	second, err := reconcile.Run(context.Background(), opts, e.deps())
	if err != nil {
		t.Fatalf("second Run: %v", err)
	}
	if !second.Resumed || second.RunID != first.RunID || second.StartPage < 6 {
		t.Errorf("second Run resumed=%v at chunk %d as %q; want resumed past chunk 6 as %q",
			second.Resumed, second.StartPage, second.RunID, first.RunID)
	}
	if got := first.Written + second.Written; got != differing {
		t.Errorf("written by both runs = %d + %d; want %d", first.Written, second.Written, differing)
	}
	if got := second.Users; got != 1500-100*second.StartPage {
		t.Errorf("second Run read %d users; want the %d past chunk %d", got, 1500-100*second.StartPage, second.StartPage)
	}
	e.checkWrites(users)
	e.checkExportJobs(1, "the resumed run reads the same job again")
	if got := e.jobReads() - readsBefore; got != 1 {
		t.Errorf("job reads by the resumed run = %d; want 1 (completed, with a fresh link)", got)
	}
}

func TestReconcileExportJobFailsWithAuth0sMessage(t *testing.T) {
	e := newEnv(t, mgmttest.WithExportPolls(1))
	users := e.seed(40, mixed)
	e.tenant.FailNextExport("Internal error while exporting users")
	opts := exportOpts("export-failed")
	opts.Source = reconcile.SourceExport

	sum, err := reconcile.Run(context.Background(), opts, e.deps())
	var failed *reconcile.JobFailedError
	if !errors.As(err, &failed) || failed.Details != "Internal error while exporting users" ||
		!strings.Contains(err.Error(), "failed: Internal error while exporting users") {
		t.Fatalf("Run = %v; want a *JobFailedError with the tenant's message", err)
	}
	if sum.Written != 0 || sum.Users != 0 {
		t.Errorf("Summary = %+v; want nothing read or written", sum)
	}
	if cp := e.checkpoint("export-failed"); strings.Contains(cp, "job_") {
		t.Errorf("checkpoint = %s; want the failed job dropped, so the next run starts another", cp)
	}

	if _, err := reconcile.Run(context.Background(), opts, e.deps()); err != nil {
		t.Fatalf("second Run: %v", err)
	}
	e.checkExportJobs(2, "the failed one, then a new one")
	e.checkWrites(users)
}

func TestReconcileExportLinkExpired(t *testing.T) {
	e := newEnv(t, mgmttest.WithExportPolls(1))
	users := e.seed(30, mixed)
	e.tenant.ExpireNextLinks(2)
	opts := exportOpts("export-expired")
	opts.Source = reconcile.SourceExport
	if _, err := reconcile.Run(context.Background(), opts, e.deps()); err != nil {
		t.Fatalf("Run with two expired links: %v", err)
	}
	if got := e.tenant.Count(http.MethodGet, "/exports/"); got != 3 {
		t.Errorf("downloads = %d; want 3 (two expired, then a fresh link from the job)", got)
	}
	e.checkWrittenOnce(users)

	e.tenant.ExpireNextLinks(100)
	_, err := reconcile.Run(context.Background(), opts, e.deps())
	if !errors.Is(err, metadata.ErrExpired) || !strings.Contains(err.Error(), "4 attempts") {
		t.Errorf("Run with every link expired = %v; want ErrExpired after 4 attempts", err)
	}
}

func TestReconcileChoosesTheSource(t *testing.T) {
	for _, tc := range []struct {
		name       string
		users      int
		source     string
		wantExport bool
		wantErr    string
	}{
		{"auto at the listing limit", 1000, reconcile.SourceAuto, false, ""},
		{"auto above it", 1001, reconcile.SourceAuto, true, ""},
		{"forced export on a small tenant", 10, reconcile.SourceExport, true, ""},
		{"forced listing above the limit", 1100, reconcile.SourceList, false, "first 1000 users only"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, mgmttest.WithExportPolls(1))
			e.seed(tc.users, func(int) kind { return settled })
			opts := exportOpts("choose")
			opts.Source = tc.source
			sum, err := reconcile.Run(context.Background(), opts, e.deps())
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Run = %v; want an error with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || sum.Users != tc.users {
				t.Fatalf("Run = %+v, %v; want all %d users", sum, err, tc.users)
			}
			if got := e.tenant.ExportJobs() == 1; got != tc.wantExport {
				t.Errorf("read through an export = %v; want %v", got, tc.wantExport)
			}
		})
	}
}

func TestReconcileResumeKeepsItsSource(t *testing.T) {
	e := newEnv(t)
	e.seed(10, mixed)
	if err := e.store.SetCheckpoint(context.Background(), "keep",
		`{"v":1,"run_id":"r","page":0,"per_page":100,"source":"export","job_id":"job_AAAAAAAAAAAAAAAA"}`); err != nil {
		t.Fatal(err)
	}
	opts := exportOpts("keep")
	opts.Source = reconcile.SourceList
	if _, err := reconcile.Run(context.Background(), opts, e.deps()); !errors.Is(err, metadata.ErrInvalid) || !strings.Contains(err.Error(), "--source export") {
		t.Errorf("Run --source list on an export checkpoint = %v; want ErrInvalid naming --source export", err)
	}
	opts.Source = reconcile.SourceAuto
	if _, err := reconcile.Run(context.Background(), opts, e.deps()); err != nil {
		t.Fatalf("Run resuming a forgotten job: %v", err)
	}
	e.checkExportJobs(1, "the checkpoint's job is unknown, so a new one")
	if _, err := reconcile.Run(context.Background(), reconcile.Options{Policy: metadata.DefaultPolicy, Source: "both"}, e.deps()); !errors.Is(err, metadata.ErrInvalid) {
		t.Errorf("Run with source %q = %v; want ErrInvalid", "both", err)
	}
}

// cancelOn cancels the run when a progress line holds the text, as a SIGINT would.
type cancelOn struct {
	testkit.SyncBuffer
	text   string
	cancel func()
}

func (c *cancelOn) Write(p []byte) (int, error) {
	if strings.Contains(string(p), c.text) {
		c.cancel()
	}
	return c.SyncBuffer.Write(p)
}

func TestReconcileExportKilledWhileTheJobRuns(t *testing.T) {
	e := newEnv(t, mgmttest.WithExportPolls(4))
	users := e.seed(50, mixed)
	opts := exportOpts("export-wait")
	opts.Source = reconcile.SourceExport
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	opts.Progress = &cancelOn{text: "processing", cancel: cancel}
	if _, err := reconcile.Run(ctx, opts, e.deps()); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run killed while the job runs = %v; want context.Canceled", err)
	}
	if cp := e.checkpoint("export-wait"); !strings.Contains(cp, `"job_id":"job_`) {
		t.Fatalf("checkpoint = %s; want the job", cp)
	}
	opts.Progress = nil
	sum, err := reconcile.Run(context.Background(), opts, e.deps())
	if err != nil || !sum.Resumed {
		t.Fatalf("second Run = %+v, %v; want a resumed run", sum, err)
	}
	e.checkExportJobs(1, "the resumed run waits for the same job")
	e.checkWrites(users)
}

func TestReconcileExportDryRun(t *testing.T) {
	e := newEnv(t, mgmttest.WithExportPolls(1))
	users := e.seed(1200, mixed)
	opts := exportOpts("export-dry")
	opts.DryRun = true
	sum, err := reconcile.Run(context.Background(), opts, e.deps())
	if err != nil || sum.Planned != countDiffering(users) || sum.Users != 1200 {
		t.Fatalf("dry Run = %+v, %v; want %d planned of 1200", sum, err, countDiffering(users))
	}
	if got, _ := e.patches(); len(got) != 0 || e.checkpoint("export-dry") != "" {
		t.Errorf("a dry run PATCHed %d users or left a checkpoint; want neither", len(got))
	}
}

// changeAfterExport changes the tenant once the export's file is downloaded, as an admin or a
// login would while the run works through an old snapshot.
type changeAfterExport struct {
	reconcile.Exporter
	change func()
}

func (c changeAfterExport) OpenExport(ctx context.Context, location string) (metadata.UserStream, error) {
	s, err := c.Exporter.OpenExport(ctx, location)
	c.change()
	return s, err
}

func TestReconcileExportWritesFromTheUserAsTheyAreNow(t *testing.T) {
	e := newEnv(t, mgmttest.WithExportPolls(1))
	users := e.seed(20, mixed)
	deps := e.deps()
	deps.Export = changeAfterExport{Exporter: e.w, change: func() {
		// user 1 (promote) gets beta from another tool; user 2 (demote) is fixed by a login
		e.tenant.PutUser(mgmttest.User{ID: userID(1), AppMetadata: map[string]any{"roles": []any{"admin", "beta"}},
			UserMetadata: map[string]any{"displayName": "J1"}})
		e.tenant.PutUser(mgmttest.User{ID: userID(2), AppMetadata: map[string]any{"roles": []any{"beta"}},
			UserMetadata: map[string]any{"displayName": "J2"}})
	}}
	opts := exportOpts("export-fresh")
	opts.Source = reconcile.SourceExport
	sum, err := reconcile.Run(context.Background(), opts, deps)
	if err != nil {
		t.Fatal(err)
	}
	if want := countDiffering(users) - 1; sum.Written != want {
		t.Errorf("Written = %d; want %d (user 2 no longer differs)", sum.Written, want)
	}
	if u, _ := e.tenant.User(userID(1)); fmt.Sprint(u.AppMetadata["roles"]) != "[admin beta playlist_editor]" {
		t.Errorf("user 1 roles = %v; want [admin beta playlist_editor]: the role added after the export kept", u.AppMetadata["roles"])
	}
	if byUser, _ := e.patches(); byUser[userID(2)] != 0 {
		t.Errorf("user 2 PATCHed %d times; want 0", byUser[userID(2)])
	}
}

func TestReconcileExportRidesOutTenantFaults(t *testing.T) {
	e := newEnv(t, mgmttest.WithExportPolls(1))
	users := e.seed(30, mixed)
	e.tenant.SetFault(http.MethodPost, "/api/v2/jobs/users-exports", mgmttest.Fault{Status: 503, Times: 1})
	e.tenant.SetFault(http.MethodGet, "/api/v2/jobs/*", mgmttest.Fault{Status: 429, Times: 1})
	e.tenant.SetFault(http.MethodGet, "/exports/*", mgmttest.Fault{Status: 500, Times: 1})
	opts := exportOpts("export-faults")
	opts.Source = reconcile.SourceExport
	if _, err := reconcile.Run(context.Background(), opts, e.deps()); err != nil {
		t.Fatalf("Run through a 503, a 429 and a 500: %v", err)
	}
	e.checkExportJobs(1, "the 503 created none")
	if got := e.tenant.Count(http.MethodGet, "/exports/"); got != 2 {
		t.Errorf("downloads = %d; want 2 (a 500, then a fresh link)", got)
	}
	e.checkWrites(users)
}

func TestReconcileExportRereadRidesOutARateLimit(t *testing.T) {
	e := newEnv(t, mgmttest.WithExportPolls(1))
	users := e.seed(30, mixed)
	// the first re-read of a differing user is answered 429: the Writer's gate closes until the
	// reset, and the re-reads wait for it like the writes instead of failing their users
	e.tenant.SetFault(http.MethodGet, "/api/v2/users/*", mgmttest.Fault{Status: 429, Times: 1})
	opts := exportOpts("export-reread-429")
	opts.Source = reconcile.SourceExport
	sum, err := reconcile.Run(context.Background(), opts, e.deps())
	if err != nil {
		t.Fatalf("Run through a 429 on a re-read: %v", err)
	}
	e.checkCompleteRun(sum, users)
	if got, want := e.tenant.Count(http.MethodGet, "/api/v2/users/"), countDiffering(users)+1; got != want {
		t.Errorf("users read afresh = %d; want %d (each differing one, and the 429 once more)", got, want)
	}
}
