package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rulehook/rulehook/metadata"
	"github.com/rulehook/rulehook/metadata/redisstore"
	"github.com/rulehook/rulehook/metadata/redisstore/redistest"
	"github.com/rulehook/rulehook/metadata/testkit"
)

func TestOpenRejectsBadOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts redisstore.Options
	}{
		{"nothing", redisstore.Options{}},
		{"url and cluster", redisstore.Options{URL: "redis://127.0.0.1:1", ClusterAddrs: []string{"127.0.0.1:2"}}},
		{"cluster and sentinel", redisstore.Options{ClusterAddrs: []string{"a:1"}, SentinelAddrs: []string{"b:2"}, SentinelMaster: "m"}},
		{"sentinel without master", redisstore.Options{SentinelAddrs: []string{"127.0.0.1:26379"}}},
		{"master without sentinels", redisstore.Options{URL: "redis://h:1", SentinelMaster: "m"}},
		{"scheme", redisstore.Options{URL: "http://127.0.0.1:6379"}},
		{"unix", redisstore.Options{URL: "unix:///tmp/redis.sock"}},
		{"no host", redisstore.Options{URL: "redis://"}},
		{"bad cluster addr", redisstore.Options{ClusterAddrs: []string{"127.0.0.1"}}},
		{"negative timeout", redisstore.Options{URL: "redis://h:1", Timeout: -time.Second}},
		{"bad port with password", redisstore.Options{URL: "redis://user:s3cret@127.0.0.1:port"}},
	}
	for _, tt := range tests {
		rdb, err := redisstore.Open(tt.opts)
		if !errors.Is(err, metadata.ErrInvalid) {
			t.Errorf("%s: Open() err = %v; want ErrInvalid", tt.name, err)
		}
		if rdb != nil {
			t.Errorf("%s: Open() returned a client with an error", tt.name)
			rdb.Close()
		}
		if err != nil && strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%s: error %q repeats the password", tt.name, err)
		}
	}
}

func TestOpenKinds(t *testing.T) {
	t.Parallel()
	rdb, err := redisstore.Open(redisstore.Options{URL: "rediss://:pw@127.0.0.1:6390/2"})
	if err != nil {
		t.Fatalf("Open(rediss) err = %v", err)
	}
	defer rdb.Close()
	c, ok := rdb.(*redis.Client)
	if !ok {
		t.Fatalf("Open(URL) = %T; want *redis.Client", rdb)
	}
	o := c.Options()
	if o.TLSConfig == nil || o.DB != 2 || o.Password != "pw" {
		t.Errorf("rediss options: TLS %v, DB %d, password set %v; want TLS, 2, true", o.TLSConfig != nil, o.DB, o.Password == "pw")
	}
	if o.ReadTimeout != redisstore.DefaultTimeout || o.DialTimeout != redisstore.DefaultTimeout || !o.ContextTimeoutEnabled {
		t.Errorf("timeouts: read %s dial %s context %v; want %s, %s, true", o.ReadTimeout, o.DialTimeout,
			o.ContextTimeoutEnabled, redisstore.DefaultTimeout, redisstore.DefaultTimeout)
	}
	if got, want := o.MaxRetries, redisstore.DefaultMaxRetries; got != want {
		t.Errorf("MaxRetries = %d; want %d", got, want)
	}

	cl, err := redisstore.Open(redisstore.Options{ClusterAddrs: []string{"127.0.0.1:7000", "127.0.0.1:7001"}})
	if err != nil {
		t.Fatalf("Open(cluster) err = %v", err)
	}
	defer cl.Close()
	if _, ok := cl.(*redis.ClusterClient); !ok {
		t.Errorf("Open(cluster) = %T; want *redis.ClusterClient", cl)
	}

	fo, err := redisstore.Open(redisstore.Options{SentinelAddrs: []string{"127.0.0.1:26379"}, SentinelMaster: "m", Timeout: time.Second})
	if err != nil {
		t.Fatalf("Open(sentinel) err = %v", err)
	}
	defer fo.Close()
	if c, ok := fo.(*redis.Client); !ok || c.Options().ReadTimeout != time.Second {
		t.Errorf("Open(sentinel) = %T; want *redis.Client with a 1s read timeout", fo)
	}
}

// TestOutageAndRecovery stops Redis under a live client: every call fails fast with
// ErrUnavailable (never redis.Nil), and the same client works again once Redis is back.
func TestOutageAndRecovery(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	store, _ := srv.Open(t)
	ctx := context.Background()
	if _, err := store.RecordPlay(ctx, "auth0|1"); err != nil {
		t.Fatalf("RecordPlay: %v", err)
	}

	srv.Stop()
	calls := map[string]func() error{
		"Ping":        func() error { return store.Ping(ctx) },
		"BeginLogin":  func() error { _, err := store.BeginLogin(ctx, "auth0|1", "j1", time.Minute); return err },
		"Plays":       func() error { _, err := store.Plays(ctx, "auth0|1"); return err },
		"RecordPlay":  func() error { _, err := store.RecordPlay(ctx, "auth0|1"); return err },
		"FavGenre":    func() error { _, err := store.FavGenre(ctx, "auth0|1"); return err },
		"SetFavGenre": func() error { return store.SetFavGenre(ctx, "auth0|1", "jazz") },
		"Songs":       func() error { _, err := store.Songs(ctx, "auth0|1"); return err },
		"AddSong":     func() error { _, err := store.AddSong(ctx, "auth0|1", "x"); return err },
		"Put":         func() error { return store.Put(ctx, metadata.QueueEntry{UserID: "auth0|1", Rerun: true}) },
		"Claim":       func() error { _, err := store.Claim(ctx, "c", 1, time.Second); return err },
		"Done":        func() error { return store.Done(ctx, metadata.QueueEntry{UserID: "auth0|1", Version: 1}) },
		"Retry":       func() error { return store.Retry(ctx, metadata.QueueEntry{UserID: "auth0|1"}, time.Now()) },
		"Depth":       func() error { _, err := store.Depth(ctx); return err },
		"Pending":     func() error { _, err := store.Pending(ctx, "auth0|1"); return err },
	}
	for name, call := range calls {
		start := time.Now()
		err := call()
		if !errors.Is(err, metadata.ErrUnavailable) || errors.Is(err, redis.Nil) {
			t.Errorf("%s with Redis down: err = %v; want ErrUnavailable", name, err)
		}
		if d := time.Since(start); d > testkit.Within(time.Second) {
			t.Errorf("%s with Redis down took %s; want it to fail fast", name, d)
		}
	}

	srv.Restart()
	testkit.WaitFor(t, func() error { return store.Ping(ctx) })
	if got, err := store.RecordPlay(ctx, "auth0|1"); err != nil || got != 1 {
		t.Errorf("RecordPlay after restart = %d, %v; want 1, nil (the data went with the process)", got, err)
	}
}

// TestHungRedis freezes Redis: calls give up after the timeout with ErrUnavailable.
func TestHungRedis(t *testing.T) {
	srv := redistest.Start(t)
	store, _ := redistest.Open(t, redisstore.Options{URL: srv.URL(), Timeout: 100 * time.Millisecond})
	ctx := context.Background()
	if err := store.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	srv.Pause()
	start := time.Now()
	_, err := store.BeginLogin(ctx, "auth0|1", "jti-1", time.Minute)
	if !errors.Is(err, metadata.ErrUnavailable) {
		t.Errorf("BeginLogin on a hung Redis: err = %v; want ErrUnavailable", err)
	}
	if d := time.Since(start); d > testkit.Within(200*time.Millisecond) {
		t.Errorf("BeginLogin on a hung Redis took %s; want about the 100ms timeout (one retry at most)", d)
	}

	// A caller's deadline shorter than the client's timeout wins.
	slow, _ := redistest.Open(t, redisstore.Options{URL: srv.URL(), Timeout: time.Minute})
	deadline, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	start = time.Now()
	if _, err := slow.Plays(deadline, "auth0|1"); !errors.Is(err, metadata.ErrUnavailable) {
		t.Errorf("Plays with a 50ms deadline: err = %v; want ErrUnavailable", err)
	}
	if d := time.Since(start); d > testkit.Within(50*time.Millisecond) {
		t.Errorf("Plays with a 50ms deadline and a 1m timeout took %s; want the deadline to win", d)
	}
	srv.Resume()
}

// TestRecordPlayNeverCountsTwice: a play whose reply is lost (Redis stalls past the read timeout)
// is not re-sent, so it is counted once at most. go-redis's own INCR, re-sent after the timeout,
// is the control that shows the stall really makes a retry count twice.
func TestRecordPlayNeverCountsTwice(t *testing.T) {
	srv := redistest.Start(t)
	store, rdb := redistest.Open(t, redisstore.Options{URL: srv.URL(), Timeout: 80 * time.Millisecond, MaxRetries: 3})
	ctx := context.Background()
	warm(t, rdb.(*redis.Client), 4)

	srv.Pause()
	if _, err := store.RecordPlay(ctx, "auth0|stall"); !errors.Is(err, metadata.ErrUnavailable) {
		t.Errorf("RecordPlay on a stalled Redis: err = %v; want ErrUnavailable", err)
	}
	_ = rdb.Incr(ctx, "control").Err()
	srv.Resume()

	control := func() int { v, _ := srv.Do("GET", "control"); n, _ := strconv.Atoi(fmt.Sprint(v)); return n }
	testkit.WaitFor(t, func() error {
		if n := control(); n < 2 {
			return fmt.Errorf("control INCR counted %d time(s); want >= 2, or this test no longer provokes a re-send", n)
		}
		return nil
	})
	// The control was sent after RecordPlay; once Redis has run it, it has run RecordPlay's bytes.
	if got, _ := srv.Do("GET", redisstore.PlaysKey("auth0|stall")); got != nil && got != "1" {
		t.Errorf("plays after a lost RecordPlay reply = %v; want 1 or unset", got)
	}
}

// warm leaves n established connections in the client's pool.
func warm(t *testing.T, c *redis.Client, n int) {
	t.Helper()
	conns := make([]*redis.Conn, n)
	for i := range conns {
		conns[i] = c.Conn()
		if err := conns[i].Ping(context.Background()).Err(); err != nil {
			t.Fatal(err)
		}
	}
	for _, cn := range conns {
		cn.Close()
	}
}
