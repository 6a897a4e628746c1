package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rulehook/rulehook/metadata"
	"github.com/rulehook/rulehook/metadata/redisstore"
	"github.com/rulehook/rulehook/metadata/redisstore/redistest"
)

func TestMaxmemoryPolicy(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"default", nil, "noeviction"},
		{"evicting", []string{"--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru"}, "allkeys-lru"},
		{"CONFIG refused", []string{"--rename-command", "CONFIG", ""}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := redistest.Start(t, tt.args...)
			store, _ := srv.Open(t)
			if got, err := store.MaxmemoryPolicy(ctx); err != nil || got != tt.want {
				t.Errorf("MaxmemoryPolicy = %q, %v; want %q, nil", got, err, tt.want)
			}
		})
	}
	t.Run("down", func(t *testing.T) {
		t.Parallel()
		srv := redistest.Start(t)
		store, _ := srv.Open(t)
		srv.Stop()
		if _, err := store.MaxmemoryPolicy(ctx); !errors.Is(err, metadata.ErrUnavailable) {
			t.Errorf("MaxmemoryPolicy(Redis down) err = %v; want ErrUnavailable", err)
		}
	})
}

// TestEvictedCountIsNotRecorded fills a real redis-server running with maxmemory and
// allkeys-lru until it evicts a user's play count: the count then reads as not recorded (CONTRACT
// rule 6), never as 0, on the login path and for the worker and reconcile, while the app API's
// Plays still answers 0.
func TestEvictedCountIsNotRecorded(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, "--maxmemory", "4mb", "--maxmemory-policy", "allkeys-lru")
	store, rdb := srv.Open(t)
	ctx := context.Background()
	user := "auth0|evicted"
	rdb.Set(ctx, redisstore.PlaysKey(user), "150", 0)
	filler := strings.Repeat("x", 64<<10)
	for i := 0; rdb.Exists(ctx, redisstore.PlaysKey(user)).Val() == 1; i++ {
		if i > 2000 { // 128 MiB written into a 4 MiB Redis
			t.Fatalf("the play count was never evicted")
		}
		rdb.Set(ctx, fmt.Sprintf("filler:%d", i), filler, 0)
	}
	c, err := store.BeginLogin(ctx, user, "jti-1", time.Minute)
	if err != nil || c.Recorded {
		t.Errorf("BeginLogin(evicted count) = %+v, %v; want not recorded", c, err)
	}
	if c, err := store.PlayCount(ctx, user); err != nil || c.Recorded {
		t.Errorf("PlayCount(evicted count) = %+v, %v; want not recorded", c, err)
	}
	if n, err := store.Plays(ctx, user); err != nil || n != 0 {
		t.Errorf("Plays(evicted count) = %d, %v; want 0 (getPlays answers 0)", n, err)
	}
}
