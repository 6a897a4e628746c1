package reconcile_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rulehook/rulehook/metadata"
	"github.com/rulehook/rulehook/metadata/mgmt"
	"github.com/rulehook/rulehook/metadata/mgmt/mgmttest"
	"github.com/rulehook/rulehook/metadata/reconcile"
	"github.com/rulehook/rulehook/metadata/redisstore"
	"github.com/rulehook/rulehook/metadata/redisstore/redistest"
)

// env is one test's world: an emulated tenant, a real redis-server, a Store on it (plays, queue,
// audit, checkpoint) and the real mgmt.Writer.
type env struct {
	t      *testing.T
	tenant *mgmttest.Server
	rdb    redis.UniversalClient
	store  *redisstore.Store
	w      *mgmt.Writer
}

func newEnv(t *testing.T, opts ...mgmttest.Option) *env {
	t.Helper()
	tenant := mgmttest.New(opts...)
	t.Cleanup(tenant.Close)
	e := &env{t: t, tenant: tenant}
	e.store, e.rdb = redistest.Start(t).Open(t)
	var err error
	e.w, err = mgmt.New(mgmt.Config{
		BaseURL:      tenant.URL(),
		ClientID:     tenant.ClientID(),
		ClientSecret: tenant.ClientSecret(),
		Timeout:      2 * time.Second,
		Policy:       metadata.DefaultPolicy,
		Auditor:      e.store,
		Logger:       testLogger(),
	}, e.store, e.store)
	if err != nil {
		t.Fatalf("mgmt.New: %v", err)
	}
	return e
}

func testLogger() *slog.Logger {
	if os.Getenv("RECONCILE_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// deps wires e's real parts as `rulehook reconcile` does.
func (e *env) deps() reconcile.Deps {
	return reconcile.Deps{
		Users:       e.w,
		Plays:       e.store,
		Writer:      e.w,
		Checkpoints: e.store,
		Gate: reconcile.GateFunc(func() (bool, time.Time) {
			g := e.w.Stats().Gate
			return g.Closed || g.Paced, g.Reset
		}),
		Logger: testLogger(),
	}
}

// kind is what a seeded user needs from the rules.
type kind int

const (
	settled   kind = iota // editor at 150 plays with a name: nothing to do
	promote               // 150 plays, roles [admin]: gains playlist_editor
	demote                // 10 plays, roles [playlist_editor, beta]: loses it
	unnamed               // 5 plays, no roles, no displayName: gets the default name
	plainUser             // 5 plays, roles [], named: nothing to do
)

func (k kind) differs() bool { return k == promote || k == demote || k == unnamed }

// seeded is one user as seeded, with what the rules must leave in the tenant.
type seeded struct {
	id        string
	kind      kind
	wantRoles []any
	wantName  string
}

func userID(i int) string { return fmt.Sprintf("auth0|user%05d", i) }

// seed puts n users into the tenant and their plays into Redis; kindOf chooses each one's kind.
func (e *env) seed(n int, kindOf func(i int) kind) []seeded {
	e.t.Helper()
	ctx := context.Background()
	pipe := e.rdb.Pipeline()
	out := make([]seeded, n)
	for i := range n {
		s := seeded{id: userID(i), kind: kindOf(i), wantName: "J" + strconv.Itoa(i)}
		u := mgmttest.User{ID: s.id, Email: fmt.Sprintf("u%d@example.com", i),
			AppMetadata: map[string]any{}, UserMetadata: map[string]any{"displayName": s.wantName}}
		var plays int64
		switch s.kind {
		case settled:
			plays, u.AppMetadata["roles"] = 150, []any{"playlist_editor"}
			s.wantRoles = []any{"playlist_editor"}
		case promote:
			plays, u.AppMetadata["roles"] = 150, []any{"admin"}
			s.wantRoles = []any{"admin", "playlist_editor"}
		case demote:
			plays, u.AppMetadata["roles"] = 10, []any{"playlist_editor", "beta"}
			s.wantRoles = []any{"beta"}
		case unnamed:
			plays, u.AppMetadata, u.UserMetadata = 5, nil, nil
			s.wantName = "user"
		case plainUser:
			plays, u.AppMetadata["roles"] = 5, []any{}
			s.wantRoles = []any{}
		}
		e.tenant.PutUser(u)
		pipe.Set(ctx, redisstore.PlaysKey(s.id), strconv.FormatInt(plays, 10), 0)
		out[i] = s
	}
	if _, err := pipe.Exec(ctx); err != nil {
		e.t.Fatalf("seed plays: %v", err)
	}
	return out
}

// mixed is the seeded population: 3 users in 5 differ.
func mixed(i int) kind { return kind(i % 5) }

func countDiffering(users []seeded) int {
	n := 0
	for _, u := range users {
		if u.kind.differs() {
			n++
		}
	}
	return n
}

// checkCompleteRun checks the Summary of a run that read every seeded user once and wrote every
// differing one, then checks the writes.
func (e *env) checkCompleteRun(sum reconcile.Summary, users []seeded) {
	e.t.Helper()
	n, differing := len(users), countDiffering(users)
	want := reconcile.Summary{RunID: sum.RunID, Total: n, Users: n, Written: differing,
		Unchanged: n - differing, Elapsed: sum.Elapsed}
	if sum != want {
		e.t.Errorf("Summary = %+v; want %+v", sum, want)
	}
	e.checkWrites(users)
}

// checkWrites checks that every differing user was PATCHed exactly once and no other user at
// all, and every seeded user's final metadata.
func (e *env) checkWrites(users []seeded) {
	e.t.Helper()
	e.checkWrittenOnce(users)
	e.checkTenant(users)
}

// checkTenant checks every seeded user's final metadata.
func (e *env) checkTenant(users []seeded) {
	e.t.Helper()
	bad := 0
	for _, s := range users {
		u, ok := e.tenant.User(s.id)
		if !ok {
			e.t.Fatalf("user %s is gone", s.id)
		}
		gotRoles := u.AppMetadata["roles"]
		gotName := u.UserMetadata["displayName"]
		rolesOK := reflect.DeepEqual(gotRoles, any(s.wantRoles))
		if s.wantRoles == nil {
			rolesOK = gotRoles == nil
		}
		if !rolesOK || gotName != s.wantName {
			if bad++; bad <= 5 {
				e.t.Errorf("user %s (kind %d): roles %v, displayName %v; want %v, %q", s.id, s.kind, gotRoles, gotName, s.wantRoles, s.wantName)
			}
		}
	}
	if bad > 5 {
		e.t.Errorf("... and %d more users wrong", bad-5)
	}
}

// patches returns the PATCHes the tenant accepted (2xx), by user id, and their arrival times.
func (e *env) patches() (map[string]int, []time.Time) {
	byUser := map[string]int{}
	var times []time.Time
	for _, r := range e.tenant.Requests() {
		if r.Method != http.MethodPatch || !strings.HasPrefix(r.Path, "/api/v2/users/") || r.Status/100 != 2 {
			continue
		}
		byUser[strings.TrimPrefix(r.Path, "/api/v2/users/")]++
		times = append(times, r.Time)
	}
	return byUser, times
}

// checkWrittenOnce checks that every differing user was PATCHed exactly once and no other user at all.
func (e *env) checkWrittenOnce(users []seeded) {
	e.t.Helper()
	byUser, _ := e.patches()
	bad := 0
	for _, s := range users {
		want := 0
		if s.kind.differs() {
			want = 1
		}
		if got := byUser[s.id]; got != want {
			if bad++; bad <= 5 {
				e.t.Errorf("PATCHes of %s (kind %d) = %d; want %d", s.id, s.kind, got, want)
			}
		}
	}
	if bad > 5 {
		e.t.Errorf("... and %d more users PATCHed the wrong number of times", bad-5)
	}
}

// maxPerWindow is the most of times (unsorted) that fall in any window of length d.
func maxPerWindow(times []time.Time, d time.Duration) int {
	ts := slices.Clone(times)
	slices.SortFunc(ts, func(a, b time.Time) int { return a.Compare(b) })
	best, j := 0, 0
	for i := range ts {
		for ts[i].Sub(ts[j]) >= d {
			j++
		}
		best = max(best, i-j+1)
	}
	return best
}

// checkpoint returns the stored checkpoint of the run called name.
func (e *env) checkpoint(name string) string {
	e.t.Helper()
	v, err := e.store.Checkpoint(context.Background(), name)
	if err != nil {
		e.t.Fatalf("Checkpoint(%q): %v", name, err)
	}
	return v
}
