package deploy

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// moduleRoot is where go.mod lives: the Docker build context, and the directory the Dockerfile's
// build command runs in.
const moduleRoot = ".."

// binDir holds the binary built once per test run (it outlives single tests, unlike t.TempDir).
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "rulehook-deploy-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// errNoMain means the package the Dockerfile builds does not exist yet.
var errNoMain = errors.New("no main package")

var built struct {
	once sync.Once
	path string
	out  string // the build's output, for failures
	err  error
}

// rulehookBinary builds the image's binary once per run, with the exact command of the
// Dockerfile (its -o pointed at a temporary directory), and returns its path. The test is
// skipped only when the package the Dockerfile builds does not exist yet.
func rulehookBinary(t testing.TB) string {
	t.Helper()
	built.once.Do(func() {
		// A cold build compiles every dependency anew (-trimpath and CGO_ENABLED=0 change the
		// cache keys); give it all the time the test binary has left.
		timeout := 10 * time.Minute
		if dl, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
			if d, ok := dl.Deadline(); ok {
				timeout = time.Until(d) - 15*time.Second
			}
		}
		built.path, built.out, built.err = buildFromDockerfile(timeout)
	})
	if errors.Is(built.err, errNoMain) {
		t.Skipf("skipped: %v (cmd/rulehook is the lead's; this test runs once it lands)", built.err)
	}
	if built.err != nil {
		t.Fatalf("building with the Dockerfile's command: %v\n%s", built.err, built.out)
	}
	return built.path
}

func buildFromDockerfile(timeout time.Duration) (path, out string, err error) {
	df, err := readDockerfile()
	if err != nil {
		return "", "", err
	}
	bc, err := df.buildCommand()
	if err != nil {
		return "", "", err
	}
	pkg := bc.args[len(bc.args)-1]
	if _, err := os.Stat(filepath.Join(moduleRoot, pkg)); err != nil {
		return "", "", fmt.Errorf("%w: %s (built by the Dockerfile) does not exist", errNoMain, pkg)
	}
	if path, err = filepath.Abs(filepath.Join(binDir, "rulehook")); err != nil {
		return "", "", err
	}
	args, err := bc.withOutput(path)
	if err != nil {
		return "", "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Dir = moduleRoot
	cmd.Env = append(os.Environ(), bc.env...)
	b, err := cmd.CombinedOutput()
	if err != nil {
		return "", string(b), fmt.Errorf("%s: %w", strings.Join(append(bc.env, args...), " "), err)
	}
	return path, string(b), nil
}
