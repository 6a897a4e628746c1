package deploy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// runBinary runs the built rulehook with exactly env (no inherited variables, as in a pod) and
// returns its exit code and combined output.
func runBinary(t *testing.T, bin string, env map[string]string, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = envList(env)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, out.String()
	case errors.As(err, &ee) && ee.Exited():
		return ee.ExitCode(), out.String()
	}
	t.Fatalf("rulehook %s: %v\n%s", strings.Join(args, " "), err, out.String())
	return 0, ""
}

// TestCheckConfigAcceptsDeploymentEnv gives `rulehook check-config` the environment each
// overlay's pods get (ConfigMap values, placeholders for the secrets the operator creates) and
// expects it to be valid for `serve`; then takes a required secret away and expects a refusal,
// so the first answer means something.
func TestCheckConfigAcceptsDeploymentEnv(t *testing.T) {
	bin := rulehookBinary(t)
	for _, spec := range overlays {
		t.Run(spec.name, func(t *testing.T) {
			a, problems := findApp(renderCached(t, overlayDir(spec.name)))
			if a.d == nil || len(problems) > 0 {
				t.Fatalf("the Deployment's environment does not resolve: %q", problems)
			}
			if code, out := runBinary(t, bin, a.env, "check-config"); code != 0 {
				t.Errorf("check-config with the %s Deployment's environment exited %d; want 0\n%s", spec.name, code, out)
			}

			rotating := maps.Clone(a.env)
			rotating["CALLOUT_SECRET_PREVIOUS"] = placeholder("CALLOUT_SECRET_PREVIOUS")
			if code, out := runBinary(t, bin, rotating, "check-config"); code != 0 {
				t.Errorf("check-config during a CALLOUT_SECRET rotation exited %d; want 0\n%s", code, out)
			}

			missing := maps.Clone(a.env)
			delete(missing, "CALLOUT_SECRET")
			code, out := runBinary(t, bin, missing, "check-config")
			if code != 2 || !strings.Contains(out, "CALLOUT_SECRET") {
				t.Errorf("check-config without CALLOUT_SECRET exited %d with %q; want 2 naming CALLOUT_SECRET", code, out)
			}
		})
	}
}

// TestProbePathsAreServed asks the real handler, not a list: it starts `rulehook dev` (embedded
// Redis and tenant, same routes as serve) and requests every path the dev overlay's probes and
// scrape annotation use, then stops it with SIGTERM and expects it gone within SHUTDOWN_TIMEOUT,
// the premise of the Deployment's grace-period arithmetic.
func TestProbePathsAreServed(t *testing.T) {
	bin := rulehookBinary(t)
	a, problems := findApp(renderCached(t, overlayDir("dev")))
	if a.d == nil {
		t.Fatal(problems)
	}
	paths := map[string]int{"/no-such-route": http.StatusNotFound}
	for _, p := range []string{a.c.LivenessProbe.HTTPGet.Path, a.c.ReadinessProbe.HTTPGet.Path, metricsPath} {
		paths[p] = http.StatusOK
	}
	if a.c.StartupProbe != nil && a.c.StartupProbe.HTTPGet != nil {
		paths[a.c.StartupProbe.HTTPGet.Path] = http.StatusOK
	}
	if p, ok := a.d.Spec.Template.Annotations["prometheus.io/path"]; ok {
		paths[p] = http.StatusOK
	}

	dev := startDev(t, bin)
	cmd, done, out, base := dev.cmd, dev.done, dev.out, dev.base
	for p, want := range paths {
		// readiness may lag liveness while the embedded Redis starts
		code, body, err := getUntil(base+p, want, 10*time.Second)
		if err != nil || code != want {
			t.Errorf("GET %s = %d, %v; want %d", p, code, err, want)
		}
		if p == metricsPath && !strings.Contains(body, "# TYPE") {
			t.Errorf("GET %s body has no Prometheus text (# TYPE)", p)
		}
	}

	shutdown, err := a.shutdownTimeout()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("rulehook dev after SIGTERM: %v; want a clean exit\n%s", err, out.String())
		}
		if took := time.Since(start); took > shutdown {
			t.Errorf("rulehook dev took %v to stop after SIGTERM; want within SHUTDOWN_TIMEOUT %v", took, shutdown)
		}
	case <-time.After(shutdown + 5*time.Second):
		t.Fatalf("rulehook dev still runs %v after SIGTERM; the kubelet would SIGKILL it\n%s", shutdown+5*time.Second, out.String())
	}
}

// devProcess is a running `rulehook dev` (embedded Redis and tenant, the routes of serve).
type devProcess struct {
	cmd  *exec.Cmd
	done chan error    // receives Wait's result
	out  *bytes.Buffer // its combined output, once it has exited
	base string        // http://host:port
}

// startDev starts bin dev on a free port and waits until it serves; it is killed when t ends.
func startDev(t *testing.T, bin string) devProcess {
	t.Helper()
	addr := freeAddr(t)
	env := map[string]string{"LISTEN_ADDR": addr, "HOME": t.TempDir(), "TMPDIR": t.TempDir()} // its own: dev refuses a state file a running dev owns
	d := devProcess{cmd: exec.Command(bin, "dev"), done: make(chan error, 1), out: &bytes.Buffer{}, base: "http://" + addr}
	d.cmd.Env = envList(env)
	d.cmd.Stdout, d.cmd.Stderr = d.out, d.out
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.done <- d.cmd.Wait() }()
	t.Cleanup(func() {
		if d.cmd.ProcessState == nil {
			d.cmd.Process.Kill()
			<-d.done
		}
	})
	if err := waitFor(d.base+livenessPath, d.done, 30*time.Second); err != nil {
		t.Fatalf("rulehook dev: %v\n%s", err, d.out.String())
	}
	return d
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// waitFor polls url until it answers 200, the process exits, or the deadline passes.
func waitFor(url string, exited <-chan error, within time.Duration) error {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			return fmt.Errorf("exited before serving %s: %v", url, err)
		default:
		}
		if code, _, err := get(url); err == nil && code == http.StatusOK {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s did not answer 200 within %v", url, within)
}

// getUntil polls url until it answers want or the deadline passes, and returns the last answer.
func getUntil(url string, want int, within time.Duration) (int, string, error) {
	deadline := time.Now().Add(within)
	for {
		code, body, err := get(url)
		if (err == nil && code == want) || time.Now().After(deadline) {
			return code, body, err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func get(url string) (int, string, error) {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, string(b), err
}
