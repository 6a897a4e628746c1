package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rulehook/rulehook/metadata"
	"github.com/rulehook/rulehook/metadata/redisstore"
	"github.com/rulehook/rulehook/metadata/redisstore/redistest"
)

// newStore gives t a Store on a redis-server of its own, and a context that ends with t.
func newStore(t *testing.T) (*redisstore.Store, context.Context) {
	t.Helper()
	_, store, ctx := startStore(t)
	return store, ctx
}

// startStore is newStore with the server, for a test that also stops or writes Redis behind the
// Store's back.
func startStore(t *testing.T) (*redistest.Server, *redisstore.Store, context.Context) {
	t.Helper()
	srv := redistest.Start(t)
	store, _ := srv.Open(t)
	return srv, store, t.Context()
}

func TestBeginLogin(t *testing.T) {
	t.Parallel()
	store, rdb := redistest.Start(t).Open(t)
	ctx := context.Background()
	user := "auth0|login"

	plays, err := store.BeginLogin(ctx, user, "jti-1", time.Minute)
	if err != nil || plays != (metadata.PlayCount{}) {
		t.Fatalf("BeginLogin(no count) = %+v, %v; want not recorded, nil", plays, err)
	}
	if _, err := store.BeginLogin(ctx, user, "jti-1", time.Minute); !errors.Is(err, metadata.ErrReplay) {
		t.Errorf("BeginLogin(same jti) err = %v; want ErrReplay", err)
	}
	if _, err := store.BeginLogin(ctx, "auth0|other", "jti-1", time.Minute); err != nil {
		t.Errorf("BeginLogin(same jti, other user) err = %v; want nil (ids are per user)", err)
	}

	rdb.Set(ctx, redisstore.PlaysKey(user), "120", 0) // an operator's import
	if plays, err := store.BeginLogin(ctx, user, "jti-2", time.Minute); err != nil || plays != (metadata.PlayCount{N: 120, Recorded: true}) {
		t.Errorf("BeginLogin(imported 120) = %+v, %v; want 120 recorded, nil", plays, err)
	}

	ttl := rdb.PTTL(ctx, "rulehook:{"+user+"}:jti:jti-2").Val()
	if ttl <= 0 || ttl > time.Minute {
		t.Errorf("jti key TTL = %s; want (0, 1m]", ttl)
	}

	rdb.Set(ctx, redisstore.PlaysKey(user), "lots", 0)
	if _, err := store.BeginLogin(ctx, user, "jti-3", time.Minute); !errors.Is(err, metadata.ErrInvalid) {
		t.Errorf("BeginLogin(non-integer count) err = %v; want ErrInvalid", err)
	}

	for _, bad := range []struct {
		user, jti string
		ttl       time.Duration
	}{{"", "j", time.Minute}, {user, "", time.Minute}, {user, strings.Repeat("j", 257), time.Minute}, {user, "j", 0}} {
		if _, err := store.BeginLogin(ctx, bad.user, bad.jti, bad.ttl); !errors.Is(err, metadata.ErrInvalid) {
			t.Errorf("BeginLogin(%q, %d-byte jti, %s) err = %v; want ErrInvalid", bad.user, len(bad.jti), bad.ttl, err)
		}
	}
}

// TestBeginLoginOneRoundTrip proves the login path costs Redis one round trip: the client sends a
// single pipeline of two commands, and the server runs exactly SET and GET.
func TestBeginLoginOneRoundTrip(t *testing.T) {
	srv := redistest.Start(t)
	store, rdb := srv.Open(t)
	ctx := context.Background()
	if _, err := store.BeginLogin(ctx, "auth0|warm", "jti-0", time.Minute); err != nil {
		t.Fatal(err) // warms the connection pools: no handshake below
	}
	hook := &countingHook{}
	rdb.AddHook(hook)
	before := commandStats(t, srv)

	if _, err := store.BeginLogin(ctx, "auth0|rt", "jti-1", time.Minute); err != nil {
		t.Fatal(err)
	}

	if hook.single != 0 || !slices.Equal(hook.pipelines, []int{2}) {
		t.Errorf("client sent %d single commands and pipelines of %v; want 0 and [2]", hook.single, hook.pipelines)
	}
	after := commandStats(t, srv)
	for name, n := range before {
		after[name] -= n
		if after[name] == 0 {
			delete(after, name)
		}
	}
	delete(after, "info") // commandStats's own, and redisproc's at start (INFO server)
	if want := map[string]int{"set": 1, "get": 1}; !maps.Equal(after, want) {
		t.Errorf("server ran %v; want %v", after, want)
	}
}

type countingHook struct {
	mu        sync.Mutex
	single    int
	pipelines []int
}

func (h *countingHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *countingHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.mu.Lock()
		h.single++
		h.mu.Unlock()
		return next(ctx, cmd)
	}
}

func (h *countingHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.mu.Lock()
		h.pipelines = append(h.pipelines, len(cmds))
		h.mu.Unlock()
		return next(ctx, cmds)
	}
}

// commandStats returns calls per command from INFO commandstats, read on its own connection.
func commandStats(t *testing.T, srv *redistest.Server) map[string]int {
	t.Helper()
	reply, err := srv.Do("INFO", "commandstats")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, line := range strings.Split(reply.(string), "\r\n") {
		name, rest, ok := strings.Cut(strings.TrimPrefix(line, "cmdstat_"), ":calls=")
		if !ok {
			continue
		}
		calls, _, _ := strings.Cut(rest, ",")
		out[name], _ = strconv.Atoi(calls)
	}
	return out
}

func TestPlays(t *testing.T) {
	t.Parallel()
	store, rdb := redistest.Start(t).Open(t)
	ctx := context.Background()
	user := "google-oauth2|42"
	if got, err := store.Plays(ctx, user); err != nil || got != 0 {
		t.Errorf("Plays(unset) = %d, %v; want 0, nil", got, err)
	}
	if got, err := store.PlayCount(ctx, user); err != nil || got.Recorded {
		t.Errorf("PlayCount(unset) = %+v, %v; want not recorded, nil", got, err)
	}
	rdb.Set(ctx, redisstore.PlaysKey(user), "0", 0)
	if got, err := store.PlayCount(ctx, user); err != nil || got != (metadata.PlayCount{Recorded: true}) {
		t.Errorf("PlayCount(a stored 0) = %+v, %v; want 0 recorded, nil", got, err)
	}
	rdb.Del(ctx, redisstore.PlaysKey(user))
	for want := int64(1); want <= 3; want++ {
		if got, err := store.RecordPlay(ctx, user); err != nil || got != want {
			t.Errorf("RecordPlay = %d, %v; want %d, nil", got, err, want)
		}
	}
	if got := rdb.Get(ctx, "rulehook:{"+user+"}:plays").Val(); got != "3" {
		t.Errorf("stored count = %q; want \"3\" at the contract's key", got)
	}

	rdb.Set(ctx, redisstore.PlaysKey(user), "x", 0)
	if _, err := store.Plays(ctx, user); !errors.Is(err, metadata.ErrInvalid) {
		t.Errorf("Plays(non-integer) err = %v; want ErrInvalid", err)
	}
	if _, err := store.RecordPlay(ctx, user); !errors.Is(err, metadata.ErrInvalid) {
		t.Errorf("RecordPlay(non-integer) err = %v; want ErrInvalid", err)
	}
	rdb.Del(ctx, redisstore.PlaysKey(user))
	rdb.LPush(ctx, redisstore.PlaysKey(user), "a")
	if _, err := store.Plays(ctx, user); !errors.Is(err, metadata.ErrInvalid) {
		t.Errorf("Plays(wrong type) err = %v; want ErrInvalid", err)
	}
}

func TestRecordPlayConcurrent(t *testing.T) {
	t.Parallel()
	store, ctx := newStore(t)
	const n = 200
	got := make([]int64, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { got[i], errs[i] = store.RecordPlay(ctx, "auth0|busy") })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	for i, v := range got {
		if v != int64(i+1) {
			t.Fatalf("sorted counts returned = %v...; want 1..%d each once", got[:i+1], n)
		}
	}
	if plays, _ := store.Plays(ctx, "auth0|busy"); plays != n {
		t.Errorf("Plays after %d concurrent plays = %d; want %d", n, plays, n)
	}
}

func TestFavGenre(t *testing.T) {
	t.Parallel()
	store, ctx := newStore(t)
	if _, err := store.FavGenre(ctx, "auth0|g"); !errors.Is(err, metadata.ErrNotFound) {
		t.Errorf("FavGenre(unset) err = %v; want ErrNotFound", err)
	}
	if err := store.SetFavGenre(ctx, "auth0|g", "  Jazz fusion "); err != nil {
		t.Fatal(err)
	}
	if got, err := store.FavGenre(ctx, "auth0|g"); err != nil || got != "Jazz fusion" {
		t.Errorf("FavGenre = %q, %v; want \"Jazz fusion\"", got, err)
	}
	for _, bad := range []string{"", "   ", "a\x00b", strings.Repeat("x", metadata.MaxGenreRunes+1)} {
		if err := store.SetFavGenre(ctx, "auth0|g", bad); !errors.Is(err, metadata.ErrInvalid) {
			t.Errorf("SetFavGenre(%q) err = %v; want ErrInvalid", bad, err)
		}
	}
	if _, err := store.FavGenre(ctx, ""); !errors.Is(err, metadata.ErrInvalid) {
		t.Errorf("FavGenre(\"\") err = %v; want ErrInvalid", err)
	}
}

func TestSongs(t *testing.T) {
	t.Parallel()
	store, ctx := newStore(t)
	user := "auth0|songs"
	songs, err := store.Songs(ctx, user)
	if err != nil || songs == nil || len(songs) != 0 {
		t.Fatalf("Songs(none) = %#v, %v; want [], nil", songs, err)
	}
	var want []metadata.Song
	for i, name := range []string{"Blue in Green", " So What ", "Freddie Freeloader", "All Blues", "Flamenco Sketches", "Milestones", "Kind of Blue", "Nardis", "Solar", "Tune Up", "Walkin'"} {
		s, err := store.AddSong(ctx, user, name)
		if err != nil {
			t.Fatal(err)
		}
		if w := (metadata.Song{ID: int64(i + 1), Name: strings.TrimSpace(name)}); s != w {
			t.Errorf("AddSong(%q) = %+v; want %+v", name, s, w)
		}
		want = append(want, s)
	}
	if got, err := store.Songs(ctx, user); err != nil || !slices.Equal(got, want) {
		t.Errorf("Songs = %v, %v; want %v (ordered by id, 10 after 9)", got, err, want)
	}
	if s, _ := store.AddSong(ctx, "auth0|other", "x"); s.ID != 1 {
		t.Errorf("first song of another user has id %d; want 1", s.ID)
	}
	if _, err := store.AddSong(ctx, user, "\t"); !errors.Is(err, metadata.ErrInvalid) {
		t.Errorf("AddSong(blank) err = %v; want ErrInvalid", err)
	}
}

func TestAddSongConcurrentAndBounded(t *testing.T) {
	t.Parallel()
	store, ctx := newStore(t)
	user := "auth0|many"
	var wg sync.WaitGroup
	ids := make(chan int64, metadata.MaxSongsPerUser+50)
	errs := make(chan error, metadata.MaxSongsPerUser+50)
	for w := range 10 {
		wg.Go(func() {
			for i := range (metadata.MaxSongsPerUser + 50) / 10 {
				s, err := store.AddSong(ctx, user, fmt.Sprintf("song %d-%d", w, i))
				if err != nil {
					errs <- err
					continue
				}
				ids <- s.ID
			}
		})
	}
	wg.Wait()
	close(ids)
	close(errs)
	var got []int64
	for id := range ids {
		got = append(got, id)
	}
	slices.Sort(got)
	if len(got) != metadata.MaxSongsPerUser || got[0] != 1 || got[len(got)-1] != metadata.MaxSongsPerUser {
		t.Errorf("added %d songs with ids %d..%d; want %d with ids 1..%[3]d", len(got), got[0], got[len(got)-1], metadata.MaxSongsPerUser)
	}
	var limited int
	for err := range errs {
		if !errors.Is(err, metadata.ErrLimit) {
			t.Errorf("AddSong over the bound err = %v; want ErrLimit", err)
		}
		limited++
	}
	if limited != 50 {
		t.Errorf("%d calls got ErrLimit; want 50", limited)
	}
	songs, _ := store.Songs(ctx, user)
	if len(songs) != metadata.MaxSongsPerUser {
		t.Errorf("len(Songs) = %d; want %d", len(songs), metadata.MaxSongsPerUser)
	}
}
