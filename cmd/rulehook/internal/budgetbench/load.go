package budgetbench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/rulehook/rulehook/cmd/rulehook/internal/every"
	"github.com/rulehook/rulehook/metadata"
	"github.com/rulehook/rulehook/metadata/mgmt"
	"github.com/rulehook/rulehook/metadata/mgmt/mgmttest"
	"github.com/rulehook/rulehook/metadata/reconcile"
)

// load runs the logins on serve and the reconcile on walk at the same time, and returns when
// both are done.
func load(ctx context.Context, o Options, serve, walk *mgmt.Writer, ids []string, rep *Report) error {
	var wg sync.WaitGroup
	g := &guard{rep: rep}
	wg.Add(1)
	go func() {
		defer wg.Done()
		logins(ctx, o, serve, ids[:o.Logins], g)
	}()
	deps := reconcile.Deps{Users: walk, Plays: o.store, Writer: walk, Checkpoints: o.store, Fresh: walk,
		Gate: walk, Logger: o.Logger}
	wctx := mgmt.WithPriority(ctx, mgmt.Background)
	if o.NoYield {
		deps.Gate, wctx = reconcile.GateFunc(func() (bool, time.Time) { return false, time.Time{} }), ctx
	}
	sum, err := reconcile.Run(wctx, reconcile.Options{Policy: metadata.DefaultPolicy, Name: "budgetbench", Restart: true}, deps)
	wg.Wait()
	rep.Reconcile = sum
	return err
}

// logins makes one login write every LoginEvery, each bounded by Deadline, as the callout does.
func logins(ctx context.Context, o Options, w *mgmt.Writer, ids []string, g *guard) {
	t := time.NewTicker(o.LoginEvery)
	defer t.Stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	for i, id := range ids {
		if i > 0 {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			g.login(ctx, o, w, id)
		}()
	}
}

// guard keeps the login counts that goroutines add to.
type guard struct {
	mu  sync.Mutex
	rep *Report
}

func (g *guard) login(ctx context.Context, o Options, w *mgmt.Writer, id string) {
	ctx, cancel := context.WithTimeout(ctx, o.Deadline)
	defer cancel()
	before := metadata.User{ID: id, AppMetadata: startUser(id).AppMetadata, UserMetadata: startUser(id).UserMetadata}
	d := metadata.DefaultPolicy.Decide(metadata.Input{User: before, Plays: plays, PlaysKnown: true})
	out, err := w.Write(ctx, metadata.Write{UserID: id, Patch: d.Patch, Reason: metadata.ReasonLogin, Before: before})
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case err != nil:
		g.rep.LoginsFailed++
	case out == metadata.Queued:
		g.rep.LoginsQueued++
	default:
		g.rep.LoginsWritten++
	}
}

// progress writes a line every ten seconds until stop is called.
func progress(out io.Writer, tenant *mgmttest.Server, start time.Time) (stop func()) {
	if out == nil {
		return func() {}
	}
	return every.Start(10*time.Second, func(now time.Time) {
		fmt.Fprintf(out, "%s: %d management api calls, %d answered 429\n",
			now.Sub(start).Round(time.Second), tenant.Count("", "/api/v2/"), tenant.CountStatus(http.StatusTooManyRequests))
	})
}
