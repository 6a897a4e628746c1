package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rulehook/rulehook/cmd/rulehook/internal/bench"
	"github.com/rulehook/rulehook/cmd/rulehook/internal/every"
	"github.com/rulehook/rulehook/metadata/mgmt/mgmttest"
	"github.com/rulehook/rulehook/metadata/redisstore"
)

// rssTarget is the most peak resident memory a reconcile of 100,000 users may take.
const rssTarget = 100 << 20

// benchReconcile is what `rulehook bench reconcile` sets up and checks.
type benchReconcile struct {
	users, differ int
	rate          float64
	redisBin      string
}

// runBenchReconcile measures `rulehook reconcile` on a large emulated tenant: it seeds the tenant
// (in this process) and a real redis-server with users of whom a known subset differ from the
// rules, runs `rulehook reconcile` as a child process, and prints its peak resident memory, whether
// it wrote exactly the differing users, and the write rate it held.
func runBenchReconcile(ctx context.Context, args []string, env *environment) error {
	fs := newFlagSet(env, "bench reconcile")
	var b benchReconcile
	fs.IntVar(&b.users, "users", 100000, "users in the emulated tenant")
	fs.IntVar(&b.differ, "differ", 1000, "users among them whose metadata differ from the rules (evenly spread)")
	fs.Float64Var(&b.rate, "rate", 50, "reconcile's --rate; the tenant enforces the same write limit")
	fs.StringVar(&b.redisBin, "redis-server", "redis-server", "the redis-server binary")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if b.users < 1 || b.differ < 0 || b.differ > b.users || b.rate <= 0 {
		return usageErrorf("bench reconcile: want --users >= 1, 0 <= --differ <= --users and --rate > 0")
	}
	rds, err := startRedis(b.redisBin)
	if err != nil {
		return err
	}
	defer rds.Stop()
	redisAddr := rds.Addr()
	tenant, err := mgmttest.Start(mgmttest.WithWriteRate(b.rate, max(1, int(b.rate))))
	if err != nil {
		return err
	}
	defer tenant.Close()
	start := time.Now()
	differing, err := b.seed(ctx, tenant, "redis://"+redisAddr)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "bench reconcile: seeded %d users (%d differ) in %s; emulated tenant %s, redis-server %s\n",
		b.users, len(differing), time.Since(start).Round(time.Millisecond), tenant.URL(), redisAddr)
	run, err := b.reconcile(ctx, tenant, redisAddr, env.stderr)
	if err != nil {
		return err
	}
	return b.report(env.stdout, tenant, differing, run)
}

// differs says whether seeded user i is one of the differing subset.
func (b benchReconcile) differs(i int) bool {
	return b.differ > 0 && i%(b.users/b.differ) == 0 && i/(b.users/b.differ) < b.differ
}

// seed puts the users into the tenant and their plays into Redis: every user has 150 plays and
// a displayName; the settled ones hold playlist_editor, the differing ones only "admin".
func (b benchReconcile) seed(ctx context.Context, tenant *mgmttest.Server, redisURL string) (map[string]bool, error) {
	rdb, err := redisstore.Open(redisstore.Options{URL: redisURL})
	if err != nil {
		return nil, err
	}
	defer rdb.Close()
	differing := map[string]bool{}
	pipe := rdb.Pipeline()
	for i := range b.users {
		id := fmt.Sprintf("auth0|bench%07d", i)
		roles := []any{"playlist_editor"}
		if b.differs(i) {
			roles, differing[id] = []any{"admin"}, true
		}
		tenant.PutUser(mgmttest.User{ID: id, AppMetadata: map[string]any{"roles": roles},
			UserMetadata: map[string]any{"displayName": "U" + strconv.Itoa(i)}})
		pipe.Set(ctx, redisstore.PlaysKey(id), "150", 0)
		if pipe.Len() >= 10000 || i == b.users-1 {
			if _, err := pipe.Exec(ctx); err != nil {
				return nil, fmt.Errorf("seed plays: %w", err)
			}
		}
	}
	return differing, nil
}

// reconcileRun is what the child reported.
type reconcileRun struct {
	elapsed  time.Duration
	maxRSS   int64 // bytes
	changes  int   // lines on its stdout: one per changed key
	summary  string
	exitCode int
}

// reconcile runs `rulehook reconcile` as a child against the tenant and Redis.
func (b benchReconcile) reconcile(ctx context.Context, tenant *mgmttest.Server, redisAddr string, stderr io.Writer) (reconcileRun, error) {
	self, err := os.Executable()
	if err != nil {
		return reconcileRun{}, err
	}
	cmd := exec.CommandContext(ctx, self, "reconcile", "--rate", strconv.FormatFloat(b.rate, 'f', -1, 64), "--name", "bench")
	cmd.Env = append(os.Environ(), "REDIS_URL=redis://"+redisAddr,
		"AUTH0_DOMAIN="+tenant.Domain(), "AUTH0_MANAGEMENT_URL="+tenant.URL(),
		"AUTH0_CLIENT_ID="+tenant.ClientID(), "AUTH0_CLIENT_SECRET="+tenant.ClientSecret(), "LOG_LEVEL=warn")
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return reconcileRun{}, err
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return reconcileRun{}, err
	}
	var run reconcileRun
	stopSampling := sampleRSS(cmd.Process.Pid, &run.maxRSS)
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, "reconcile reconcile-") {
			run.summary = line
		} else {
			run.changes++
		}
	}
	stopSampling()
	err = cmd.Wait()
	run.elapsed = time.Since(start)
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		return run, err
	}
	run.exitCode = cmd.ProcessState.ExitCode()
	return run, nil
}

// sampleRSS records the process's VmHWM every 20 ms into peak until stop is called. The child's
// own rusage is no use: Linux counts in its ru_maxrss the parent's memory it shared until exec.
// VmHWM only grows, so the last sample is the peak up to 20 ms before the end.
func sampleRSS(pid int, peak *int64) (stop func()) {
	sample := func(time.Time) {
		if v, ok := bench.PeakRSS(pid); ok {
			*peak = max(*peak, v)
		}
	}
	sample(time.Now())
	return every.Start(20*time.Millisecond, sample)
}

// report prints the figures and fails when one misses its target.
func (b benchReconcile) report(w io.Writer, tenant *mgmttest.Server, differing map[string]bool, run reconcileRun) error {
	patched := map[string]int{}
	var times []time.Time
	listings, reads := 0, 0
	for _, r := range tenant.Requests() {
		switch {
		case r.Method == "PATCH" && strings.HasPrefix(r.Path, "/api/v2/users/") && r.Status/100 == 2:
			patched[strings.TrimPrefix(r.Path, "/api/v2/users/")]++
			times = append(times, r.Time)
		case r.Method == "GET" && r.Path == "/api/v2/users":
			listings++
		case r.Method == "GET" && strings.HasPrefix(r.Path, "/api/v2/users/"):
			reads++
		}
	}
	wrong := 0
	for id, n := range patched {
		if !differing[id] || n != 1 {
			wrong++
		}
	}
	for id := range differing {
		if patched[id] == 0 {
			wrong++
		}
	}
	peak, avg := writeRates(times)
	fmt.Fprintf(w, "%s\n", run.summary)
	fmt.Fprintf(w, "reconcile exit status:          %d in %s\n", run.exitCode, run.elapsed.Round(time.Millisecond))
	fmt.Fprintf(w, "reconcile peak resident memory: %.1f MiB (target < %d MiB)\n", float64(run.maxRSS)/(1<<20), rssTarget>>20)
	fmt.Fprintf(w, "users PATCHed:                  %d of %d differing; %d users wrong (PATCHed but not differing, twice, or missed)\n",
		len(patched), len(differing), wrong)
	fmt.Fprintf(w, "write rate:                     %.1f/s average, at most %d in any second (--rate %g); %d answers 429\n",
		avg, peak, b.rate, tenant.CountStatus(429))
	fmt.Fprintf(w, "export jobs: %d; listing requests: %d; users read afresh: %d; changes printed: %d\n",
		tenant.ExportJobs(), listings, reads, run.changes)
	if own, ok := bench.PeakRSS(os.Getpid()); ok {
		fmt.Fprintf(w, "this process (the emulated tenant holding the users) peak resident memory: %.1f MiB\n", float64(own)/(1<<20))
	}
	switch {
	case run.exitCode != 0:
		return fmt.Errorf("bench reconcile: reconcile exited %d", run.exitCode)
	case wrong > 0:
		return fmt.Errorf("bench reconcile: %d users written wrongly", wrong)
	case run.maxRSS >= rssTarget:
		return fmt.Errorf("bench reconcile: peak resident memory %.1f MiB, target < %d MiB", float64(run.maxRSS)/(1<<20), rssTarget>>20)
	}
	return nil
}

// writeRates returns the most writes in any one-second window and the average rate between the
// first write and the last.
func writeRates(times []time.Time) (peak int, avg float64) {
	slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
	j := 0
	for i := range times {
		for times[i].Sub(times[j]) >= time.Second {
			j++
		}
		peak = max(peak, i-j+1)
	}
	if n := len(times); n > 1 {
		avg = float64(n-1) / times[n-1].Sub(times[0]).Seconds()
	}
	return peak, avg
}
