package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"time"

	"github.com/rulehook/rulehook/cmd/rulehook/internal/bench"
	"github.com/rulehook/rulehook/metadata/mgmt/mgmttest"
	"github.com/rulehook/rulehook/metadata/redisstore/redisproc"
)

func runBench(ctx context.Context, args []string, env *environment) error {
	if len(args) > 0 && args[0] == "reconcile" { // `rulehook bench reconcile`: benchreconcile.go
		return runBenchReconcile(ctx, args[1:], env)
	}
	fs := newFlagSet(env, "bench", "With --url, the callout secret comes from RULEHOOK_CALLOUT_SECRET.")
	o := bench.Options{CompareHealthz: true, Progress: env.stderr}
	fs.StringVar(&o.URL, "url", "", "benchmark this running rulehook instead of starting one (needs RULEHOOK_CALLOUT_SECRET, --issuer, --audience)")
	fs.StringVar(&o.Issuer, "issuer", "", "iss of the callout tokens, with --url")
	fs.StringVar(&o.Audience, "audience", "", "aud of the callout tokens, with --url (default: --url)")
	fs.IntVar(&o.Users, "users", bench.DefaultUsers, "distinct users, used round-robin")
	fs.IntVar(&o.Connections, "connections", bench.DefaultConnections, "concurrent connections (closed loop), or the cap on requests in flight (open loop)")
	fs.IntVar(&o.Rate, "rate", 0, "fixed requests per second (open loop); 0 runs the closed loop")
	fs.DurationVar(&o.Duration, "duration", 10*time.Second, "measured time of the callout (healthz gets as long again)")
	fs.DurationVar(&o.Warmup, "warmup", 2*time.Second, "unmeasured load before each measurement")
	fs.BoolVar(&o.CompareHealthz, "compare-healthz", true, "also measure GET /healthz the same way and print the ratio")
	redisBin := fs.String("redis-server", "redis-server", "the redis-server binary for the self-started stack")
	var slow bench.SlowBodyOptions
	fs.IntVar(&slow.Connections, "slowloris", 0, "instead of the load test, hold this many slow-body connections (bad tokens, 262,143-byte bodies dribbled) for --duration while valid logins run, and print rulehook's peak memory")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if slow.Connections < 0 || slow.Connections > 10000 {
		return usageErrorf("bench: --slowloris must be between 1 and 10000")
	}
	if o.URL != "" {
		o.Secret = []byte(env.getenv("RULEHOOK_CALLOUT_SECRET"))
		if len(o.Secret) < 32 {
			return usageErrorf("bench: RULEHOOK_CALLOUT_SECRET must hold the CALLOUT_SECRET of the rulehook at --url (at least 32 bytes)")
		}
		if o.Audience == "" {
			o.Audience = o.URL
		}
		if slow.Connections > 0 {
			return benchSlowBodies(ctx, o, slow, 0, env)
		}
		rep, err := bench.Run(ctx, o)
		if errors.Is(err, bench.ErrOptions) {
			return usageErrorf("%v", err) // nothing was measured: no report
		}
		rep.Print(env.stdout)
		return err
	}
	return benchSelfStarted(ctx, o, slow, *redisBin, env)
}

// benchSelfStarted starts a real redis-server, the emulated tenant and `rulehook serve` as a child
// process (so the load generator's CPU and memory are not the server's), then runs the load.
func benchSelfStarted(ctx context.Context, o bench.Options, slow bench.SlowBodyOptions, redisBin string, env *environment) error {
	rds, err := startRedis(redisBin)
	if err != nil {
		return err
	}
	defer rds.Stop()
	redisAddr := rds.Addr()
	tenant, err := mgmttest.Start()
	if err != nil {
		return err
	}
	defer tenant.Close()

	self, err := os.Executable()
	if err != nil {
		return err
	}
	addr, err := freeLoopbackAddr()
	if err != nil {
		return err
	}
	o.URL, o.Issuer, o.Secret = "http://"+addr, tenant.Issuer(), []byte(randomSecret())
	o.Audience = o.URL
	srv := exec.Command(self, "serve")
	srv.Env = append(os.Environ(),
		"LISTEN_ADDR="+addr, "REDIS_URL=redis://"+redisAddr,
		"AUTH0_DOMAIN="+tenant.Domain(), "AUTH0_MANAGEMENT_URL="+tenant.URL(),
		"AUTH0_CLIENT_ID="+tenant.ClientID(), "AUTH0_CLIENT_SECRET="+tenant.ClientSecret(),
		"CALLOUT_SECRET="+string(o.Secret), "CALLOUT_AUDIENCE="+o.Audience, "LOG_LEVEL=warn")
	srv.Stderr = os.Stderr
	if err := srv.Start(); err != nil {
		return err
	}
	defer func() {
		srv.Process.Signal(os.Interrupt)
		srv.Wait()
	}()
	if err := waitHTTP(ctx, o.URL+"/readyz", 10*time.Second); err != nil {
		return fmt.Errorf("rulehook did not become ready: %w", err)
	}
	o.ManagementCalls = func(context.Context) (int64, error) { return int64(tenant.Count("", "/api/v2/")), nil }

	fmt.Fprintf(env.stdout, "bench: rulehook pid %d at %s, redis-server %s, emulated tenant %s, %d CPUs\n",
		srv.Process.Pid, o.URL, redisAddr, tenant.URL(), numCPU())
	if slow.Connections > 0 {
		return benchSlowBodies(ctx, o, slow, srv.Process.Pid, env)
	}
	rep, err := bench.Run(ctx, o)
	rep.Print(env.stdout)
	if peak, ok := bench.PeakRSS(srv.Process.Pid); ok {
		fmt.Fprintf(env.stdout, "rulehook peak resident memory (VmHWM): %.1f MiB\n", float64(peak)/(1<<20))
	}
	return err
}

// benchSlowBodies runs the slow-body attack against o.URL, which must be a loopback address;
// with pid (the self-started rulehook) it samples that process's resident memory.
func benchSlowBodies(ctx context.Context, o bench.Options, slow bench.SlowBodyOptions, pid int, env *environment) error {
	if u, err := url.Parse(o.URL); err != nil || !isLoopbackHost(u.Hostname()) {
		return usageErrorf("bench: --slowloris attacks only a rulehook on a loopback address")
	}
	if pid > 0 {
		slow.RSS = func() (int64, bool) { return bench.RSS(pid) }
	}
	fmt.Fprintf(env.stdout, "bench: %d slow-body connections for %s against %s\n", slow.Connections, o.Duration, o.URL)
	rep, err := bench.RunSlowBodies(ctx, o, slow)
	rep.Print(env.stdout)
	if peak, ok := bench.PeakRSS(pid); ok && pid > 0 {
		fmt.Fprintf(env.stdout, "rulehook peak resident memory over its life (VmHWM): %.1f MiB\n", float64(peak)/(1<<20))
	}
	return err
}

func isLoopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// startRedis starts the redis-server of a bench command (bin, from its --redis-server flag) on a
// free loopback port with persistence off; the caller stops it.
func startRedis(bin string) (*redisproc.Server, error) {
	rds, err := redisproc.Start(redisproc.Config{Bin: bin})
	if err != nil {
		return nil, fmt.Errorf("start %s (install redis-server, or pass --redis-server): %w", bin, err)
	}
	return rds, nil
}

// freeLoopbackAddr returns a 127.0.0.1 address whose port was free a moment ago.
func freeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func waitHTTP(ctx context.Context, url string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = errors.New(resp.Status)
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func numCPU() int { return runtime.NumCPU() }
