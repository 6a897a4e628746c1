package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rulehook/rulehook/metadata/mgmt/mgmttest"
	"github.com/rulehook/rulehook/metadata/testkit"
)

// TestSecondDevLeavesTheFirstAlone: a second dev on the first one's port, or on another port
// with the first one's state file, fails and leaves that state file as it was; login still finds
// the first dev.
func TestSecondDevLeavesTheFirstAlone(t *testing.T) {
	state := filepath.Join(t.TempDir(), "dev.json")
	first := startDevProc(t, state, nil)
	before, err := os.ReadFile(state)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, listen, want string
	}{
		{"same port", strings.TrimPrefix(first.url, "http://"), "cannot listen on"},
		{"same state file", "127.0.0.1:0", "already runs at " + first.url},
	} {
		code, _, errs := rulehook(t, envOf(map[string]string{"LISTEN_ADDR": tt.listen}), "dev", "--state", state)
		if code == 0 || !strings.Contains(errs, tt.want) {
			t.Errorf("%s: second dev = exit %d, %q; want a failure saying %q", tt.name, code, errs, tt.want)
		}
		if after, _ := os.ReadFile(state); string(after) != string(before) {
			t.Errorf("%s: the first dev's state file changed:\n%s", tt.name, after)
		}
	}
	if code, out, errs := rulehook(t, nil, "login", "--state", state, "--user", "auth0|first", "--plays", "3"); code != 0 {
		t.Errorf("login after the second dev failed: exit %d\n%s%s", code, out, errs)
	}
}

// TestStaleStateFile: the file of a dev that was killed is named stale by the commands that read
// it, and a new dev replaces it, saying so.
func TestStaleStateFile(t *testing.T) {
	state := filepath.Join(t.TempDir(), "dev.json")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close() // nothing answers there now
	if err := writeDevState(state, devState{RulehookURL: dead, RedisURL: "redis://127.0.0.1:1"}); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"login", "--state", state},
		{"audit", "--state", state},
		{"token", "--state", state, "--user", "auth0|alice"},
		{"reconcile", "--state", state, "--dry-run"},
	} {
		code, _, errs := rulehook(t, nil, args...)
		if code == 0 || !strings.Contains(errs, "is stale") || strings.Contains(errs, "dial tcp") {
			t.Errorf("rulehook %s with a stale state file = exit %d, %q; want a clear stale-file error", args[0], code, errs)
		}
	}
	d := startDevProc(t, state, nil)
	if banner := d.out.String(); !strings.Contains(banner, "replaced a stale state file left by a dev at "+dead) {
		t.Errorf("dev over a stale state file does not say so:\n%s", banner)
	}
}

// TestDevStateFileIsPrivate: the state file is 0600 even when a file with a wider mode is at its
// path already (it is replaced, not rewritten), and it is removed when dev stops.
func TestDevStateFileIsPrivate(t *testing.T) {
	state := filepath.Join(t.TempDir(), "dev.json")
	if err := os.WriteFile(state, []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	d := startDevProc(t, state, nil)
	fi, err := os.Stat(state)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("state file mode = %v; want 0600", got)
	}
	if err := d.stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(state); !os.IsNotExist(err) {
		t.Errorf("state file after dev stopped: %v; want it removed", err)
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(state), ".rulehook-dev-*")); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

// TestLoginInActionMode: with WRITE_MODE=action the Action sets the metadata and login persists
// it in the emulated tenant, as Auth0 does after the flow.
func TestLoginInActionMode(t *testing.T) {
	state := filepath.Join(t.TempDir(), "dev.json")
	startDevProc(t, state, map[string]string{"WRITE_MODE": "action"})
	code, out, errs := rulehook(t, nil, "login", "--state", state, "--user", "auth0|act", "--plays", "150")
	if code != 0 {
		t.Fatalf("login in action mode: exit %d\n%s%s", code, out, errs)
	}
	for _, want := range []string{
		"written by the Action",
		`after   app_metadata   {"roles":["playlist_editor"]}`,
		`user_metadata  {"displayName":"user"}`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("login output lacks %q:\n%s", want, out)
		}
	}
}

// TestLoginSaysWhatItDid: the count it saw, a PATCH or a queued write, and flags for new users
// that were not used.
func TestLoginSaysWhatItDid(t *testing.T) {
	state := filepath.Join(t.TempDir(), "dev.json")
	env := map[string]string{"LISTEN_ADDR": "127.0.0.1:0", "QUEUE_WORKERS": "0"}
	d, err := startDev(envOf(env), state)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, d.cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), nil) }()
	t.Cleanup(func() { cancel(); <-done; d.close() })
	testkit.WaitUntil(t, "dev to answer", func() bool { return devAnswers(d.st) })

	login := func(args ...string) string {
		t.Helper()
		code, out, errs := rulehook(t, nil, append([]string{"login", "--state", state}, args...)...)
		if code != 0 {
			t.Fatalf("login %q: exit %d\n%s%s", args, code, out, errs)
		}
		return out
	}
	if out := login("--user", "auth0|bo", "--plays", "150", "--roles", "admin"); !strings.Contains(out, "plays in redis         150") ||
		!strings.Contains(out, "one Management API PATCH") || !strings.Contains(out, "created in the emulated tenant") {
		t.Errorf("first login:\n%s", out)
	}
	if out := login("--user", "auth0|bo", "--roles", "editor"); !strings.Contains(out, "--roles apply only to a new user; auth0|bo exists") ||
		!strings.Contains(out, "nothing written") {
		t.Errorf("second login, user exists:\n%s", out)
	}
	d.tenant.SetFault(http.MethodPatch, "/api/v2/users/*", mgmttest.Fault{Status: http.StatusServiceUnavailable})
	if out := login("--user", "auth0|bo", "--plays", "5"); !strings.Contains(out, "queued by rulehook") {
		t.Errorf("login whose PATCH fails:\n%s", out)
	}
	if out := login("--user", "auth0|new"); !strings.Contains(out, "not recorded") {
		t.Errorf("login without a count:\n%s", out)
	}
}

// TestCommandsFindTheRunningDev: audit, reconcile and token need no environment next to a dev.
func TestCommandsFindTheRunningDev(t *testing.T) {
	state := filepath.Join(t.TempDir(), "dev.json")
	startDevProc(t, state, nil)
	if code, out, errs := rulehook(t, nil, "login", "--state", state, "--user", "auth0|finder", "--plays", "120"); code != 0 {
		t.Fatalf("login: exit %d\n%s%s", code, out, errs)
	}
	code, out, errs := rulehook(t, nil, "audit", "--state", state, "--user", "auth0|finder")
	if code != 0 || !strings.Contains(out, `["playlist_editor"]`) || !strings.Contains(errs, "using the running rulehook dev") {
		t.Errorf("audit next to dev = exit %d\n%s%s", code, out, errs)
	}
	code, out, errs = rulehook(t, nil, "reconcile", "--state", state, "--dry-run")
	if code != 0 || !strings.Contains(errs+out, "using the running rulehook dev") {
		t.Errorf("reconcile --dry-run next to dev = exit %d\n%s%s", code, out, errs)
	}
	code, _, errs = rulehook(t, nil, "token", "--state", state, "--user", "auth0|nobody")
	if code == 0 || !strings.Contains(errs, "rulehook login --user 'auth0|nobody'") {
		t.Errorf("token for a user dev does not have = exit %d %q; want a hint to log them in", code, errs)
	}
	// A user the console creates has no password: the tenant refuses the password grant.
	st, err := readDevState(state)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(st.RulehookURL+"/dev/api/users", "application/json", strings.NewReader(`{"user_id":"auth0|nopass"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /dev/api/users = %s; want 200 OK", resp.Status)
	}
	code, _, errs = rulehook(t, nil, "token", "--state", state, "--user", "auth0|nopass")
	if code == 0 || !strings.Contains(errs, "no password of this dev") {
		t.Errorf("token for a user without dev's password = exit %d %q; want the grant's refusal explained", code, errs)
	}
}
