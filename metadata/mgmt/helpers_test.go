package mgmt

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rulehook/rulehook/metadata"
	"github.com/rulehook/rulehook/metadata/mgmt/mgmttest"
	"github.com/rulehook/rulehook/metadata/redisstore"
	"github.com/rulehook/rulehook/metadata/redisstore/redistest"
	"github.com/rulehook/rulehook/metadata/testkit"
)

// env is one test's world: an emulated tenant, a real redis-server, a Store on it, and a Writer.
type env struct {
	t      *testing.T
	tenant *mgmttest.Server
	redis  *redistest.Server
	rdb    redis.UniversalClient
	store  *redisstore.Store
	audit  *auditLog
	w      *Writer
}

// testConfig is short on every wait so that the suite stays fast, except the call timeout: an
// ordinary call must not time out on a loaded machine (tests of hangs set their own).
func testConfig(tenant *mgmttest.Server) Config {
	return Config{
		BaseURL:         tenant.URL(),
		ClientID:        tenant.ClientID(),
		ClientSecret:    tenant.ClientSecret(),
		Timeout:         2 * time.Second,
		QueueReserve:    150 * time.Millisecond,
		Policy:          metadata.DefaultPolicy,
		BreakerFailures: 3,
		BreakerOpen:     300 * time.Millisecond,
		Logger:          testLogger(),
	}
}

func testLogger() *slog.Logger {
	if os.Getenv("MGMT_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

var testWorker = WorkerOptions{
	Lease:      10 * time.Minute, // at least 3 × the longest call timeout a test sets
	Poll:       50 * time.Millisecond,
	MinBackoff: 100 * time.Millisecond,
	MaxBackoff: 400 * time.Millisecond,
}

func newEnv(t *testing.T, tweak ...func(*Config)) *env {
	t.Helper()
	tenant := mgmttest.New()
	t.Cleanup(tenant.Close)
	e := &env{t: t, tenant: tenant, redis: redistest.Start(t), audit: &auditLog{}}
	e.store, e.rdb = e.redis.Open(t)
	e.w = e.newWriter(tweak...)
	return e
}

// newWriter is another Writer (another replica, or the same process restarted) on e's tenant and
// Redis.
func (e *env) newWriter(tweak ...func(*Config)) *Writer {
	e.t.Helper()
	cfg := testConfig(e.tenant)
	cfg.Auditor = e.audit
	for _, f := range tweak {
		f(&cfg)
	}
	w, err := New(cfg, e.store, e.store)
	if err != nil {
		e.t.Fatalf("New: %v", err)
	}
	return w
}

// startWorker runs w's worker with testWorker's options until the test ends (or stop is
// called) and checks it returns nil.
func (e *env) startWorker(w *Writer, consumer string) (stop func()) {
	return e.startWorkerWith(w, consumer, testWorker)
}

// startWorkerWith is startWorker with opts.
func (e *env) startWorkerWith(w *Writer, consumer string, opts WorkerOptions) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.RunWorker(ctx, consumer, opts) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					e.t.Errorf("RunWorker(%s) = %v; want nil", consumer, err)
				}
			case <-time.After(testkit.Patience):
				e.t.Errorf("RunWorker(%s) did not stop within %s of cancel", consumer, testkit.Patience)
			}
		})
	}
	e.t.Cleanup(stop)
	return stop
}

func (e *env) setPlays(id string, n int64) {
	e.t.Helper()
	if err := e.rdb.Set(context.Background(), redisstore.PlaysKey(id), strconv.FormatInt(n, 10), 0).Err(); err != nil {
		e.t.Fatalf("set plays: %v", err)
	}
}

func (e *env) depth() int64 {
	e.t.Helper()
	n, err := e.w.QueueDepth(context.Background())
	if err != nil {
		e.t.Fatalf("QueueDepth: %v", err)
	}
	return n
}

func (e *env) user(id string) mgmttest.User {
	e.t.Helper()
	u, ok := e.tenant.User(id)
	if !ok {
		e.t.Fatalf("tenant has no user %q", id)
	}
	return u
}

// loginWrite is what the webhook does on a login: decide with the event's user and plays, and
// write the decision's patch with the callout's deadline.
func (e *env) loginWrite(w *Writer, u metadata.User, plays int64, deadline time.Duration) (metadata.Outcome, error) {
	d := metadata.DefaultPolicy.Decide(metadata.Input{User: u, Plays: plays, PlaysKnown: true})
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	return w.Write(ctx, metadata.Write{UserID: u.ID, Patch: d.Patch, Reason: metadata.ReasonLogin, RequestID: "req-" + u.ID, Before: u})
}

func roles(u mgmttest.User) []any {
	r, _ := u.AppMetadata["roles"].([]any)
	return r
}

func tenantUser(id string, roles []any, displayName any) mgmttest.User {
	u := mgmttest.User{ID: id, Email: id + "@example.test", AppMetadata: map[string]any{}, UserMetadata: map[string]any{}}
	if roles != nil {
		u.AppMetadata["roles"] = roles
	}
	if displayName != nil {
		u.UserMetadata["displayName"] = displayName
	}
	return u
}

func domainUser(u mgmttest.User) metadata.User {
	return metadata.User{ID: u.ID, AppMetadata: u.AppMetadata, UserMetadata: u.UserMetadata}
}

// auditLog is an Auditor that keeps entries in memory.
type auditLog struct {
	mu      sync.Mutex
	entries []metadata.AuditEntry
}

func (a *auditLog) AppendAudit(_ context.Context, e metadata.AuditEntry) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.entries = append(a.entries, e)
	return nil
}

func (a *auditLog) all() []metadata.AuditEntry {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]metadata.AuditEntry(nil), a.entries...)
}

// failingPlays is a PlayReader for the odd case of a play count that cannot be read.
type failingPlays struct{}

func (failingPlays) PlayCount(context.Context, string) (metadata.PlayCount, error) {
	return metadata.PlayCount{}, errors.Join(metadata.ErrUnavailable, errors.New("emulated redis outage"))
}
