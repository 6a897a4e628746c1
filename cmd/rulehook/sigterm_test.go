package main

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/rulehook/rulehook/metadata/mgmt/mgmttest"
	"github.com/rulehook/rulehook/metadata/redisstore"
	"github.com/rulehook/rulehook/metadata/redisstore/redistest"
	"github.com/rulehook/rulehook/metadata/testkit"
	"github.com/rulehook/rulehook/webhook/openapitest"
)

// runMainEnv makes the test binary behave as the rulehook binary, so that tests can run it as a
// process (to send it signals) without building it again.
const runMainEnv = "RULEHOOK_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		main() // os.Args[1:] are the command's arguments; main exits
	}
	os.Exit(m.Run())
}

// TestSIGTERMFinishesTheLoginInFlight runs the real binary, sends it SIGTERM while a login waits on
// a slow Management API, and checks that the login is answered and written and the process exits 0.
func TestSIGTERMFinishesTheLoginInFlight(t *testing.T) {
	bin, err := os.Executable() // this test binary runs main() when asked, see TestMain
	if err != nil {
		t.Fatal(err)
	}
	r := redistest.Start(t)
	s := &testStack{redis: r, tenant: mgmttest.New(), logs: &testkit.SyncBuffer{}, client: openAPIClient(t), setPlays: func(id string, n int) error {
		_, err := r.Do("SET", redisstore.PlaysKey(id), fmt.Sprint(n))
		return err
	}}
	t.Cleanup(s.tenant.Close)
	addr := freeAddr(t)
	s.url = "http://" + addr
	cmd := exec.Command(bin, "serve")
	cmd.Env = []string{
		runMainEnv + "=1",
		"LISTEN_ADDR=" + addr, "REDIS_URL=" + s.redis.URL(),
		"AUTH0_DOMAIN=" + s.tenant.Domain(), "AUTH0_MANAGEMENT_URL=" + s.tenant.URL(),
		"AUTH0_CLIENT_ID=" + s.tenant.ClientID(), "AUTH0_CLIENT_SECRET=" + s.tenant.ClientSecret(),
		"CALLOUT_SECRET=" + testSecret, "CALLOUT_AUDIENCE=" + s.url, "CALLOUT_DEADLINE=10s",
		"SHUTDOWN_TIMEOUT=5s",
	}
	cmd.Stderr = s.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { cmd.Process.Kill() })
	testkit.WaitFor(t, func() error {
		_, err := http.Get(s.url + "/healthz")
		return err
	})

	u := s.seed(t, mgmttest.User{ID: "auth0|term", UserMetadata: map[string]any{"displayName": "T"}}, 150)
	s.tenant.SetFault(http.MethodPatch, "/api/v2/users/*", mgmttest.Fault{Delay: 800 * time.Millisecond})
	type answer struct {
		code int
		a    openapitest.Answer
	}
	answered := make(chan answer, 1)
	go func() {
		code, a := s.callout(t, u)
		answered <- answer{code, a}
	}()
	testkit.WaitFor(t, func() error { // the PATCH has reached the tenant and waits there
		if s.tenant.Count(http.MethodPatch, "/api/v2/users") == 0 {
			return errNotReady
		}
		return nil
	})
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}

	got := <-answered
	if got.code != http.StatusOK || join(got.a.Roles) != "playlist_editor" || got.a.WrittenBy != "rulehook" {
		t.Errorf("login in flight at SIGTERM = %d %+v; want 200, promoted, written by rulehook", got.code, got.a)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("rulehook exited with %v after SIGTERM; want exit 0\nlogs:\n%s", err, s.logs)
		}
	case <-time.After(testkit.Within(5 * time.Second)):
		t.Fatalf("rulehook still running long after SIGTERM and its 5s SHUTDOWN_TIMEOUT\nlogs:\n%s", s.logs)
	}
	if roles := rolesOf(s.stored(t, "auth0|term")); join(roles) != "playlist_editor" {
		t.Errorf("stored roles = %v; want the in-flight write completed", roles)
	}
}
