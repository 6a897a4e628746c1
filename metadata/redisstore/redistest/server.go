package redistest

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// RequireEnv is the environment variable that turns a missing redis-server from a skipped test
// into a failed one when set to "1"; CI=true (which CI sets) does the same.
const RequireEnv = "RULEHOOK_REQUIRE_REDIS"

// startTimeout bounds how long a server may take to answer PING after it is started.
const startTimeout = 10 * time.Second

// Server is one redis-server process listening on 127.0.0.1. Its methods are safe for concurrent
// use; those that can fail the test (Restart) must be called from the test's goroutine.
type Server struct {
	tb   testing.TB
	bin  string
	spec spec
	port int
	log  *tail

	mu   sync.Mutex
	proc *proc
}

// spec is how a server is launched.
type spec struct {
	dir  string   // working directory (--dir): nodes.conf, sentinel configs
	conf string   // config file given first on the command line, or ""
	args []string // appended after the defaults, so they override them
	bus  bool     // port+10000 must be free too (Cluster bus)
}

type proc struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
}

// Start runs redis-server on a free 127.0.0.1 port with persistence off
// (--save "" --appendonly no), waits until it answers PING, and kills it when the test ends.
// args are appended to the command line after the defaults, so they override them.
// The test is skipped when redis-server is not on PATH (see RequireEnv).
func Start(tb testing.TB, args ...string) *Server {
	tb.Helper()
	return start(tb, spec{dir: tb.TempDir(), args: args})
}

func start(tb testing.TB, sp spec) *Server {
	tb.Helper()
	s := &Server{tb: tb, bin: binary(tb), spec: sp, log: &tail{}}
	tb.Cleanup(s.cleanup)
	var err error
	for range 5 {
		if s.port, err = freePort(sp.bus); err != nil {
			break
		}
		if err = s.launch(); !errors.Is(err, errPortTaken) {
			break
		}
	}
	if err != nil {
		tb.Fatalf("redistest: start redis-server: %v\n%s", err, s.log)
	}
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
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

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
func (s *Server) Port() int { return s.port }

// Do sends one command on a fresh connection and returns the reply: string, int64, []any, nil,
// or a ReplyError for an error reply. It is meant for setting up and inspecting a test's server.
func (s *Server) Do(args ...string) (any, error) { return do(s.Addr(), 2*time.Second, args...) }

// Stop kills the server (SIGKILL, as in a crash) and waits until it has exited; it does nothing
// when the server is not running. Data is lost: persistence is off.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.kill()
}

// Restart kills the server if it runs and starts it again on the same port, with the same
// arguments and directory, and waits until it answers PING. It fails the test when it cannot.
func (s *Server) Restart() {
	s.tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.kill()
	var err error
	for range 20 {
		if err = s.launch(); !errors.Is(err, errPortTaken) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		s.tb.Fatalf("redistest: restart redis-server on port %d: %v\n%s", s.port, err, s.log)
	}
}

// Pause freezes the server (SIGSTOP): connections are still accepted by the kernel but nothing
// is answered, like a hung server. Resume undoes it; the test's cleanup kills it either way.
func (s *Server) Pause() { s.signal(syscall.SIGSTOP) }

// Resume lets a paused server run again (SIGCONT).
func (s *Server) Resume() { s.signal(syscall.SIGCONT) }

// Running reports whether the process is alive (it may be paused).
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proc != nil
}

func (s *Server) signal(sig os.Signal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil {
		_ = s.proc.cmd.Process.Signal(sig)
	}
}

func (s *Server) cleanup() {
	s.Stop()
	if s.tb.Failed() {
		s.tb.Logf("redistest: output of redis-server on port %d:\n%s", s.port, s.log)
	}
}

// kill must be called with s.mu held.
func (s *Server) kill() {
	if s.proc == nil {
		return
	}
	_ = s.proc.cmd.Process.Kill()
	<-s.proc.done
	s.proc = nil
}

var errPortTaken = errors.New("port already in use")

// launch starts the process on s.port and waits for PING; s.mu is held or s is not shared yet.
func (s *Server) launch() error {
	var argv []string
	if s.spec.conf != "" {
		argv = append(argv, s.spec.conf)
	}
	argv = append(argv,
		"--port", strconv.Itoa(s.port), "--bind", "127.0.0.1", "--dir", s.spec.dir,
		"--save", "", "--appendonly", "no")
	argv = append(argv, s.spec.args...)
	cmd := exec.Command(s.bin, argv...)
	cmd.Dir = s.spec.dir
	cmd.Stdout, cmd.Stderr = s.log, s.log
	setParentDeath(cmd)
	mark := s.log.Len()
	if err := cmd.Start(); err != nil {
		return err
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.done) }()

	deadline := time.Now().Add(startTimeout)
	for {
		select {
		case <-p.done:
			if strings.Contains(s.log.Since(mark), "Address already in use") {
				return errPortTaken
			}
			return fmt.Errorf("redis-server exited: %v", cmd.ProcessState)
		default:
		}
		if reply, err := do(s.Addr(), 200*time.Millisecond, "PING"); err == nil && reply == "PONG" {
			s.proc = p
			return nil
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-p.done
			return fmt.Errorf("no answer to PING within %s", startTimeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// freePort returns a port that was free on 127.0.0.1 a moment ago; with bus, port+10000 too.
func freePort(bus bool) (int, error) {
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		if !bus {
			l.Close()
			return port, nil
		}
		if port+10000 > 65535 {
			l.Close()
			continue
		}
		l2, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port+10000)))
		l.Close()
		if err == nil {
			l2.Close()
			return port, nil
		}
	}
	return 0, errors.New("no free port pair found")
}

// tail keeps the last tailSize bytes written to it.
type tail struct {
	mu      sync.Mutex
	buf     []byte
	dropped int
}

const tailSize = 32 << 10

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - tailSize; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
		t.dropped += over
	}
	return len(p), nil
}

// Len returns how many bytes were ever written.
func (t *tail) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.dropped + len(t.buf)
}

// Since returns what was written after the first mark bytes, as far as it is kept.
func (t *tail) Since(mark int) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	i := max(mark-t.dropped, 0)
	return string(t.buf[i:])
}

func (t *tail) String() string { return t.Since(0) }
