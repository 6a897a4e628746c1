package actions

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestNodeSuite runs the Action's own unit tests (post-login.test.js) under node --test, so that
// go test ./... covers the JavaScript too.
func TestNodeSuite(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed: the Action's node --test suite did not run")
	}
	// Read both files so go test's cache notices when either changes.
	for _, f := range []string{"post-login.js", "post-login.test.js"} {
		if _, err := os.ReadFile(f); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "--test", "post-login.test.js")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "NODE_NO_WARNINGS=1"}
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("node --test post-login.test.js did not finish: %v\n%s", ctx.Err(), out)
	}
	if err != nil {
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			t.Fatalf("node --test post-login.test.js: %v", err)
		}
		t.Fatalf("node --test post-login.test.js failed (%v):\n%s", err, out)
	}
}

func TestSourceIsTheAction(t *testing.T) {
	if !strings.Contains(Source, "exports.onExecutePostLogin = async (event, api) =>") {
		t.Errorf("Source does not export onExecutePostLogin")
	}
	onDisk, err := os.ReadFile("post-login.js")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := Source, string(onDisk); got != want {
		t.Errorf("Source differs from post-login.js (%d bytes; want %d)", len(got), len(want))
	}
}

// TestSourceNeedsNoPackages keeps the Action free of npm dependencies: Auth0 would have to install
// them, and every one is code that sees the callout secret.
func TestSourceNeedsNoPackages(t *testing.T) {
	requires := regexp.MustCompile(`require\(\s*['"]([^'"]+)['"]\s*\)`).FindAllStringSubmatch(Source, -1)
	if len(requires) == 0 {
		t.Fatalf("found no require() in Source; want node:crypto")
	}
	for _, m := range requires {
		if !strings.HasPrefix(m[1], "node:") {
			t.Errorf("Source requires %q; want only node: built-ins", m[1])
		}
	}
	if regexp.MustCompile(`\bimport\s*\(`).MatchString(Source) {
		t.Errorf("Source uses dynamic import(); want only require of node: built-ins")
	}
}
