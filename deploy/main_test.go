package deploy

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
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

var built struct {
	once sync.Once
	path string
	out  string // the build's output, for failures
	err  error
}

// cacheKeyed are the parts of the Dockerfile's build that change the compiler's cache keys of
// every package: with them, a cold run compiled the whole dependency tree a second time (226 s
// on a loaded 2-core machine). The binary the tests run is built without them, so it reuses what
// `go test` compiled; TestDockerfileBuildIsStatic checks what they are for, without compiling.
var cacheKeyed = []string{"CGO_ENABLED=0", "-trimpath"}

// rulehookBinary builds the image's binary once per run: the Dockerfile's own `go build` (its
// package, its -ldflags, which stamp the version), less cacheKeyed, with -o pointed at a
// temporary directory. It fails, never skips, when the Dockerfile's package is missing: a moved
// ./cmd path must not silently turn the binary tests off.
func rulehookBinary(t testing.TB) string {
	t.Helper()
	built.once.Do(func() { built.path, built.out, built.err = buildFromDockerfile(10 * time.Minute) })
	if built.err != nil {
		t.Fatalf("building with the Dockerfile's command: %v\n%s", built.err, built.out)
	}
	return built.path
}

func buildFromDockerfile(timeout time.Duration) (path, out string, err error) {
	bc, err := dockerfileBuild()
	if err != nil {
		return "", "", err
	}
	pkg := bc.args[len(bc.args)-1]
	if _, err := os.Stat(filepath.Join(moduleRoot, pkg)); err != nil {
		return "", "", fmt.Errorf("%s, the package the Dockerfile builds, does not exist: %w", pkg, err)
	}
	if path, err = filepath.Abs(filepath.Join(binDir, "rulehook")); err != nil {
		return "", "", err
	}
	args, err := bc.withOutput(path)
	if err != nil {
		return "", "", err
	}
	args = slices.DeleteFunc(args, func(a string) bool { return slices.Contains(cacheKeyed, a) })
	env := slices.DeleteFunc(slices.Clone(bc.env), func(a string) bool { return slices.Contains(cacheKeyed, a) })
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Dir = moduleRoot
	cmd.Env = append(os.Environ(), env...)
	b, err := cmd.CombinedOutput()
	if err != nil {
		return "", string(b), fmt.Errorf("%s: %w", strings.Join(append(env, args...), " "), err)
	}
	return path, string(b), nil
}

// dockerfileBuild is the Dockerfile's `go build` command.
func dockerfileBuild() (buildCmd, error) {
	df, err := readDockerfile()
	if err != nil {
		return buildCmd{}, err
	}
	return df.buildCommand()
}

// TestBinaryVersionIsStamped: the Dockerfile's -ldflags stamp the VERSION build argument into
// what `rulehook version` prints.
func TestBinaryVersionIsStamped(t *testing.T) {
	want := buildArgs()["VERSION"] // what the tests' build passes as --build-arg VERSION
	code, out := runBinary(t, rulehookBinary(t), nil, "version")
	if code != 0 || !strings.HasPrefix(out, "rulehook "+want+" (go") {
		t.Errorf("rulehook version = %d %q; want 0 and %q", code, out, "rulehook "+want+" (go...")
	}
}
