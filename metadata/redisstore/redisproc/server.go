package redisproc

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// startTimeout bounds how long a server may take to answer PING after it is started.
const startTimeout = 10 * time.Second

// Config is how a server is launched. The command line is Conf (if set), then the defaults
// --port, --bind 127.0.0.1, --dir (if Dir is set), --save "" and --appendonly no, then Args.
type Config struct {
	// Bin is the redis-server binary, a path or a name looked up on PATH; "" is "redis-server".
	// A wrapper script must exec it: the started process must be the server itself.
	Bin string
	// Dir is the server's working directory and --dir, where a Cluster node keeps nodes.conf;
	// "" leaves both to redis-server (the current directory), which writes nothing there while
	// persistence is off.
	Dir string
	// Conf is a config file given first on the command line (a Sentinel's), or "".
	Conf string
	// Args are appended after the defaults, so they override them.
	Args []string
	// Bus asks that port+10000 be free too, for a Cluster node's bus.
	Bus bool
}

// Server is one redis-server process listening on 127.0.0.1. Its methods are safe for
// concurrent use.
type Server struct {
	cfg  Config
	port int
	out  *tail

	mu   sync.Mutex
	proc *proc // nil while stopped
}

type proc struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
}

// Start runs redis-server on a free 127.0.0.1 port (another one when the port was taken between
// its choice and the server's bind) and waits until it answers PING. The caller must Stop it.
// The error says why it did not start and ends with what the process printed, if anything.
func Start(cfg Config) (*Server, error) {
	if cfg.Bin == "" {
		cfg.Bin = "redis-server"
	}
	s := &Server{cfg: cfg, out: &tail{}}
	var err error
	for range 5 {
		if s.port, err = freePort(cfg.Bus); err != nil {
			break
		}
		if err = s.launch(); !errors.Is(err, errPortTaken) {
			break
		}
	}
	if err != nil {
		return nil, s.withOutput(err)
	}
	return s, nil
}

// Addr returns "127.0.0.1:PORT".
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// Port returns the server's TCP port; it stays the same across Restart.
func (s *Server) Port() int { return s.port }

// Output returns the last 32 KiB the process printed (stdout and stderr), over all its restarts.
func (s *Server) Output() string { return s.out.String() }

// Stop kills the server (SIGKILL, as in a crash) and waits until it has exited; it does nothing
// when the server is not running. Data is lost: persistence is off.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.kill()
}

// Restart kills the server if it runs and starts it again on the same port, with the same
// configuration, and waits until it answers PING. While the port is still taken (by the old
// process's bus, or by another program) it tries again for about a second. The error is as
// Start's.
func (s *Server) Restart() error {
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
	return s.withOutput(err)
}

// Signal sends sig to the process: SIGSTOP freezes it (the kernel still accepts connections but
// nothing is answered, like a hung server) and SIGCONT thaws it. Stop kills a frozen server too.
// It does nothing when the server is not running.
func (s *Server) Signal(sig os.Signal) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return nil
	}
	return s.proc.cmd.Process.Signal(sig)
}

// Running reports whether the process was started and not stopped since (it may be frozen).
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proc != nil
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

// withOutput adds what the process printed to err, if anything; nil stays nil.
func (s *Server) withOutput(err error) error {
	if out := s.out.String(); err != nil && out != "" {
		return fmt.Errorf("%w\n%s", err, out)
	}
	return err
}

var errPortTaken = errors.New("port already in use")

// argv is the command line of the server on s.port.
func (s *Server) argv() []string {
	var argv []string
	if s.cfg.Conf != "" {
		argv = append(argv, s.cfg.Conf)
	}
	argv = append(argv, "--port", strconv.Itoa(s.port), "--bind", "127.0.0.1")
	if s.cfg.Dir != "" {
		argv = append(argv, "--dir", s.cfg.Dir)
	}
	argv = append(argv, "--save", "", "--appendonly", "no")
	return append(argv, s.cfg.Args...)
}

// launch starts the process on s.port and waits until it answers PING; s.mu is held or s is not
// shared yet. A PONG from another server on the port does not count. It returns errPortTaken
// when the server could not bind its port.
func (s *Server) launch() error {
	cmd := exec.Command(s.cfg.Bin, s.argv()...)
	cmd.Dir = s.cfg.Dir
	cmd.Stdout, cmd.Stderr = s.out, s.out
	setParentDeath(cmd)
	mark := s.out.Len()
	if err := cmd.Start(); err != nil {
		return err
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.done) }()

	deadline := time.Now().Add(startTimeout)
	for {
		select {
		case <-p.done:
			if strings.Contains(s.out.Since(mark), "Address already in use") {
				return errPortTaken
			}
			return fmt.Errorf("redis-server exited: %v", cmd.ProcessState)
		default:
		}
		if s.answersAs(cmd.Process.Pid) {
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

// answersAs reports whether the server on s.port answers PING and is the process pid (INFO
// server's process_id), not another server that took the port before ours could bind it.
func (s *Server) answersAs(pid int) bool {
	if reply, err := Do(s.Addr(), 200*time.Millisecond, "PING"); err != nil || reply != "PONG" {
		return false
	}
	info, err := Do(s.Addr(), 200*time.Millisecond, "INFO", "server")
	text, _ := info.(string)
	return err == nil && strings.Contains(text, "\r\nprocess_id:"+strconv.Itoa(pid)+"\r\n")
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
