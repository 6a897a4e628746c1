package budgetbench

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rulehook/rulehook/metadata"
	"github.com/rulehook/rulehook/metadata/mgmt"
	"github.com/rulehook/rulehook/metadata/mgmt/mgmttest"
	"github.com/rulehook/rulehook/metadata/redisstore"
)

// Defaults applied by Run to zero Options fields.
const (
	DefaultLogins     = 60
	DefaultLoginEvery = time.Second
	DefaultUsers      = 60
	DefaultDeadline   = 2 * time.Second // CALLOUT_DEADLINE's default
	DefaultDrain      = 2 * time.Minute
)

// plays is every seeded user's play count: enough for playlist_editor, so each one needs a write.
const plays = 150

// ErrOptions is wrapped by Run when Options are invalid.
var ErrOptions = errors.New("budgetbench: invalid options")

// Options configure one Run. Redis is required.
type Options struct {
	// Tier is the emulated tenant's rate-limit tier; default mgmttest.FreeTier().
	Tier *mgmttest.Tier
	// Logins is how many logins arrive, one every LoginEvery, each needing a write (defaults
	// DefaultLogins, DefaultLoginEvery).
	Logins     int
	LoginEvery time.Duration
	// Users is how many other users the reconcile finds needing a write (default DefaultUsers).
	Users int
	// Deadline bounds each login's write, as CALLOUT_DEADLINE does (default DefaultDeadline).
	Deadline time.Duration
	// Drain bounds the wait for the retry queue to empty after the load (default DefaultDrain).
	Drain time.Duration
	// Redis holds the play counts, the retry queue and reconcile's checkpoint. Run sets the play
	// counts of the users it seeds (ids "bench|login-…" and "bench|user-…") and leaves the queue
	// empty when every change landed. Use a Redis of its own.
	Redis redis.UniversalClient
	store *redisstore.Store
	// NoYield runs the walk as if there were no budget: Foreground, with no rate gate, paced only
	// by reconcile's own Rate (2 a second). It is the comparison: what a walk that does not yield
	// costs the logins.
	NoYield bool
	// Progress, when set, receives a line every ten seconds.
	Progress io.Writer
	// Logger receives the writers' records; nil discards them.
	Logger *slog.Logger
}

func (o Options) withDefaults() (Options, error) {
	if o.Tier == nil {
		t := mgmttest.FreeTier()
		o.Tier = &t
	}
	o.Logins = cmp.Or(o.Logins, DefaultLogins)
	o.Users = cmp.Or(o.Users, DefaultUsers)
	o.LoginEvery = cmp.Or(o.LoginEvery, DefaultLoginEvery)
	o.Deadline = cmp.Or(o.Deadline, DefaultDeadline)
	o.Drain = cmp.Or(o.Drain, DefaultDrain)
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Redis != nil {
		o.store = redisstore.New(o.Redis)
	}
	switch {
	case o.Redis == nil:
		return o, fmt.Errorf("%w: a redis client is required", ErrOptions)
	case o.Logins < 0 || o.Users < 0 || o.LoginEvery < 0 || o.Deadline < 0 || o.Drain < 0:
		return o, fmt.Errorf("%w: counts and durations must not be negative", ErrOptions)
	}
	return o, nil
}

// Run starts the emulated tenant, seeds it, runs the logins and the reconcile together, waits
// for the retry queue to drain and reports. The error is ErrOptions, a setup failure, ctx's
// error, or the reconcile's; the Report holds what was measured until then.
func Run(ctx context.Context, o Options) (Report, error) {
	o, err := o.withDefaults()
	if err != nil {
		return Report{}, err
	}
	tenant, err := mgmttest.Start(mgmttest.WithTier(*o.Tier))
	if err != nil {
		return Report{}, err
	}
	defer tenant.Close()
	ids, err := seed(ctx, tenant, o)
	if err != nil {
		return Report{}, err
	}
	serve, err := newWriter(tenant, o, o.Deadline*6/10) // serve's call timeout
	if err != nil {
		return Report{}, err
	}
	walk, err := newWriter(tenant, o, 10*time.Second) // `rulehook reconcile`'s call timeout
	if err != nil {
		return Report{}, err
	}
	rep := Report{Tier: o.Tier.Name, Logins: o.Logins, Users: len(ids)}
	start := time.Now()
	stopWorker := startWorker(ctx, serve)
	defer stopWorker()
	stopProgress := progress(o.Progress, tenant, start)
	err = load(ctx, o, serve, walk, ids, &rep)
	stopProgress()
	rep.Load = time.Since(start)
	if err == nil {
		err = drain(ctx, o, &rep)
	}
	rep.Elapsed = time.Since(start)
	rep.Calls, rep.Calls429 = tenant.Count("", "/api/v2/"), tenant.CountStatus(http.StatusTooManyRequests)
	rep.Landed, rep.Missing = verify(tenant, ids)
	rep.Worker = serve.Stats()
	return rep, err
}

// seed puts the logins' users and the reconcile's users in the tenant, none an editor yet, each
// with enough plays to become one.
func seed(ctx context.Context, tenant *mgmttest.Server, o Options) ([]string, error) {
	var ids []string
	for i := range o.Logins {
		ids = append(ids, fmt.Sprintf("bench|login-%05d", i))
	}
	for i := range o.Users {
		ids = append(ids, fmt.Sprintf("bench|user-%05d", i))
	}
	for _, id := range ids {
		tenant.PutUser(startUser(id))
		if err := o.Redis.Set(ctx, redisstore.PlaysKey(id), strconv.Itoa(plays), 0).Err(); err != nil {
			return nil, fmt.Errorf("budgetbench: seed plays: %w", err)
		}
	}
	return ids, nil
}

func startUser(id string) mgmttest.User {
	return mgmttest.User{ID: id, AppMetadata: map[string]any{"roles": []any{"admin"}},
		UserMetadata: map[string]any{"displayName": "bench"}}
}

func newWriter(tenant *mgmttest.Server, o Options, timeout time.Duration) (*mgmt.Writer, error) {
	return mgmt.New(mgmt.Config{
		BaseURL: tenant.URL(), ClientID: tenant.ClientID(), ClientSecret: tenant.ClientSecret(),
		Timeout: timeout, Policy: metadata.DefaultPolicy, Logger: o.Logger,
	}, o.store, o.store)
}

func startWorker(ctx context.Context, w *mgmt.Writer) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = w.RunWorker(ctx, "budgetbench", mgmt.WorkerOptions{})
	}()
	return func() { cancel(); <-done }
}

// verify counts the users that hold playlist_editor, their role kept.
func verify(tenant *mgmttest.Server, ids []string) (landed, missing int) {
	for _, id := range ids {
		u, _ := tenant.User(id)
		if fmt.Sprint(u.AppMetadata["roles"]) == "[admin playlist_editor]" {
			landed++
		} else {
			missing++
		}
	}
	return landed, missing
}

var errDrain = errors.New("budgetbench: the retry queue did not drain in time")

// drain waits for the retry queue to empty.
func drain(ctx context.Context, o Options, rep *Report) error {
	start := time.Now()
	defer func() { rep.Drain = time.Since(start) }()
	for {
		n, err := o.store.Depth(ctx)
		if err == nil && n == 0 {
			return nil
		}
		if time.Since(start) > o.Drain {
			return fmt.Errorf("%w (%d entries left after %s)", errDrain, n, o.Drain)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
