package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rulehook/rulehook/metadata"
	"github.com/rulehook/rulehook/metadata/mgmt"
	"github.com/rulehook/rulehook/metadata/reconcile"
	"github.com/rulehook/rulehook/metadata/redisstore"
)

// reconcileTimeout bounds each Management API call of a reconcile run.
const reconcileTimeout = 10 * time.Second

// runReconcile brings every user of the tenant in line with the rules, writing only those who
// differ. It reads the same environment as serve, less the callout settings.
func runReconcile(ctx context.Context, args []string, env *environment) error {
	fs := newFlagSet(env, "reconcile", "It reads the environment of `rulehook serve -h` less the callout settings (else a running\n`rulehook dev`'s).")
	statePath := stateFlag(fs.FlagSet)
	var o reconcile.Options
	fs.Float64Var(&o.Rate, "rate", reconcile.DefaultRate, "most writes started per second; fewer while logins need the tenant's rate limit (the free tier allows 2 calls per second in all)")
	fs.IntVar(&o.PerPage, "per-page", reconcile.DefaultPerPage, "users per listing page")
	fs.StringVar(&o.Name, "name", reconcile.DefaultName, "checkpoint name, so that separate runs do not share one")
	fs.BoolVar(&o.DryRun, "dry-run", false, "print the changes a run would make and write nothing")
	fs.BoolVar(&o.Restart, "restart", false, "ignore the checkpoint of an interrupted run and start from the first page")
	fs.StringVar(&o.Source, "source", reconcile.SourceAuto,
		"where the users come from: auto (the listing up to 1000 users, a users-export job above), list or export")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := configOrDev(env, fs.FlagSet, *statePath, loadManagementConfig)
	if err != nil {
		return err
	}
	logger := newLogger(env.stderr, cfg.LogLevel, cfg.LogFormat)
	redisstore.SetLogger(logger)
	rdb, err := cfg.openRedis()
	if err != nil {
		return err
	}
	defer rdb.Close()
	store := redisstore.New(rdb)
	// Off the login path a call may take longer: a page of 100 users is a larger answer.
	w, err := cfg.newWriter(store, logger, reconcileTimeout)
	if err != nil {
		return err
	}
	o.Policy = cfg.Policy
	o.Changes, o.Unrecorded, o.Progress = env.stdout, env.stdout, env.stderr
	// Background: every call of the walk yields to logins in the writer's rate budget, and
	// waits out a nearly spent window instead of drawing 429s.
	sum, err := reconcile.Run(mgmt.WithPriority(ctx, mgmt.Background), o, reconcile.Deps{
		Users: w, Plays: store, Writer: w, Checkpoints: store, Fresh: w, Gate: w, Logger: logger,
	})
	if errors.Is(err, metadata.ErrInvalid) {
		return usageErrorf("reconcile: %v", err)
	}
	fmt.Fprintln(env.stdout, sum)
	if err != nil {
		return fmt.Errorf("reconcile stopped (run it again to resume): %w", err)
	}
	if sum.Queued > 0 {
		fmt.Fprintf(env.stdout, "%d writes were queued (rate limit or tenant errors); a running rulehook serve applies them\n", sum.Queued)
	}
	return nil
}
