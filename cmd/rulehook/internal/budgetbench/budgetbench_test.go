package budgetbench_test

import (
	"context"
	"errors"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/rulehook/rulehook/cmd/rulehook/internal/budgetbench"
	"github.com/rulehook/rulehook/metadata/redisstore/redistest"
)

// TestFreeTierLoginsAndReconcileShareTheBudget runs logins needing writes at one a second beside
// a reconcile, on the emulated free tier (one bucket of 2 per second for every call), with
// `rulehook serve` and `rulehook reconcile` as separate writers as in production. The walk
// yields to the logins, so the tenant refuses at most a few calls, and every change lands.
func TestFreeTierLoginsAndReconcileShareTheBudget(t *testing.T) {
	const logins, users = 6, 8
	rdb := redis.NewClient(&redis.Options{Addr: redistest.Start(t).Addr()})
	t.Cleanup(func() { rdb.Close() })
	rep, err := budgetbench.Run(context.Background(), budgetbench.Options{Logins: logins, Users: users, Redis: rdb})
	if err != nil {
		t.Fatalf("Run: %v\n%+v", err, rep)
	}
	if rep.Landed != logins+users || rep.Missing != 0 {
		t.Errorf("changes landed for %d users, missing for %d; want all %d", rep.Landed, rep.Missing, logins+users)
	}
	if rep.LoginsFailed != 0 || rep.LoginsWritten+rep.LoginsQueued != logins {
		t.Errorf("logins = %d written, %d queued, %d failed; want every one written or queued",
			rep.LoginsWritten, rep.LoginsQueued, rep.LoginsFailed)
	}
	if rep.Reconcile.Failed != 0 || rep.Reconcile.Users != logins+users {
		t.Errorf("reconcile = %+v; want all %d users, none failed", rep.Reconcile, logins+users)
	}
	// About 20 calls at the free tier's 2 per second; none refused in ten runs under load.
	if rep.Calls429 > 2 {
		t.Errorf("tenant answered 429 to %d of %d calls; want at most 2", rep.Calls429, rep.Calls)
	}
}

func TestRunChecksOptions(t *testing.T) {
	_, err := budgetbench.Run(context.Background(), budgetbench.Options{})
	if !errors.Is(err, budgetbench.ErrOptions) {
		t.Errorf("Run without redis = %v; want ErrOptions", err)
	}
}
