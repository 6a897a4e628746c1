package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/rulehook/rulehook/metadata/testkit"
)

// rulehook runs the command line as the process would and returns its exit code, stdout and
// stderr.
func rulehook(t *testing.T, getenv func(string) string, args ...string) (int, string, string) {
	t.Helper()
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	var out, errs testkit.SyncBuffer
	code := exitCode(run(context.Background(), args, getenv, &out, &errs), &errs)
	return code, out.String(), errs.String()
}

// TestEveryCommandHelp: -h and --help exit 0 and print, on stdout, a usage that names the command
// and lists its flags plainly (no `quoted` word taken for a value name).
func TestEveryCommandHelp(t *testing.T) {
	for _, c := range commands() {
		for _, h := range []string{"-h", "--help"} {
			code, out, errs := rulehook(t, nil, c.name, h)
			if code != 0 || errs != "" {
				t.Errorf("rulehook %s %s: exit %d, stderr %q; want 0 and nothing on stderr", c.name, h, code, errs)
			}
			if want := "usage: rulehook " + c.name; !strings.HasPrefix(out, want) {
				t.Errorf("rulehook %s %s printed %q; want it to start with %q", c.name, h, firstLine(out), want)
			}
			if !strings.Contains(out, c.summary) {
				t.Errorf("rulehook %s %s lacks the command's summary %q", c.name, h, c.summary)
			}
			for _, l := range strings.Split(out, "\n") {
				f := strings.Fields(l)
				if !strings.HasPrefix(l, "  --") {
					continue
				}
				if len(f) > 2 || (len(f) == 2 && !strings.Contains(" string n number duration value ", " "+f[1]+" ")) {
					t.Errorf("rulehook %s %s: flag line %q; want --name and a plain type (the backquote quirk)", c.name, h, l)
				}
			}
		}
	}
}

// TestServeAndCheckConfigHelpPrintTheEnvironment: their -h lists every variable they read.
func TestServeAndCheckConfigHelpPrintTheEnvironment(t *testing.T) {
	for _, cmd := range []string{"serve", "check-config"} {
		_, out, _ := rulehook(t, nil, cmd, "-h")
		for _, v := range readVariables(t) {
			if !strings.Contains(out, "\n  "+v+" ") {
				t.Errorf("rulehook %s -h lacks %s", cmd, v)
			}
		}
	}
}

// TestServeEnvTableIsComplete holds serveEnv to the variables loadConfig really reads.
func TestServeEnvTableIsComplete(t *testing.T) {
	documented := map[string]bool{}
	for _, v := range serveEnv {
		documented[v.name] = true
	}
	for _, v := range readVariables(t) {
		if !documented[v] {
			t.Errorf("loadConfig reads %s; serveEnv does not document it", v)
		}
		delete(documented, v)
	}
	for v := range documented {
		t.Errorf("serveEnv documents %s; loadConfig does not read it", v)
	}
}

// readVariables are the names loadConfig asks for, sorted.
func readVariables(t *testing.T) []string {
	t.Helper()
	var mu sync.Mutex
	seen := map[string]bool{}
	loadConfig(func(k string) string {
		mu.Lock()
		defer mu.Unlock()
		seen[k] = true
		return ""
	})
	var out []string
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	if len(out) < 20 {
		t.Fatalf("loadConfig read %d variables: %v; want the whole environment", len(out), out)
	}
	return out
}

// TestExitCodes: usage errors exit 2 with the message once on stderr, naming a flag that exists.
func TestExitCodes(t *testing.T) {
	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{nil, 2, "no command given"},
		{[]string{"nope"}, 2, `unknown command "nope"`},
		{[]string{"login", "--bogus"}, 2, "flag provided but not defined: -bogus"},
		{[]string{"login", "extra"}, 2, `unexpected argument "extra"`},
		{[]string{"audit", "--n", "0"}, 2, "--n must be between"},
		{[]string{"serve", "now"}, 2, `unexpected argument "now"`},
		{[]string{"check-config"}, 2, "CALLOUT_SECRET is required"},
		{[]string{"token"}, 2, "--user is required"},
		{[]string{"bench", "--url", "http://127.0.0.1:1"}, 2, "RULEHOOK_CALLOUT_SECRET"},
		{[]string{"help"}, 0, ""},
	} {
		code, out, errs := rulehook(t, nil, tt.args...)
		if code != tt.code || !strings.Contains(errs, tt.want) {
			t.Errorf("rulehook %q: exit %d, stderr %q; want %d and %q", tt.args, code, errs, tt.code, tt.want)
		}
		if tt.want != "" && strings.Count(errs, tt.want) != 1 {
			t.Errorf("rulehook %q printed %q %d times; want once:\n%s", tt.args, tt.want, strings.Count(errs, tt.want), errs)
		}
		if strings.Contains(errs, "help requested") {
			t.Errorf("rulehook %q: stderr %q mentions flag's help request", tt.args, errs)
		}
		if tt.args != nil && tt.args[0] == "bench" && out != "" {
			t.Errorf("rulehook bench without its secret printed %q before the error; want nothing", out)
		}
	}
}

// TestDeployActionReportsEveryMissingSetting at once, before any request.
func TestDeployActionReportsEveryMissingSetting(t *testing.T) {
	code, _, errs := rulehook(t, nil, "deploy-action")
	for _, v := range []string{"AUTH0_DOMAIN", "AUTH0_CLIENT_ID", "AUTH0_CLIENT_SECRET", "CALLOUT_SECRET", "RULEHOOK_URL", "CLAIM_NAMESPACE"} {
		if !strings.Contains(errs, v) {
			t.Errorf("deploy-action without settings: stderr lacks %s:\n%s", v, errs)
		}
	}
	if code != 2 {
		t.Errorf("deploy-action without settings exited %d; want 2", code)
	}
}

// TestVersion: `version` and `--version` print the stamped version and the Go version, and
// rulehook_build_info carries the same.
func TestVersion(t *testing.T) {
	defer func(v string) { version = v }(version)
	version = "9.8.7-test"
	for _, args := range [][]string{{"version"}, {"--version"}} {
		code, out, _ := rulehook(t, nil, args...)
		if want := fmt.Sprintf("rulehook 9.8.7-test (%s,", runtime.Version()); code != 0 || !strings.HasPrefix(out, want) {
			t.Errorf("rulehook %s = %d %q; want 0 and %q...", args[0], code, out, want)
		}
	}
	s := startStack(t, nil)
	resp, err := http.Get(s.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if want := fmt.Sprintf(`rulehook_build_info{goversion=%q,version="9.8.7-test"} 1`, runtime.Version()); !strings.Contains(string(b), want) {
		t.Errorf("/metrics lacks %s:\n%s", want, grepLines(string(b), "rulehook_build_info"))
	}
	version = ""
	if got := buildVersion(); got == "" || got == "unknown" {
		t.Errorf("buildVersion() without a stamp = %q; want the module version, a revision or (devel)", got)
	}
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// TestLogFormat: serve logs JSON lines by default and logfmt text with LOG_FORMAT=text; dev logs
// JSON when its stderr is not a terminal.
func TestLogFormat(t *testing.T) {
	for _, tt := range []struct{ format, want string }{{"", `"msg":"listening"`}, {"text", "msg=listening"}} {
		s := startStack(t, map[string]string{"LOG_FORMAT": tt.format})
		testkit.WaitUntil(t, "the listening line", func() bool { return strings.Contains(s.logs.String(), tt.want) })
		for _, l := range strings.Split(strings.TrimSpace(s.logs.String()), "\n") {
			if isJSON := strings.HasPrefix(l, "{"); isJSON != (tt.format == "") {
				t.Errorf("LOG_FORMAT=%q: log line %q", tt.format, l)
			}
		}
	}
	if code, _, errs := rulehook(t, envOf(map[string]string{"LOG_FORMAT": "xml"}), "check-config"); code != 2 || !strings.Contains(errs, `LOG_FORMAT="xml" must be one of json, text`) {
		t.Errorf("check-config with LOG_FORMAT=xml = %d %q; want 2 naming LOG_FORMAT", code, errs)
	}
	f, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got := devLogFormat("", f); got != "json" {
		t.Errorf("dev's log format on a file = %q; want json", got)
	}
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	if got := devLogFormat("", null); got != "json" {
		t.Errorf("dev's log format on %s = %q; want json", os.DevNull, got)
	}
	tty, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0) // a terminal (the master side of a new pty)
	if err != nil {
		t.Skipf("no pseudo-terminal to check the terminal case with: %v", err)
	}
	defer tty.Close()
	if got := devLogFormat("", tty); got != "text" {
		t.Errorf("dev's log format on a terminal = %q; want text", got)
	}
	if got := devLogFormat("json", tty); got != "json" {
		t.Errorf("dev's log format on a terminal with LOG_FORMAT=json = %q; want json", got)
	}
}
