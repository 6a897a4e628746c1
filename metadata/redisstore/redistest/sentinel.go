package redistest

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rulehook/rulehook/metadata/redisstore/redisproc"
)

// SentinelMaster is the master name the Sentinels of StartSentinel monitor.
const SentinelMaster = "rulehook"

// Sentinel is a master, one replica and three Sentinels on loopback. The Sentinels declare the
// master down after one second without answers and then fail over to the replica.
type Sentinel struct {
	tb        testing.TB
	data      []*Server // the initial master, then the replica
	sentinels []*Server
}

// StartSentinel starts a master, a replica of it and three Sentinels monitoring it under the name
// SentinelMaster (quorum 2), and waits until the replica is in sync and every Sentinel knows the
// replica and the two other Sentinels. Everything is killed when the test ends.
func StartSentinel(tb testing.TB) *Sentinel {
	tb.Helper()
	fast := []string{"--repl-diskless-sync-delay", "0"}
	master := Start(tb, fast...)
	replica := Start(tb, append(fast, "--replicaof", "127.0.0.1", strconv.Itoa(master.Port()))...)
	s := &Sentinel{tb: tb, data: []*Server{master, replica}}
	if err := waitFor(15*time.Second, func() error { return linkUp(replica) }); err != nil {
		tb.Fatalf("redistest: replica never synced: %v", err)
	}
	conf := fmt.Sprintf("sentinel monitor %[1]s 127.0.0.1 %[2]d 2\n"+
		"sentinel down-after-milliseconds %[1]s 1000\n"+
		"sentinel failover-timeout %[1]s 4000\n"+
		"sentinel parallel-syncs %[1]s 1\n", SentinelMaster, master.Port())
	for range 3 {
		dir := tb.TempDir()
		path := filepath.Join(dir, "sentinel.conf")
		if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
			tb.Fatalf("redistest: %v", err)
		}
		s.sentinels = append(s.sentinels, start(tb, redisproc.Config{Dir: dir, Conf: path, Args: []string{"--sentinel"}}))
	}
	if err := waitFor(15*time.Second, s.allKnown); err != nil {
		tb.Fatalf("redistest: sentinels never saw each other and the replica: %v", err)
	}
	return s
}

// MasterName returns the name the Sentinels monitor (SentinelMaster).
func (s *Sentinel) MasterName() string { return SentinelMaster }

// Addrs returns the Sentinels' addresses.
func (s *Sentinel) Addrs() []string { return addrs(s.sentinels) }

// Servers returns the two data servers: the initial master and the initial replica.
func (s *Sentinel) Servers() []*Server { return s.data }

// MasterAddr returns the master's address as the first answering Sentinel reports it.
func (s *Sentinel) MasterAddr() string {
	s.tb.Helper()
	for _, n := range s.sentinels {
		if addr, err := masterAddr(n); err == nil {
			return addr
		}
	}
	s.tb.Fatalf("redistest: no sentinel knows the master")
	return ""
}

// Master returns the data server the Sentinels currently report as master.
func (s *Sentinel) Master() *Server {
	s.tb.Helper()
	addr := s.MasterAddr()
	for _, n := range s.data {
		if n.Addr() == addr {
			return n
		}
	}
	s.tb.Fatalf("redistest: master %s is none of the data servers", addr)
	return nil
}

// KillMaster kills the current master (SIGKILL) and returns it, so a test can Restart it later;
// the Sentinels then fail over to the replica (see WaitFailover).
func (s *Sentinel) KillMaster() *Server {
	s.tb.Helper()
	m := s.Master()
	m.Stop()
	return m
}

// WaitFailover waits until every Sentinel reports a master other than old and that server
// answers as a master, and returns its address. It fails the test after 20 seconds.
func (s *Sentinel) WaitFailover(old string) string {
	s.tb.Helper()
	var addr string
	err := waitFor(20*time.Second, func() error {
		for _, n := range s.sentinels {
			a, err := masterAddr(n)
			if err != nil {
				return err
			}
			if a == old {
				return fmt.Errorf("%s still reports %s", n.Addr(), old)
			}
			addr = a
		}
		info, err := redisproc.Do(addr, time.Second, "INFO", "replication")
		if err != nil {
			return err
		}
		if !strings.Contains(info.(string), "role:master") {
			return fmt.Errorf("%s is not a master yet", addr)
		}
		return nil
	})
	if err != nil {
		s.tb.Fatalf("redistest: no failover away from %s: %v", old, err)
	}
	return addr
}

func (s *Sentinel) allKnown() error {
	for _, n := range s.sentinels {
		reply, err := n.Do("SENTINEL", "MASTER", SentinelMaster)
		if err != nil {
			return err
		}
		f := fields(reply)
		if f["num-slaves"] != "1" || f["num-other-sentinels"] != "2" {
			return fmt.Errorf("%s: num-slaves=%s num-other-sentinels=%s",
				n.Addr(), f["num-slaves"], f["num-other-sentinels"])
		}
	}
	return nil
}

func linkUp(replica *Server) error {
	info, err := replica.Do("INFO", "replication")
	if err != nil {
		return err
	}
	if !strings.Contains(info.(string), "master_link_status:up") {
		return fmt.Errorf("replica link not up")
	}
	return nil
}

func masterAddr(sentinel *Server) (string, error) {
	reply, err := sentinel.Do("SENTINEL", "GET-MASTER-ADDR-BY-NAME", SentinelMaster)
	if err != nil {
		return "", err
	}
	f, _ := reply.([]any)
	if len(f) != 2 {
		return "", fmt.Errorf("unexpected reply %v", reply)
	}
	return fmt.Sprintf("%v:%v", f[0], f[1]), nil
}

// fields turns a flat [name, value, ...] reply into a map.
func fields(reply any) map[string]string {
	f, _ := reply.([]any)
	out := make(map[string]string, len(f)/2)
	for i := 0; i+1 < len(f); i += 2 {
		k, _ := f[i].(string)
		v, _ := f[i+1].(string)
		out[k] = v
	}
	return out
}
