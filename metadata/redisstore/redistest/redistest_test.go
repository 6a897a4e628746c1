package redistest

import (
	"strings"
	"testing"
	"time"

	"github.com/rulehook/rulehook/metadata/redisstore/redisproc"
)

func TestStartStopRestart(t *testing.T) {
	s := Start(t)
	if got, want := s.URL(), "redis://"+s.Addr(); got != want {
		t.Errorf("URL() = %q; want %q", got, want)
	}
	if _, err := s.Do("SET", "k", "v"); err != nil {
		t.Fatalf("SET: %v", err)
	}
	if got, err := s.Do("GET", "k"); err != nil || got != "v" {
		t.Fatalf("GET k = %v, %v; want v", got, err)
	}

	s.Stop()
	if _, err := s.Do("PING"); err == nil {
		t.Fatalf("PING after Stop succeeded; want an error")
	}
	if s.Running() {
		t.Errorf("Running() after Stop = true; want false")
	}

	port := s.Port()
	s.Restart()
	if got := s.Port(); got != port {
		t.Errorf("Port() after Restart = %d; want %d", got, port)
	}
	if got, err := s.Do("GET", "k"); err != nil || got != nil {
		t.Errorf("GET k after Restart = %v, %v; want nil (persistence is off)", got, err)
	}
}

func TestArgsOverrideDefaults(t *testing.T) {
	s := Start(t, "--maxmemory", "12mb")
	got, err := s.Do("CONFIG", "GET", "maxmemory")
	if err != nil {
		t.Fatal(err)
	}
	if f := fields(got); f["maxmemory"] != "12582912" {
		t.Errorf("maxmemory = %q; want 12582912", f["maxmemory"])
	}
	got, _ = s.Do("CONFIG", "GET", "save")
	if f := fields(got); f["save"] != "" {
		t.Errorf("save = %q; want empty (persistence off)", f["save"])
	}
}

func TestPauseResume(t *testing.T) {
	s := Start(t)
	s.Pause()
	if _, err := redisproc.Do(s.Addr(), 100*time.Millisecond, "PING"); err == nil {
		t.Fatalf("PING to a paused server answered; want a timeout")
	}
	s.Resume()
	if got, err := s.Do("PING"); err != nil || got != "PONG" {
		t.Fatalf("PING after Resume = %v, %v; want PONG", got, err)
	}
}

func TestClusterMoveSlot(t *testing.T) {
	c := StartCluster(t, 3)
	if got := len(c.Addrs()); got != 3 {
		t.Fatalf("len(Addrs()) = %d; want 3", got)
	}
	key := "rulehook:{user-1}:plays"
	slot := c.KeySlot(key)
	owner := c.SlotOwner(slot)
	if _, err := owner.Do("SET", key, "7"); err != nil {
		t.Fatalf("SET on owner: %v", err)
	}
	to := c.Nodes()[0]
	if to == owner {
		to = c.Nodes()[1]
	}
	c.MoveSlot(slot, to)
	if got := c.SlotOwner(slot); got != to {
		t.Fatalf("owner after MoveSlot = %s; want %s", got.Addr(), to.Addr())
	}
	if _, err := owner.Do("GET", key); err == nil || !strings.HasPrefix(err.Error(), "MOVED") {
		t.Errorf("GET on old owner: err = %v; want MOVED", err)
	}
	if got, err := to.Do("GET", key); err != nil || got != "7" {
		t.Errorf("GET on new owner = %v, %v; want 7", got, err)
	}
}

func TestSentinelFailover(t *testing.T) {
	s := StartSentinel(t)
	old := s.MasterAddr()
	if got, want := old, s.Servers()[0].Addr(); got != want {
		t.Fatalf("MasterAddr() = %s; want the initial master %s", got, want)
	}
	killed := s.KillMaster()
	addr := s.WaitFailover(old)
	if got, want := addr, s.Servers()[1].Addr(); got != want {
		t.Errorf("new master = %s; want the replica %s", got, want)
	}
	killed.Restart() // comes back and is turned into a replica by the Sentinels
	if got := s.Master(); got == killed {
		t.Errorf("Master() after restart of the old master = the old master; want the new one")
	}
}

func TestDumpTellsValuesApart(t *testing.T) {
	s := Start(t)
	for _, cmd := range [][]string{{"SET", "a:str", "v"}, {"HSET", "a:hash", "f", "1"}, {"SADD", "a:set", "x"}, {"SET", "b", "v"}} {
		if _, err := s.Do(cmd...); err != nil {
			t.Fatalf("%v: %v", cmd, err)
		}
	}
	before := s.Dump(t, "a:*")
	if len(before) != 3 || before["a:str"] == "" || before["a:set"] == "" {
		t.Fatalf("Dump(a:*) = %q; want the three a: keys with their values", before)
	}
	if _, err := s.Do("SADD", "a:set", "y"); err != nil {
		t.Fatal(err)
	}
	after := s.Dump(t, "a:*")
	if after["a:set"] == before["a:set"] || after["a:str"] != before["a:str"] {
		t.Errorf("Dump after SADD a:set: set %v, string %v; want only the set to differ",
			after["a:set"] != before["a:set"], after["a:str"] != before["a:str"])
	}
}
