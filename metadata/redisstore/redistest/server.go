package redistest

import (
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/rulehook/rulehook/metadata/redisstore/redisproc"
)

// RequireEnv is the environment variable that turns a missing redis-server from a skipped test
// into a failed one when set to "1"; CI=true (which CI sets) does the same.
const RequireEnv = "RULEHOOK_REQUIRE_REDIS"

// Server is one redis-server process listening on 127.0.0.1 (a redisproc.Server the test owns).
// Its methods are safe for concurrent use; those that can fail the test (Restart) must be called
// from the test's goroutine.
type Server struct {
	tb testing.TB
	p  *redisproc.Server
}

// ReplyError is an error reply of the server (a RESP "-ERR ..." line).
type ReplyError = redisproc.ReplyError

// Start runs redis-server on a free 127.0.0.1 port with persistence off
// (--save "" --appendonly no), waits until it answers PING, and kills it when the test ends.
// args are appended to the command line after the defaults, so they override them.
// The test is skipped when redis-server is not on PATH (see RequireEnv).
func Start(tb testing.TB, args ...string) *Server {
	tb.Helper()
	return start(tb, redisproc.Config{Dir: tb.TempDir(), Args: args})
}

// start runs a server as cfg says, with the redis-server found on PATH (or skips the test).
func start(tb testing.TB, cfg redisproc.Config) *Server {
	tb.Helper()
	cfg.Bin = binary(tb)
	p, err := redisproc.Start(cfg)
	if err != nil {
		tb.Fatalf("redistest: start redis-server: %v", err)
	}
	s := &Server{tb: tb, p: p}
	tb.Cleanup(s.cleanup)
	return s
}

// binary returns the path of redis-server, or skips (or fails, under RequireEnv) the test.
func binary(tb testing.TB) string {
	tb.Helper()
	path, err := exec.LookPath("redis-server")
	if err == nil {
		return path
	}
	msg := "redistest: redis-server is not on PATH; install it (Debian/Ubuntu: apt-get install redis-server) to run this test"
	if os.Getenv(RequireEnv) == "1" || os.Getenv("CI") == "true" {
		tb.Fatalf("%s (%s=1)", msg, RequireEnv)
	}
	tb.Skip(msg)
	return ""
}

// Addr returns "127.0.0.1:PORT".
func (s *Server) Addr() string { return s.p.Addr() }

// URL returns "redis://127.0.0.1:PORT".
func (s *Server) URL() string { return "redis://" + s.Addr() }

// addrs returns the servers' addresses, in order.
func addrs(servers []*Server) []string {
	out := make([]string, len(servers))
	for i, n := range servers {
		out[i] = n.Addr()
	}
	return out
}

// Port returns the server's TCP port; it stays the same across Restart.
func (s *Server) Port() int { return s.p.Port() }

// Do sends one command on a fresh connection and returns the reply: string, int64, []any, nil,
// or a ReplyError for an error reply. It is meant for setting up and inspecting a test's server.
func (s *Server) Do(args ...string) (any, error) {
	return redisproc.Do(s.Addr(), 2*time.Second, args...)
}

// Stop kills the server (SIGKILL, as in a crash) and waits until it has exited; it does nothing
// when the server is not running. Data is lost: persistence is off.
func (s *Server) Stop() { s.p.Stop() }

// Restart kills the server if it runs and starts it again on the same port, with the same
// arguments and directory, and waits until it answers PING. It fails the test when it cannot.
func (s *Server) Restart() {
	s.tb.Helper()
	if err := s.p.Restart(); err != nil {
		s.tb.Fatalf("redistest: restart redis-server on port %d: %v", s.Port(), err)
	}
}

// Pause freezes the server (SIGSTOP): connections are still accepted by the kernel but nothing
// is answered, like a hung server. Resume undoes it; the test's cleanup kills it either way.
func (s *Server) Pause() { _ = s.p.Signal(syscall.SIGSTOP) }

// Resume lets a paused server run again (SIGCONT).
func (s *Server) Resume() { _ = s.p.Signal(syscall.SIGCONT) }

// Running reports whether the process is alive (it may be paused).
func (s *Server) Running() bool { return s.p.Running() }

func (s *Server) cleanup() {
	s.Stop()
	if s.tb.Failed() {
		s.tb.Logf("redistest: output of redis-server on port %d:\n%s", s.Port(), s.p.Output())
	}
}
