package redisproc

import (
	"errors"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// bin returns redis-server's path or skips the test; redistest's tests, which exercise this
// package on every path and which CI requires, fail instead when it is missing.
func bin(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server is not on PATH")
	}
	return path
}

func TestStartStopRestartSamePort(t *testing.T) {
	s, err := Start(Config{Bin: bin(t), Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	if got, err := Do(s.Addr(), time.Second, "PING"); err != nil || got != "PONG" {
		t.Fatalf("PING = %v, %v; want PONG", got, err)
	}
	s.Stop()
	if s.Running() {
		t.Errorf("Running() after Stop = true; want false")
	}
	if _, err := Do(s.Addr(), time.Second, "PING"); err == nil {
		t.Fatalf("PING after Stop answered; want an error")
	}
	port := s.Port()
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	if !s.Running() || s.Port() != port {
		t.Fatalf("after Restart: Running() = %v, Port() = %d; want true, %d", s.Running(), s.Port(), port)
	}
	if !strings.Contains(s.Output(), "Ready to accept connections") {
		t.Errorf("Output() = %q; want redis-server's start-up log", s.Output())
	}
}

func TestDefaultsThenArgs(t *testing.T) {
	s, err := Start(Config{Bin: bin(t), Args: []string{"--maxmemory", "12mb"}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	for name, want := range map[string]string{"maxmemory": "12582912", "save": "", "appendonly": "no", "bind": "127.0.0.1"} {
		got, err := Do(s.Addr(), time.Second, "CONFIG", "GET", name)
		if f, _ := got.([]any); err != nil || len(f) != 2 || f[1] != want {
			t.Errorf("CONFIG GET %s = %v, %v; want %q", name, got, err, want)
		}
	}
}

func TestLaunchTellsATakenPort(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	s := &Server{cfg: Config{Bin: bin(t)}, port: l.Addr().(*net.TCPAddr).Port, out: &tail{}}
	if err := s.launch(); !errors.Is(err, errPortTaken) {
		t.Fatalf("launch on a taken port: %v; want errPortTaken", err)
	}
	if s.Running() {
		t.Errorf("Running() after a failed launch = true; want false")
	}
}

// TestLaunchIgnoresAnotherServersPong: a second server launched on a running server's port fails
// to bind; the first one's PONG must not pass for the second's start.
func TestLaunchIgnoresAnotherServersPong(t *testing.T) {
	first, err := Start(Config{Bin: bin(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer first.Stop()
	s := &Server{cfg: Config{Bin: bin(t)}, port: first.Port(), out: &tail{}}
	if err := s.launch(); !errors.Is(err, errPortTaken) {
		s.Stop()
		t.Fatalf("launch on a running server's port: %v; want errPortTaken", err)
	}
	if s.Running() {
		t.Errorf("Running() after a failed launch = true; want false")
	}
}

func TestStartErrorNamesAMissingBinary(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no-redis-server")
	if s, err := Start(Config{Bin: missing}); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("Start with a missing binary = %v, %v; want an error naming it", s, err)
	}
}

func TestStartErrorEndsWithTheOutput(t *testing.T) {
	_, err := Start(Config{Bin: bin(t), Args: []string{"--no-such-directive", "x"}})
	if err == nil || !strings.Contains(err.Error(), "redis-server exited") || !strings.Contains(err.Error(), "no-such-directive") {
		t.Errorf("Start with a bad argument: %v; want the exit and redis-server's complaint", err)
	}
}
