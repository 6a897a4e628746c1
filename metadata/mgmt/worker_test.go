package mgmt

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rulehook/rulehook/metadata"
	"github.com/rulehook/rulehook/metadata/mgmt/mgmttest"
	"github.com/rulehook/rulehook/metadata/testkit"
)

// wholeSecondAfter is the first whole second at least d from now: X-RateLimit-Reset is in Unix
// seconds, so a fault's reset on a whole second is exactly what the header says.
func wholeSecondAfter(d time.Duration) time.Time {
	t := time.Now().Add(d)
	if t.Nanosecond() == 0 {
		return t
	}
	return t.Truncate(time.Second).Add(time.Second)
}

func TestRateLimitQueuesThenAppliesAfterReset(t *testing.T) {
	e := newEnv(t)
	e.tenant.PutUser(tenantUser("auth0|rl", []any{"admin"}, "Ann"))
	e.tenant.PutUser(tenantUser("auth0|rl2", nil, nil))
	e.setPlays("auth0|rl", 150)
	e.setPlays("auth0|rl2", 5)
	e.startWorker(e.w, "w1")

	reset := wholeSecondAfter(2 * time.Second)
	e.tenant.SetFault(http.MethodPatch, "/api/v2/users/*", mgmttest.Fault{Status: http.StatusTooManyRequests, Reset: reset, Times: 1})
	start := time.Now()
	out, err := e.loginWrite(e.w, domainUser(e.user("auth0|rl")), 150, 2*time.Second)
	if took := time.Since(start); took > 2*time.Second || err != nil || out != metadata.Queued {
		t.Fatalf("login Write = %v, %v after %s; want queued, nil within the 2s deadline", out, err, took)
	}
	// A second login while the gate is closed is queued without any call.
	calls := len(e.tenant.Requests())
	out, err = e.loginWrite(e.w, domainUser(e.user("auth0|rl2")), 5, 2*time.Second)
	if err != nil || out != metadata.Queued {
		t.Fatalf("login Write with the gate closed = %v, %v; want queued, nil", out, err)
	}
	if n := len(e.tenant.Requests()); n != calls {
		t.Errorf("tenant saw %d requests while the gate was closed; want 0", n-calls)
	}
	if s := e.w.Stats(); !s.Gate.Closed || !s.Gate.Reset.Equal(reset) {
		t.Errorf("Stats.Gate = %+v; want closed until %s", s.Gate, reset)
	}

	// After a 429 the worker's probe waits a second past the reset, plus up to a second of jitter.
	testkit.WaitUntil(t, "both users written", func() bool {
		return slices.Contains(roles(e.user("auth0|rl")), any("playlist_editor")) &&
			e.user("auth0|rl2").UserMetadata["displayName"] == "user"
	})
	reqs := e.tenant.Requests()
	i429 := slices.IndexFunc(reqs, func(r mgmttest.Request) bool { return r.Status == http.StatusTooManyRequests })
	after := reqs[i429+1:]
	if len(after) == 0 || after[0].Time.Before(reset) {
		t.Fatalf("first request after the 429 at %v; want none before the reset %v", after, reset)
	}
	for _, r := range after {
		if r.Time.Before(reset) {
			t.Errorf("%s %s at %s; want no call before the reset %s", r.Method, r.Path, r.Time, reset)
		}
	}
	var patched []any
	for _, r := range after {
		if r.Method == http.MethodPatch && r.Path == "/api/v2/users/auth0|rl" {
			var body struct {
				AppMetadata map[string]any `json:"app_metadata"`
			}
			_ = json.Unmarshal([]byte(r.Body), &body)
			patched, _ = body.AppMetadata["roles"].([]any)
		}
	}
	if want := []any{"admin", "playlist_editor"}; !reflect.DeepEqual(patched, want) {
		t.Errorf("PATCH after the reset carried roles %v; want %v", patched, want)
	}
	testkit.WaitUntil(t, "an empty queue", func() bool { return e.depth() == 0 })
	if s := e.w.Stats(); s.Calls429 != 1 || s.Applied != 2 || s.Gate.Closed {
		t.Errorf("Stats = %+v; want one 429, 2 applied, gate open", s)
	}
}

func TestOutageThenRecoveryAppliesEveryQueuedUser(t *testing.T) {
	e := newEnv(t)
	type want struct {
		roles []any
		name  any
	}
	cases := []struct {
		roles []any
		name  any
		plays int64
		want  want
	}{
		{nil, nil, 150, want{[]any{"playlist_editor"}, "user"}},
		{[]any{"admin", "playlist_editor"}, "Bo", 10, want{[]any{"admin"}, "Bo"}},
		{[]any{"admin"}, "", 100, want{[]any{"admin", "playlist_editor"}, "user"}},
		{[]any{"playlist_editor"}, "Cy", 99, want{[]any{}, "Cy"}},
		{[]any{"x", "y"}, nil, 101, want{[]any{"x", "y", "playlist_editor"}, "user"}},
		{nil, "Di", 0, want{nil, "Di"}}, // nothing changes: no write at all
	}
	for i, c := range cases {
		e.tenant.PutUser(tenantUser(userID(i), c.roles, c.name))
		e.setPlays(userID(i), c.plays)
	}
	e.tenant.SetFault("", "/api/v2/users/*", mgmttest.Fault{Status: http.StatusServiceUnavailable})
	e.startWorker(e.w, "w1")
	for i, c := range cases {
		out, err := e.loginWrite(e.w, domainUser(e.user(userID(i))), c.plays, 2*time.Second)
		wantOut := metadata.Queued
		if i == len(cases)-1 {
			wantOut = metadata.Written // empty patch
		}
		if err != nil || out != wantOut {
			t.Fatalf("login %d during the outage = %v, %v; want %v, nil", i, out, err, wantOut)
		}
	}
	// 3 failures open the breaker; one more call may have been in flight (the worker's).
	if s := e.w.Stats(); s.Breaker != BreakerOpen || s.Calls5xx > 4 {
		t.Errorf("Stats = %+v; want the breaker open after 3 failures and no more calls", s)
	}
	if d := e.depth(); d != int64(len(cases)-1) {
		t.Errorf("queue depth = %d; want %d", d, len(cases)-1)
	}
	// The outage goes on; the worker probes the tenant again, and nothing is lost.
	probes := len(e.tenant.Requests())
	testkit.WaitUntil(t, "the worker to probe the tenant during the outage", func() bool { return len(e.tenant.Requests()) > probes })
	e.tenant.ClearFaults()

	testkit.WaitUntil(t, "an empty queue", func() bool { return e.depth() == 0 })
	for i, c := range cases {
		u := e.user(userID(i))
		if got := roles(u); !(len(got) == 0 && len(c.want.roles) == 0) && !reflect.DeepEqual(got, c.want.roles) {
			t.Errorf("user %d roles = %v; want %v", i, got, c.want.roles)
		}
		if got := u.UserMetadata["displayName"]; got != c.want.name {
			t.Errorf("user %d displayName = %v; want %v", i, got, c.want.name)
		}
	}
	if s := e.w.Stats(); s.Applied != int64(len(cases)-1) || s.Breaker != BreakerClosed {
		t.Errorf("Stats = %+v; want %d applied and the breaker closed", s, len(cases)-1)
	}
}

func TestPromotionQueuedAfterDemotionLeavesUserPromoted(t *testing.T) {
	e := newEnv(t)
	const id = "auth0|flip"
	e.tenant.PutUser(tenantUser(id, []any{"admin", "playlist_editor"}, "Fa"))
	e.setPlays(id, 10) // plays were reset: the login demotes
	e.tenant.SetFault(http.MethodPatch, "", mgmttest.Fault{Status: http.StatusBadGateway})
	if out, err := e.loginWrite(e.w, domainUser(e.user(id)), 10, 2*time.Second); err != nil || out != metadata.Queued {
		t.Fatalf("demoting login = %v, %v; want queued", out, err)
	}
	e.setPlays(id, 150) // then the user plays past the threshold again: a promotion is queued
	if err := e.w.Rerun(context.Background(), id, metadata.ReasonPlay, "req-play"); err != nil {
		t.Fatalf("Rerun = %v", err)
	}
	if d := e.depth(); d != 1 {
		t.Errorf("queue depth = %d; want 1 (one entry per user)", d)
	}
	e.tenant.ClearFaults()
	e.startWorker(e.w, "w1")
	testkit.WaitUntil(t, "an empty queue", func() bool { return e.depth() == 0 })
	if got, want := roles(e.user(id)), []any{"admin", "playlist_editor"}; !reflect.DeepEqual(got, want) {
		t.Errorf("roles = %v; want %v (the stale demotion must not win)", got, want)
	}
	for _, r := range e.tenant.Requests() {
		if r.Method == http.MethodPatch && r.Status == http.StatusOK {
			t.Errorf("PATCH %s reached the tenant; want none (nothing differs)", r.Body)
		}
	}
}

func TestQueuedEntriesSurviveAProcessKill(t *testing.T) {
	e := newEnv(t)
	ids := []string{"auth0|k1", "auth0|k2", "auth0|k3"}
	for _, id := range ids {
		e.tenant.PutUser(tenantUser(id, nil, nil))
		e.setPlays(id, 200)
	}
	e.tenant.SetFault("", "/api/v2/users/*", mgmttest.Fault{Status: http.StatusInternalServerError})
	for _, id := range ids {
		if out, err := e.loginWrite(e.w, domainUser(e.user(id)), 200, 2*time.Second); err != nil || out != metadata.Queued {
			t.Fatalf("login %s = %v, %v; want queued", id, out, err)
		}
	}
	// A worker of the first process claimed an entry and died holding its lease.
	if got, err := e.store.Claim(context.Background(), "dead-replica", 1, 300*time.Millisecond); err != nil || len(got) != 1 {
		t.Fatalf("Claim = %v, %v; want one entry", got, err)
	}
	e.tenant.ClearFaults()

	// The process restarts: new Redis client, new Store, new Writer; nothing in memory survives.
	store, _ := e.redis.Open(t)
	cfg := testConfig(e.tenant)
	w, err := New(cfg, store, store)
	if err != nil {
		t.Fatal(err)
	}
	e.startWorker(w, "restarted")
	testkit.WaitUntil(t, "every queued user written", func() bool {
		for _, id := range ids {
			if !reflect.DeepEqual(roles(e.user(id)), []any{"playlist_editor"}) {
				return false
			}
		}
		return true
	})
	testkit.WaitUntil(t, "an empty queue", func() bool { return e.depth() == 0 })
}

func TestTwoWorkersApplyEachEntryOnceInOrder(t *testing.T) {
	e := newEnv(t)
	const n = 12
	for i := range n {
		e.tenant.PutUser(tenantUser(userID(i), []any{"admin"}, "N"))
		e.setPlays(userID(i), 100)
		if err := e.w.Rerun(context.Background(), userID(i), metadata.ReasonPlay, ""); err != nil {
			t.Fatal(err)
		}
	}
	const x = "auth0|ordered"
	e.tenant.PutUser(tenantUser(x, nil, "start"))
	e.setPlays(x, 0)
	// x's first PATCH is slow, so that a newer value arrives while it is in flight.
	e.tenant.SetFault(http.MethodPatch, "/api/v2/users/"+x, mgmttest.Fault{Delay: 400 * time.Millisecond, Times: 1})
	put := func(name string) {
		t.Helper()
		if err := e.store.Put(context.Background(), metadata.QueueEntry{UserID: x, Explicit: metadata.DisplayNamePatch(name), Reason: metadata.ReasonAPI}); err != nil {
			t.Fatal(err)
		}
	}
	put("first")

	storeB, _ := e.redis.Open(t)
	b, err := New(testConfig(e.tenant), storeB, storeB)
	if err != nil {
		t.Fatal(err)
	}
	e.startWorker(e.w, "replica-a")
	e.startWorker(b, "replica-b")
	testkit.WaitUntil(t, "x's first PATCH in flight", func() bool { return e.tenant.Count(http.MethodPatch, "/api/v2/users/"+x) == 1 })
	put("second")

	testkit.WaitUntil(t, "an empty queue", func() bool { return e.depth() == 0 })
	for i := range n {
		if c := e.tenant.Count(http.MethodPatch, "/api/v2/users/"+userID(i)); c != 1 {
			t.Errorf("user %d PATCHed %d times; want exactly 1", i, c)
		}
		if got := roles(e.user(userID(i))); !reflect.DeepEqual(got, []any{"admin", "playlist_editor"}) {
			t.Errorf("user %d roles = %v; want [admin playlist_editor]", i, got)
		}
	}
	var names []any
	for _, r := range e.tenant.Requests() {
		if r.Method == http.MethodPatch && r.Path == "/api/v2/users/"+x {
			var body struct {
				UserMetadata map[string]any `json:"user_metadata"`
			}
			_ = json.Unmarshal([]byte(r.Body), &body)
			names = append(names, body.UserMetadata["displayName"])
		}
	}
	if want := []any{"first", "second"}; !reflect.DeepEqual(names, want) {
		t.Errorf("x's PATCHes carried %v; want %v, in that order", names, want)
	}
	if got := e.user(x).UserMetadata["displayName"]; got != "second" {
		t.Errorf("x's displayName = %v; want second", got)
	}
	sa, sb := e.w.Stats(), b.Stats()
	if sa.Applied+sb.Applied != n+2 || sa.Applied == 0 || sb.Applied == 0 {
		t.Errorf("applied by a = %d, by b = %d; want %d in all, by both", sa.Applied, sb.Applied, n+2)
	}
}

func TestConcurrentLoginsOfOneUserDuringOutage(t *testing.T) {
	e := newEnv(t)
	const id = "auth0|busy"
	e.tenant.PutUser(tenantUser(id, nil, nil))
	e.setPlays(id, 150)
	e.tenant.SetFault("", "/api/v2/users/*", mgmttest.Fault{Status: http.StatusServiceUnavailable})
	before := domainUser(e.user(id))
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for range 50 {
		wg.Go(func() {
			// The first logins find no entry and queue one; a login that starts after an entry
			// exists joins it (Merged). Both are "stored in the queue"; which one a login gets
			// depends on the scheduler.
			out, err := e.loginWrite(e.w, before, 150, 2*time.Second)
			if err == nil && out != metadata.Queued && out != metadata.Merged {
				err = &unexpectedOutcome{out}
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("login during the outage = %v; want queued or merged", err)
		}
	}
	if d := e.depth(); d != 1 {
		t.Errorf("queue depth = %d after 50 logins; want 1", d)
	}
	t.Logf("PATCH attempts during the outage: %d", e.tenant.Count(http.MethodPatch, "/"))

	e.tenant.ClearFaults()
	e.tenant.ResetLog()
	e.startWorker(e.w, "w1")
	testkit.WaitUntil(t, "an empty queue", func() bool { return e.depth() == 0 })
	if n := e.tenant.Count(http.MethodPatch, "/"); n != 1 {
		t.Errorf("PATCH count after recovery = %d; want 1", n)
	}
	if u := e.user(id); !reflect.DeepEqual(roles(u), []any{"playlist_editor"}) || u.UserMetadata["displayName"] != "user" {
		t.Errorf("user = %+v; want promoted and named", u)
	}
}

type unexpectedOutcome struct{ got metadata.Outcome }

func (u *unexpectedOutcome) Error() string { return "outcome " + u.got.String() }

func TestPendingEntryTakesLaterWrites(t *testing.T) {
	e := newEnv(t)
	const id = "auth0|chooser"
	e.tenant.PutUser(tenantUser(id, nil, nil))
	e.setPlays(id, 0)
	// The user picks a name while the tenant fails: it is queued.
	e.tenant.SetFault(http.MethodPatch, "", mgmttest.Fault{Status: http.StatusServiceUnavailable, Times: 1})
	out, err := e.w.Write(context.Background(), metadata.Write{UserID: id, Patch: metadata.DisplayNamePatch("Bob"), Explicit: true, Reason: metadata.ReasonAPI, RequestID: "req-api"})
	if err != nil || out != metadata.Queued {
		t.Fatalf("explicit Write = %v, %v; want queued", out, err)
	}
	// The tenant is back, but before the worker gets there the user logs in: the login's snapshot
	// has no name, so the rules would write the default. It must not overtake the user's choice.
	patches := e.tenant.Count(http.MethodPatch, "/")
	out, err = e.loginWrite(e.w, domainUser(e.user(id)), 0, 2*time.Second)
	if err != nil || out != metadata.Merged {
		t.Fatalf("login Write with an entry pending = %v, %v; want merged", out, err)
	}
	if n := e.tenant.Count(http.MethodPatch, "/"); n != patches {
		t.Errorf("login made %d PATCHes while an entry was pending; want 0", n-patches)
	}
	e.startWorker(e.w, "w1")
	testkit.WaitUntil(t, "an empty queue", func() bool { return e.depth() == 0 })
	if got := e.user(id).UserMetadata["displayName"]; got != "Bob" {
		t.Errorf("displayName = %v; want Bob (the user's choice)", got)
	}
	audit := e.audit.all()
	if len(audit) != 1 || audit[0].Reason != metadata.ReasonQueue || audit[0].RequestID != "req-"+id ||
		len(audit[0].Changes) != 1 || audit[0].Changes[0].After != "Bob" || audit[0].Changes[0].Before != nil {
		t.Errorf("audit = %+v; want one queue entry setting displayName from nil to Bob", audit)
	}
}

func TestRerunPromotesWithoutLogin(t *testing.T) {
	e := newEnv(t)
	const id = "auth0|player"
	e.tenant.PutUser(tenantUser(id, []any{"admin"}, "Pat"))
	e.setPlays(id, 100)
	e.startWorker(e.w, "w1")
	if err := e.w.Rerun(context.Background(), id, metadata.ReasonPlay, "req-play"); err != nil {
		t.Fatal(err)
	}
	testkit.WaitUntil(t, "the promotion", func() bool {
		return reflect.DeepEqual(roles(e.user(id)), []any{"admin", "playlist_editor"})
	})
	if body := lastBody(t, e.tenant, http.MethodPatch); !reflect.DeepEqual(sortedKeys(body), []string{"app_metadata"}) {
		t.Errorf("PATCH body = %v; want app_metadata only", body)
	}
	testkit.WaitUntil(t, "the audit entry", func() bool { return len(e.audit.all()) == 1 })
	if a := e.audit.all()[0]; a.Reason != metadata.ReasonQueue || a.RequestID != "req-play" || a.UserID != id {
		t.Errorf("audit = %+v; want reason queue, request req-play", a)
	}
	// A user deleted meanwhile is dropped.
	if err := e.w.Rerun(context.Background(), "auth0|deleted", metadata.ReasonPlay, ""); err != nil {
		t.Fatal(err)
	}
	testkit.WaitUntil(t, "the drop", func() bool { return e.w.Stats().Dropped == 1 && e.depth() == 0 })
}

// TestExplicitOnlyWorkerDropsRuleReruns: outside management mode the worker does not write what
// the rules decide: a re-run queued (by an earlier management-mode process) is taken off the
// queue, and nothing is PATCHed.
func TestExplicitOnlyWorkerDropsRuleReruns(t *testing.T) {
	e := newEnv(t)
	const id = "auth0|player"
	e.tenant.PutUser(tenantUser(id, []any{"admin"}, "Pat"))
	e.setPlays(id, 100)
	if err := e.w.Rerun(context.Background(), id, metadata.ReasonPlay, "req-play"); err != nil {
		t.Fatal(err)
	}
	opts := testWorker
	opts.ExplicitOnly = true
	e.startWorkerWith(e.w, "w1", opts)
	testkit.WaitUntil(t, "the entry handled", func() bool { return e.w.Stats().Unchanged == 1 && e.depth() == 0 })
	if n := e.tenant.Count(http.MethodPatch, "/api/v2/users"); n != 0 || !reflect.DeepEqual(roles(e.user(id)), []any{"admin"}) {
		t.Errorf("PATCHes = %d, roles %v; want 0 and [admin] (not promoted by this worker)", n, roles(e.user(id)))
	}
}

func TestWorkerPacesWhenRemainingIsLow(t *testing.T) {
	e := newEnv(t)
	const id = "auth0|paced"
	e.tenant.PutUser(tenantUser(id, nil, "P"))
	e.setPlays(id, 100)
	reset := wholeSecondAfter(time.Second)
	e.tenant.SetFault(http.MethodGet, "/api/v2/users/*", mgmttest.Fault{Remaining: 1, Reset: reset, Times: 1})
	if err := e.w.Rerun(context.Background(), id, metadata.ReasonPlay, ""); err != nil {
		t.Fatal(err)
	}
	e.startWorker(e.w, "w1")
	testkit.WaitUntil(t, "the paced GET", func() bool { return e.w.Stats().Gate.Paced })
	// Remaining 1 is below the reserve of 2: the probe after the reset waits a second more, plus
	// up to a second of jitter.
	testkit.WaitUntil(t, "the promotion", func() bool { return len(roles(e.user(id))) == 1 })
	for _, r := range e.tenant.Requests() {
		if r.Method == http.MethodPatch && r.Time.Before(reset) {
			t.Errorf("PATCH at %s; want it after the reset %s", r.Time, reset)
		}
	}
}

func TestWorkerKeepsEntryWhenPlaysCannotBeRead(t *testing.T) {
	e := newEnv(t)
	const id = "auth0|unknown-plays"
	e.tenant.PutUser(tenantUser(id, []any{"playlist_editor"}, "U"))
	w, err := New(testConfig(e.tenant), e.store, failingPlays{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Rerun(context.Background(), id, metadata.ReasonPlay, ""); err != nil {
		t.Fatal(err)
	}
	e.startWorker(w, "w1")
	testkit.WaitUntil(t, "two attempts", func() bool { return w.Stats().Retried >= 2 })
	if n := len(e.tenant.Requests()); n != 0 {
		t.Errorf("tenant saw %d requests; want 0 (no demotion, no call, while plays are unknown)", n)
	}
	if d := e.depth(); d != 1 {
		t.Errorf("queue depth = %d; want 1 (the entry waits for the play count)", d)
	}
}

func TestWorkerStopsPromptlyAndGivesEntryBack(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Timeout = time.Minute }) // only the stop can end the GET
	const id = "auth0|stuck"
	e.tenant.PutUser(tenantUser(id, nil, nil))
	e.setPlays(id, 100)
	e.tenant.SetFault(http.MethodGet, "/api/v2/users/*", mgmttest.Fault{Hang: true})
	if err := e.w.Rerun(context.Background(), id, metadata.ReasonPlay, ""); err != nil {
		t.Fatal(err)
	}
	stop := e.startWorker(e.w, "w1")
	testkit.WaitUntil(t, "the hung GET", func() bool { return e.tenant.Count(http.MethodGet, "/api/v2/users/") == 1 })
	start := time.Now()
	stop()
	if took := time.Since(start); took > testkit.Within(0) {
		t.Errorf("worker stopped %s after cancel; want promptly", took)
	}
	got, err := e.store.Claim(context.Background(), "next", 1, time.Second)
	if err != nil || len(got) != 1 || got[0].UserID != id {
		t.Errorf("Claim after the stop = %v, %v; want the entry back at once", got, err)
	}
}

func TestRunWorkerRejectsBadOptions(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for _, tc := range []struct {
		consumer string
		opts     WorkerOptions
	}{
		{"", WorkerOptions{}},
		{"a b", WorkerOptions{}},
		{"w", WorkerOptions{Lease: 100 * time.Millisecond}},
		{"w", WorkerOptions{MinBackoff: time.Minute, MaxBackoff: time.Second}},
	} {
		if err := e.w.RunWorker(ctx, tc.consumer, tc.opts); err == nil {
			t.Errorf("RunWorker(%q, %+v) = nil; want an error", tc.consumer, tc.opts)
		}
	}
}
