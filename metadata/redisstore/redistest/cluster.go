package redistest

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rulehook/rulehook/metadata/redisstore/redisproc"
)

// clusterSlots is the number of hash slots of a Redis Cluster.
const clusterSlots = 16384

// Cluster is a Redis Cluster of masters without replicas, each a Server on loopback.
type Cluster struct {
	tb    testing.TB
	nodes []*Server
}

// StartCluster starts masters cluster-enabled redis-server processes, splits the 16384 slots
// evenly between them, joins them and waits until every node reports cluster_state:ok.
// The cluster is built with CLUSTER ADDSLOTS / SET-CONFIG-EPOCH / MEET from Go, so only
// redis-server is needed. The processes are killed when the test ends.
func StartCluster(tb testing.TB, masters int) *Cluster {
	tb.Helper()
	if masters < 1 {
		tb.Fatalf("redistest: StartCluster(%d): want at least one master", masters)
	}
	c := &Cluster{tb: tb}
	for range masters {
		c.nodes = append(c.nodes, start(tb, redisproc.Config{Dir: tb.TempDir(), Bus: true, Args: []string{
			"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", "5000",
		}}))
	}
	if err := c.create(); err != nil {
		tb.Fatalf("redistest: create cluster: %v", err)
	}
	return c
}

func (c *Cluster) create() error {
	n := len(c.nodes)
	for i, node := range c.nodes {
		args := []string{"CLUSTER", "ADDSLOTS"}
		for slot := i * clusterSlots / n; slot < (i+1)*clusterSlots/n; slot++ {
			args = append(args, strconv.Itoa(slot))
		}
		if _, err := node.Do(args...); err != nil {
			return fmt.Errorf("%s: %v", node.Addr(), err)
		}
		if _, err := node.Do("CLUSTER", "SET-CONFIG-EPOCH", strconv.Itoa(i+1)); err != nil {
			return fmt.Errorf("%s: %v", node.Addr(), err)
		}
	}
	for _, node := range c.nodes[1:] {
		if _, err := node.Do("CLUSTER", "MEET", "127.0.0.1", strconv.Itoa(c.nodes[0].Port())); err != nil {
			return fmt.Errorf("%s: %v", node.Addr(), err)
		}
	}
	want := fmt.Sprintf("cluster_known_nodes:%d", n)
	return waitFor(15*time.Second, func() error {
		for _, node := range c.nodes {
			info, err := node.Do("CLUSTER", "INFO")
			if err != nil {
				return err
			}
			s, _ := info.(string)
			if !strings.Contains(s, "cluster_state:ok") || !strings.Contains(s, want) {
				return fmt.Errorf("%s not ready:\n%s", node.Addr(), s)
			}
		}
		return nil
	})
}

// Addrs returns the nodes' "127.0.0.1:PORT" addresses, for a cluster client's seed list.
func (c *Cluster) Addrs() []string { return addrs(c.nodes) }

// Nodes returns the cluster's servers.
func (c *Cluster) Nodes() []*Server { return c.nodes }

// KeySlot returns the hash slot of key, as the cluster computes it.
func (c *Cluster) KeySlot(key string) int {
	c.tb.Helper()
	reply, err := c.nodes[0].Do("CLUSTER", "KEYSLOT", key)
	if err != nil {
		c.tb.Fatalf("redistest: CLUSTER KEYSLOT: %v", err)
	}
	return int(reply.(int64))
}

// SlotOwner returns the node that serves slot, as the first node sees it.
func (c *Cluster) SlotOwner(slot int) *Server {
	c.tb.Helper()
	owner, err := c.slotOwner(c.nodes[0], slot)
	if err != nil {
		c.tb.Fatalf("redistest: owner of slot %d: %v", slot, err)
	}
	return owner
}

func (c *Cluster) slotOwner(asked *Server, slot int) (*Server, error) {
	reply, err := asked.Do("CLUSTER", "SLOTS")
	if err != nil {
		return nil, err
	}
	ranges, _ := reply.([]any)
	for _, r := range ranges {
		f, _ := r.([]any)
		if len(f) < 3 {
			continue
		}
		lo, _ := f[0].(int64)
		hi, _ := f[1].(int64)
		master, _ := f[2].([]any)
		if int64(slot) < lo || int64(slot) > hi || len(master) < 2 {
			continue
		}
		port, _ := master[1].(int64)
		for _, n := range c.nodes {
			if int64(n.Port()) == port {
				return n, nil
			}
		}
	}
	return nil, fmt.Errorf("slot %d is not served", slot)
}

// MoveSlot migrates slot, with its keys, to node to (one of Nodes), the way redis-cli reshards:
// IMPORTING/MIGRATING, MIGRATE of every key, then SETSLOT NODE on every node. A client that
// cached the old owner gets MOVED afterwards. It waits until every node agrees on the new owner.
func (c *Cluster) MoveSlot(slot int, to *Server) {
	c.tb.Helper()
	if err := c.moveSlot(slot, to); err != nil {
		c.tb.Fatalf("redistest: move slot %d to %s: %v", slot, to.Addr(), err)
	}
}

// moveSlot moves slot to to as redis-cli --cluster reshard does: mark it importing and migrating,
// migrate its keys, assign it on every node (the two parties first), and wait until all agree.
func (c *Cluster) moveSlot(slot int, to *Server) error {
	from, err := c.slotOwner(c.nodes[0], slot)
	if err != nil || from == to {
		return err
	}
	fromID, err := from.Do("CLUSTER", "MYID")
	if err != nil {
		return err
	}
	toID, err := to.Do("CLUSTER", "MYID")
	if err != nil {
		return err
	}
	s := strconv.Itoa(slot)
	if _, err := to.Do("CLUSTER", "SETSLOT", s, "IMPORTING", fromID.(string)); err != nil {
		return err
	}
	if _, err := from.Do("CLUSTER", "SETSLOT", s, "MIGRATING", toID.(string)); err != nil {
		return err
	}
	if err := migrateKeys(from, to, s); err != nil {
		return err
	}
	order := []*Server{to, from}
	for _, n := range c.nodes {
		if n != to && n != from {
			order = append(order, n)
		}
	}
	for _, n := range order {
		if _, err := n.Do("CLUSTER", "SETSLOT", s, "NODE", toID.(string)); err != nil {
			return err
		}
	}
	return c.waitOwner(slot, to)
}

// migrateKeys moves every key of slot from from to to, 100 at a time.
func migrateKeys(from, to *Server, slot string) error {
	for {
		reply, err := from.Do("CLUSTER", "GETKEYSINSLOT", slot, "100")
		if err != nil {
			return err
		}
		keys, _ := reply.([]any)
		if len(keys) == 0 {
			return nil
		}
		args := []string{"MIGRATE", "127.0.0.1", strconv.Itoa(to.Port()), "", "0", "5000", "KEYS"}
		for _, k := range keys {
			args = append(args, k.(string))
		}
		if _, err := from.Do(args...); err != nil {
			return err
		}
	}
}

// waitOwner waits until every node sees to as the owner of slot.
func (c *Cluster) waitOwner(slot int, to *Server) error {
	return waitFor(10*time.Second, func() error {
		for _, n := range c.nodes {
			owner, err := c.slotOwner(n, slot)
			if err != nil {
				return err
			}
			if owner != to {
				return fmt.Errorf("%s still sees %s as owner", n.Addr(), owner.Addr())
			}
		}
		return nil
	})
}

// waitFor polls cond every 20ms until it returns nil or timeout passes.
func waitFor(timeout time.Duration, cond func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after %s: %w", timeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
