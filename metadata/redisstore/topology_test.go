package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rulehook/rulehook/metadata"
	"github.com/rulehook/rulehook/metadata/redisstore"
	"github.com/rulehook/rulehook/metadata/redisstore/redistest"
	"github.com/rulehook/rulehook/metadata/testkit"
)

// TestCluster runs every operation for users spread over the three masters of a real Redis
// Cluster (any CROSSSLOT would fail a call), then moves slots under a live client so that it is
// answered MOVED, and checks that the data followed and the client did too.
func TestCluster(t *testing.T) {
	c := redistest.StartCluster(t, 3)
	store, _ := c.Open(t)
	ctx := context.Background()

	const users = 120
	userID := func(i int) string { return fmt.Sprintf("auth0|cluster-%03d", i) }
	owners := map[string]int{}
	for i := range users {
		owners[c.SlotOwner(c.KeySlot(redisstore.PlaysKey(userID(i)))).Addr()]++
	}
	if len(owners) != 3 {
		t.Fatalf("users landed on %d masters (%v); want all 3", len(owners), owners)
	}

	work := make(chan int)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for i := range work {
				if err := exercise(ctx, store, userID(i), 3); err != nil {
					t.Errorf("%s: %v", userID(i), err)
				}
			}
		})
	}
	for i := range users {
		work <- i
	}
	close(work)
	wg.Wait()
	drain(t, ctx, store, users)

	// Reshard under the live client: one user's slot, the queue's slot and the tenant audit's slot.
	movedBefore := movedReplies(t, c)
	moved := userID(7)
	for _, key := range []string{redisstore.PlaysKey(moved), "rulehook:{rulehook-queue}:sched", "rulehook:audit"} {
		slot := c.KeySlot(key)
		from := c.SlotOwner(slot)
		to := c.Nodes()[0]
		if to == from {
			to = c.Nodes()[1]
		}
		c.MoveSlot(slot, to)
	}
	if err := exercise(ctx, store, moved, 6); err != nil {
		t.Errorf("%s after its slot moved: %v", moved, err)
	}
	if songs, err := store.Songs(ctx, moved); err != nil || len(songs) != 2 || songs[1].ID != 2 {
		t.Errorf("Songs after the move = %v, %v; want the song from before and a new one with id 2", songs, err)
	}
	if got := movedReplies(t, c); got <= movedBefore {
		t.Errorf("the cluster answered MOVED %d times after resharding; want some (the client had the old map)", got-movedBefore)
	}
	drain(t, ctx, store, 1)
	if all, err := store.Audit(ctx, "", users+1); err != nil || len(all) != users+1 {
		t.Errorf("tenant audit after the move has %d entries, %v; want %d", len(all), err, users+1)
	}

	// Every master's maxmemory-policy is read: one evicting master is reported.
	if p, err := store.MaxmemoryPolicy(ctx); err != nil || p != "noeviction" {
		t.Errorf("MaxmemoryPolicy(cluster) = %q, %v; want noeviction", p, err)
	}
	if _, err := c.Nodes()[2].Do("CONFIG", "SET", "maxmemory-policy", "volatile-lru"); err != nil {
		t.Fatal(err)
	}
	if p, err := store.MaxmemoryPolicy(ctx); err != nil || p != "volatile-lru" {
		t.Errorf("MaxmemoryPolicy(cluster, one master volatile-lru) = %q, %v; want volatile-lru", p, err)
	}
	// Two evicting masters: the alphabetically first policy, whichever master answers first.
	if _, err := c.Nodes()[0].Do("CONFIG", "SET", "maxmemory-policy", "allkeys-lru"); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if p, err := store.MaxmemoryPolicy(ctx); err != nil || p != "allkeys-lru" {
			t.Errorf("MaxmemoryPolicy(cluster, allkeys-lru and volatile-lru) = %q, %v; want allkeys-lru", p, err)
		}
	}
}

// movedReplies sums the MOVED errors the cluster's nodes have answered (INFO errorstats).
func movedReplies(t *testing.T, c *redistest.Cluster) int {
	t.Helper()
	var sum int
	for _, n := range c.Nodes() {
		reply, err := n.Do("INFO", "errorstats")
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(reply.(string), "\r\n") {
			if v, ok := strings.CutPrefix(line, "errorstat_MOVED:count="); ok {
				k, _ := strconv.Atoi(v)
				sum += k
			}
		}
	}
	return sum
}

// exercise runs the login path, the app API, the queue, the audit trail and a checkpoint for one
// user whose play count is plays after the three RecordPlay calls.
func exercise(ctx context.Context, store *redisstore.Store, user string, plays int64) error {
	before, err := store.BeginLogin(ctx, user, "jti-"+fmt.Sprint(plays), time.Minute)
	if err != nil {
		return fmt.Errorf("BeginLogin: %w", err)
	}
	for range 3 {
		if _, err := store.RecordPlay(ctx, user); err != nil {
			return fmt.Errorf("RecordPlay: %w", err)
		}
	}
	after, err := store.BeginLogin(ctx, user, "jti-x"+fmt.Sprint(plays), time.Minute)
	if err != nil || after.N != plays || before.N != plays-3 {
		return fmt.Errorf("BeginLogin = %+v then %+v, %v; want %d then %d", before, after, err, plays-3, plays)
	}
	if _, err := store.BeginLogin(ctx, user, "jti-x"+fmt.Sprint(plays), time.Minute); !errors.Is(err, metadata.ErrReplay) {
		return fmt.Errorf("replayed BeginLogin err = %v; want ErrReplay", err)
	}
	if _, err := store.AddSong(ctx, user, "song"); err != nil {
		return fmt.Errorf("AddSong: %w", err)
	}
	if err := store.SetFavGenre(ctx, user, "jazz"); err != nil {
		return fmt.Errorf("SetFavGenre: %w", err)
	}
	if g, err := store.FavGenre(ctx, user); err != nil || g != "jazz" {
		return fmt.Errorf("FavGenre = %q, %v", g, err)
	}
	if err := store.Put(ctx, metadata.QueueEntry{UserID: user, Rerun: true, Reason: metadata.ReasonPlay}); err != nil {
		return fmt.Errorf("Put: %w", err)
	}
	if err := store.AppendAudit(ctx, metadata.AuditEntry{UserID: user, Reason: metadata.ReasonLogin}); err != nil {
		return fmt.Errorf("AppendAudit: %w", err)
	}
	if a, err := store.Audit(ctx, user, 10); err != nil || len(a) == 0 {
		return fmt.Errorf("Audit = %d entries, %v", len(a), err)
	}
	if err := store.SetCheckpoint(ctx, user, "1"); err != nil {
		return fmt.Errorf("SetCheckpoint: %w", err)
	}
	return store.ClearCheckpoint(ctx, user)
}

// drain claims and acknowledges want entries, then expects an empty queue.
func drain(t *testing.T, ctx context.Context, store *redisstore.Store, want int) {
	t.Helper()
	if d, err := store.Depth(ctx); err != nil || d != int64(want) {
		t.Fatalf("Depth = %d, %v; want %d", d, err, want)
	}
	entries, err := store.Claim(ctx, "cluster-worker", redisstore.MaxClaim, time.Minute)
	if err != nil || len(entries) != want {
		t.Fatalf("Claim = %d entries, %v; want %d", len(entries), err, want)
	}
	for _, e := range entries {
		must(t, store.Retry(ctx, e, time.Now()))
	}
	entries, _ = store.Claim(ctx, "cluster-worker", redisstore.MaxClaim, time.Minute)
	for _, e := range entries {
		must(t, store.Done(ctx, e))
	}
	if d, _ := store.Depth(ctx); d != 0 {
		t.Errorf("Depth after Done = %d; want 0", d)
	}
}

// TestSentinelFailover kills the master under a steady stream of logins and plays: calls fail
// with ErrUnavailable (and nothing else) while the Sentinels fail over, then succeed again through
// the same client.
func TestSentinelFailover(t *testing.T) {
	s := redistest.StartSentinel(t)
	store, _ := redistest.Open(t, redisstore.Options{SentinelAddrs: s.Addrs(), SentinelMaster: s.MasterName(), Timeout: 200 * time.Millisecond})
	ctx := context.Background()

	var ok, unavailable atomic.Int64
	var seq atomic.Int64
	call := func() error {
		n := seq.Add(1)
		callCtx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		if _, err := store.BeginLogin(callCtx, "auth0|fo", fmt.Sprint("jti-", n), time.Minute); err != nil {
			return err
		}
		_, err := store.RecordPlay(callCtx, "auth0|fo")
		return err
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			switch err := call(); {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, metadata.ErrUnavailable):
				unavailable.Add(1)
			default:
				t.Errorf("call during failover: %v; want nil or ErrUnavailable", err)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()

	testkit.WaitFor(t, func() error {
		if ok.Load() < 5 {
			return errors.New("no calls succeeded yet")
		}
		return nil
	})
	old := s.MasterAddr()
	s.KillMaster()
	newAddr := s.WaitFailover(old)
	failedOver := ok.Load()
	testkit.WaitFor(t, func() error {
		if ok.Load() < failedOver+5 {
			return fmt.Errorf("calls not succeeding again after failover to %s", newAddr)
		}
		return nil
	})
	close(stop)
	<-done
	if unavailable.Load() == 0 {
		t.Errorf("no call failed while the master was down; want some ErrUnavailable")
	}
	if err := call(); err != nil {
		t.Errorf("call after failover = %v; want nil", err)
	}
	t.Logf("%d calls succeeded, %d failed with ErrUnavailable", ok.Load(), unavailable.Load())
}
