package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/rulehook/rulehook/cmd/rulehook/internal/budgetbench"
	"github.com/rulehook/rulehook/metadata/mgmt/mgmttest"
)

// runBenchBudget measures how logins and a reconcile share the tenant's Management API rate limit
// on an emulated Auth0 tier, and prints the figures (see internal/budgetbench).
func runBenchBudget(ctx context.Context, args []string, env *environment) error {
	fs := newFlagSet(env, "bench-budget")
	var o budgetbench.Options
	fs.IntVar(&o.Logins, "logins", budgetbench.DefaultLogins, "logins that need a write")
	fs.DurationVar(&o.LoginEvery, "login-every", budgetbench.DefaultLoginEvery, "time between two logins")
	fs.IntVar(&o.Users, "users", budgetbench.DefaultUsers, "other users the reconcile finds needing a write")
	fs.BoolVar(&o.NoYield, "no-yield", false, "for comparison: the reconcile ignores the budget (foreground, paced only by its --rate 2)")
	tier := fs.String("tier", "free", "the emulated tenant's rate-limit tier: free or self-service")
	redisBin := fs.String("redis-server", "redis-server", "the redis-server binary to start")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch *tier {
	case "free":
		t := mgmttest.FreeTier()
		o.Tier = &t
	case "self-service":
		t := mgmttest.SelfServiceTier()
		o.Tier = &t
	default:
		return usageErrorf("bench-budget: --tier %q: want free or self-service", *tier)
	}
	rds, err := startRedis(*redisBin)
	if err != nil {
		return err
	}
	defer rds.Stop()
	rdb := redis.NewClient(&redis.Options{Addr: rds.Addr()})
	defer rdb.Close()
	o.Redis, o.Progress = rdb, env.stderr
	fmt.Fprintf(env.stderr, "bench-budget: %d logins every %s and a reconcile of %d more users on the emulated %s tier\n",
		o.Logins, o.LoginEvery, o.Users, *tier)
	rep, err := budgetbench.Run(ctx, o)
	rep.Print(env.stdout)
	if errors.Is(err, budgetbench.ErrOptions) {
		return usageErrorf("bench-budget: %v", err)
	}
	return err
}
