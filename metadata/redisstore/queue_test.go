package redisstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rulehook/rulehook/metadata"
	"github.com/rulehook/rulehook/metadata/redisstore"
	"github.com/rulehook/rulehook/metadata/redisstore/redistest"
	"github.com/rulehook/rulehook/metadata/testkit"
)

func TestQueuePutMerges(t *testing.T) {
	t.Parallel()
	store, ctx := newStore(t)
	t0 := time.Date(2026, 5, 1, 10, 0, 0, 123456789, time.UTC)
	user := "auth0|merge"

	must(t, store.Put(ctx, metadata.QueueEntry{
		UserID: user, Reason: metadata.ReasonAPI, RequestID: "r1", Enqueued: t0,
		Explicit: metadata.Patch{
			UserMetadata: map[string]any{"displayName": "Ann", "theme": "dark"},
			AppMetadata:  map[string]any{"plan": "free"},
		},
	}))
	must(t, store.Put(ctx, metadata.QueueEntry{
		UserID: user, Rerun: true, Reason: metadata.ReasonLogin, RequestID: "r2", Enqueued: t0.Add(time.Hour),
		Explicit: metadata.Patch{UserMetadata: map[string]any{"displayName": "Bo"}},
		Version:  99, Attempts: 7, // ignored
	}))
	must(t, store.Put(ctx, metadata.QueueEntry{UserID: user, Reason: metadata.ReasonPlay}))

	got, err := store.Pending(ctx, user)
	if err != nil {
		t.Fatal(err)
	}
	want := metadata.QueueEntry{
		UserID: user, Rerun: true, Reason: metadata.ReasonPlay, RequestID: "", Version: got.Version, Attempts: 0, Enqueued: t0,
		Explicit: metadata.Patch{
			UserMetadata: map[string]any{"displayName": "Bo", "theme": "dark"},
			AppMetadata:  map[string]any{"plan": "free"},
		},
	}
	if got.Version < 3 {
		t.Errorf("Version after three Puts = %d; want >= 3 (it grows with every Put)", got.Version)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Pending after three Puts =\n%+v\nwant\n%+v", got, want)
	}
	if d, _ := store.Depth(ctx); d != 1 {
		t.Errorf("Depth = %d; want 1", d)
	}
	if _, err := store.Pending(ctx, "auth0|nobody"); !errors.Is(err, metadata.ErrNotFound) {
		t.Errorf("Pending(no entry) err = %v; want ErrNotFound", err)
	}
}

func TestQueueKeepsValuesExact(t *testing.T) {
	t.Parallel()
	store, ctx := newStore(t)
	in := map[string]any{
		"empty":  []any{},
		"nested": map[string]any{"a": []any{"x", map[string]any{}}, "b": nil},
		"big":    json.Number("12345678901234567890"),
		"gone":   nil,
		"flag":   false,
	}
	must(t, store.Put(ctx, metadata.QueueEntry{UserID: "auth0|exact", Explicit: metadata.Patch{UserMetadata: in}}))
	got, err := store.Claim(ctx, "c1", 10, time.Minute)
	if err != nil || len(got) != 1 {
		t.Fatalf("Claim = %v, %v; want one entry", got, err)
	}
	want, _ := json.Marshal(in)
	have, _ := json.Marshal(got[0].Explicit.UserMetadata)
	if string(have) != string(want) {
		t.Errorf("queued values came back as %s; want %s", have, want)
	}
	if got[0].Explicit.AppMetadata != nil {
		t.Errorf("AppMetadata = %v; want nil (nothing queued there)", got[0].Explicit.AppMetadata)
	}
}

func TestQueueConcurrentPutsOneEntry(t *testing.T) {
	t.Parallel()
	store, ctx := newStore(t)
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			must(t, store.Put(ctx, metadata.QueueEntry{UserID: "auth0|storm", Rerun: i == 17, Reason: metadata.ReasonLogin}))
		})
	}
	wg.Wait()
	if d, _ := store.Depth(ctx); d != 1 {
		t.Errorf("Depth after 50 concurrent Puts of one user = %d; want 1", d)
	}
	e, err := store.Pending(ctx, "auth0|storm")
	if err != nil || e.Version < 50 || !e.Rerun {
		t.Errorf("Pending = version %d rerun %v, %v; want version >= 50, rerun true", e.Version, e.Rerun, err)
	}
}

// TestQueueOneConsumerPerUser runs four consumers against a producer that keeps re-queueing 30
// users: a user is never held by two consumers at once, versions of a user are applied in
// increasing order, and the last version applied for each user is its newest.
func TestQueueOneConsumerPerUser(t *testing.T) {
	t.Parallel()
	store, ctx := newStore(t)
	const users, puts = 30, 600
	userID := func(i int) string { return fmt.Sprintf("auth0|u%02d", i) }

	var (
		mu       sync.Mutex
		holding  = map[string]string{}
		applied  = map[string]int64{}
		newest   = map[string]int64{}
		overlap  atomic.Int64
		producer = make(chan struct{})
	)
	go func() {
		defer close(producer)
		for range puts {
			u := userID(rand.IntN(users))
			// Under mu no consumer can record or acknowledge an application, so the entry is
			// still there to read the version this Put gave it.
			mu.Lock()
			err := store.Put(ctx, metadata.QueueEntry{UserID: u, Rerun: true, Reason: metadata.ReasonLogin})
			e, perr := store.Pending(ctx, u)
			newest[u] = e.Version
			mu.Unlock()
			if err := errors.Join(err, perr); err != nil {
				t.Error(err)
				return
			}
		}
	}()

	var wg sync.WaitGroup
	for c := range 4 {
		name := fmt.Sprintf("consumer-%d", c)
		wg.Go(func() {
			for {
				entries, err := store.Claim(ctx, name, 3, 10*time.Second)
				if err != nil {
					t.Error(err)
					return
				}
				if len(entries) == 0 {
					select {
					case <-producer:
						if d, _ := store.Depth(ctx); d == 0 {
							return
						}
					default:
					}
					time.Sleep(time.Millisecond)
					continue
				}
				for _, e := range entries {
					mu.Lock()
					if other, held := holding[e.UserID]; held {
						overlap.Add(1)
						t.Errorf("%s got %s while %s holds it", name, e.UserID, other)
					}
					holding[e.UserID] = name
					mu.Unlock()
					time.Sleep(time.Duration(rand.IntN(300)) * time.Microsecond) // "apply"
					mu.Lock()
					delete(holding, e.UserID)
					if e.Version <= applied[e.UserID] {
						t.Errorf("%s applied version %d of %s after version %d", name, e.Version, e.UserID, applied[e.UserID])
					}
					applied[e.UserID] = e.Version
					mu.Unlock()
					if err := store.Done(ctx, e); err != nil {
						t.Error(err)
					}
				}
			}
		})
	}
	wg.Wait()
	for u, n := range newest {
		if applied[u] != n {
			t.Errorf("last version applied for %s = %d; want %d (its newest)", u, applied[u], n)
		}
	}
}

func TestQueueLeaseExpiry(t *testing.T) {
	store, ctx := newStore(t)
	const lease = 500 * time.Millisecond
	claimed := time.Now() // a's lease ends no sooner than lease after this
	putAndClaim(t, store, "auth0|lease", lease)
	// Only a claim known to fall inside the lease must come back empty (a loaded machine may
	// delay this one past it). A late claim that got the entry holds it now: it is b's claim.
	got, _ := store.Claim(ctx, "b", 10, time.Minute)
	if len(got) != 0 && time.Since(claimed) < lease {
		t.Fatalf("Claim(b) during a's lease = %v; want none", got)
	}
	// a "dies"; b polls until the lease has ended.
	if len(got) == 0 {
		testkit.WaitFor(t, func() error {
			var err error
			got, err = store.Claim(ctx, "b", 10, time.Minute)
			if err != nil || len(got) == 0 {
				return fmt.Errorf("nothing claimed yet (%v)", err)
			}
			return nil
		})
	}
	if d := time.Since(claimed); d < lease-10*time.Millisecond {
		t.Errorf("b got the entry %s after a claimed it; want after a's %s lease", d, lease)
	}
	if got[0].UserID != "auth0|lease" || got[0].Version != 1 {
		t.Errorf("b claimed %+v; want auth0|lease version 1", got[0])
	}
}

func TestQueueStaleDoneKeepsNewerEntry(t *testing.T) {
	t.Parallel()
	store, ctx := newStore(t)
	user := "auth0|stale"
	must(t, store.Put(ctx, metadata.QueueEntry{UserID: user, Explicit: metadata.DisplayNamePatch("old")}))
	a, _ := store.Claim(ctx, "a", 1, time.Minute)
	if len(a) != 1 {
		t.Fatalf("Claim(a) = %v; want one entry", a)
	}
	// A newer write arrives while a applies version 1: it must not reach another consumer yet.
	must(t, store.Put(ctx, metadata.QueueEntry{UserID: user, Explicit: metadata.DisplayNamePatch("new")}))
	if got, _ := store.Claim(ctx, "b", 1, time.Minute); len(got) != 0 {
		t.Fatalf("Claim(b) while a holds the user = %v; want none", got)
	}
	must(t, store.Done(ctx, a[0]))
	b, _ := store.Claim(ctx, "b", 1, time.Minute)
	if len(b) != 1 || b[0].Version <= a[0].Version || b[0].Explicit.UserMetadata["displayName"] != "new" {
		t.Fatalf("Claim(b) after a's stale Done = %+v; want a newer version with displayName new", b)
	}
	must(t, store.Done(ctx, b[0]))
	if d, _ := store.Depth(ctx); d != 0 {
		t.Errorf("Depth after Done of the newest version = %d; want 0", d)
	}
	must(t, store.Done(ctx, b[0])) // again: nothing left, no error
}

// TestQueueHold: a held entry is not claimed while its lease runs; a Put merges into it; Done
// with the held version leaves the newer value due for a consumer; a second Hold finds the entry.
func TestQueueHold(t *testing.T) {
	t.Parallel()
	store, ctx := newStore(t)
	first := metadata.QueueEntry{UserID: "auth0|hold", Explicit: metadata.DisplayNamePatch("First")}
	held, ok, err := store.Hold(ctx, first, "writer-1", time.Minute)
	if err != nil || !ok || held.Version == 0 {
		t.Fatalf("Hold(no entry) = %+v, %v, %v; want held with a version", held, ok, err)
	}
	if _, ok, err := store.Hold(ctx, first, "writer-2", time.Minute); err != nil || ok {
		t.Errorf("Hold(entry exists) = %v, %v; want not held", ok, err)
	}
	if got, err := store.Claim(ctx, "worker", 10, time.Minute); err != nil || len(got) != 0 {
		t.Errorf("Claim while held = %v, %v; want nothing", got, err)
	}
	if err := store.Put(ctx, metadata.QueueEntry{UserID: "auth0|hold", Explicit: metadata.DisplayNamePatch("Second")}); err != nil {
		t.Fatalf("Put: %v", err)
	}
	if got, err := store.Claim(ctx, "worker", 10, time.Minute); err != nil || len(got) != 0 {
		t.Errorf("Claim after a Put into the held entry = %v, %v; want nothing yet", got, err)
	}
	if err := store.Done(ctx, held); err != nil {
		t.Fatalf("Done: %v", err)
	}
	got, err := store.Claim(ctx, "worker", 10, time.Minute)
	if err != nil || len(got) != 1 || got[0].Explicit.UserMetadata["displayName"] != "Second" {
		t.Fatalf("Claim after Done of the held version = %+v, %v; want the merged Second", got, err)
	}
	if _, _, err := store.Hold(ctx, first, "", time.Minute); err == nil {
		t.Errorf("Hold with no consumer: nil error; want ErrInvalid")
	}
}

func TestQueueRetry(t *testing.T) {
	store, ctx := newStore(t)
	user := "auth0|retry"
	e := putAndClaim(t, store, user, time.Minute)
	start := time.Now()
	must(t, store.Retry(ctx, e, start.Add(300*time.Millisecond)))
	// A claim made late (on a loaded machine) may get the entry: then it is b's claim.
	got, _ := store.Claim(ctx, "b", 1, time.Minute)
	if len(got) != 0 && time.Since(start) < 300*time.Millisecond {
		t.Fatalf("Claim right after Retry = %v; want none until notBefore", got)
	}
	if len(got) == 0 {
		testkit.WaitFor(t, func() error {
			got, _ = store.Claim(ctx, "b", 1, time.Minute)
			if len(got) == 0 {
				return errors.New("not due yet")
			}
			return nil
		})
	}
	if d := time.Since(start); d < 280*time.Millisecond {
		t.Errorf("entry due again after %s; want >= 300ms", d)
	}
	if got[0].Attempts != 1 || got[0].Version != e.Version {
		t.Errorf("entry after one Retry: attempts %d version %d; want 1, %d", got[0].Attempts, got[0].Version, e.Version)
	}

	// A Put makes an entry in backoff due now.
	must(t, store.Retry(ctx, got[0], time.Now().Add(time.Hour)))
	must(t, store.Put(ctx, metadata.QueueEntry{UserID: user, Rerun: true}))
	now, _ := store.Claim(ctx, "c", 1, time.Minute)
	if len(now) != 1 || now[0].Attempts != 2 || now[0].Version <= got[0].Version {
		t.Fatalf("Claim after Put on a backed-off entry = %+v; want it due now with attempts 2, a newer version", now)
	}
}

func TestQueueStaleRetryLeavesNewerLease(t *testing.T) {
	store, ctx := newStore(t)
	user := "auth0|slow"
	a := putAndClaim(t, store, user, 50*time.Millisecond)
	time.Sleep(80 * time.Millisecond) // a overruns its lease
	must(t, store.Put(ctx, metadata.QueueEntry{UserID: user, Rerun: true}))
	b, _ := store.Claim(ctx, "b", 1, time.Minute)
	if len(b) != 1 || b[0].Version <= a.Version {
		t.Fatalf("Claim(b) = %+v; want a newer version than %d", b, a.Version)
	}
	must(t, store.Retry(ctx, a, time.Now().Add(time.Hour))) // a's late failure report
	must(t, store.Done(ctx, a))                             // or a late success report
	if got, _ := store.Claim(ctx, "c", 1, time.Minute); len(got) != 0 {
		t.Fatalf("Claim(c) while b holds version 2 = %+v; want none", got)
	}
	if e, _ := store.Pending(ctx, user); e.Attempts != 0 || e.Version != b[0].Version {
		t.Errorf("entry after a's stale reports: attempts %d version %d; want 0, %d", e.Attempts, e.Version, b[0].Version)
	}
	must(t, store.Done(ctx, b[0]))
	if d, _ := store.Depth(ctx); d != 0 {
		t.Errorf("Depth = %d; want 0", d)
	}
}

// TestQueueLateDoneAfterReuse: a consumer that overran its lease acknowledges after another
// consumer applied and finished the entry and a new entry of the same user was queued: the new
// entry must survive (versions are never reused).
func TestQueueLateDoneAfterReuse(t *testing.T) {
	store, ctx := newStore(t)
	user := "auth0|aba"
	a := putAndClaim(t, store, user, 30*time.Millisecond)
	time.Sleep(50 * time.Millisecond)
	b, _ := store.Claim(ctx, "b", 1, time.Minute)
	if len(b) != 1 {
		t.Fatalf("Claim(b) after a's lease = %v; want one entry", b)
	}
	must(t, store.Done(ctx, b[0]))
	must(t, store.Put(ctx, metadata.QueueEntry{UserID: user, Explicit: metadata.DisplayNamePatch("later")}))
	must(t, store.Done(ctx, a)) // late
	e, err := store.Pending(ctx, user)
	if err != nil || e.Explicit.UserMetadata["displayName"] != "later" {
		t.Errorf("Pending after a late Done = %+v, %v; want the new entry", e, err)
	}
}

// TestQueueSurvivesProcessRestart: entries written by one process (client) are claimed by the
// next, and an entry leased by a process that died comes back when its lease ends.
func TestQueueSurvivesProcessRestart(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	ctx := context.Background()
	first, rdb1 := srv.Open(t)
	must(t, first.Put(ctx, metadata.QueueEntry{UserID: "auth0|p1", Explicit: metadata.DisplayNamePatch("Kim")}))
	must(t, first.Put(ctx, metadata.QueueEntry{UserID: "auth0|p2", Rerun: true}))
	if got, _ := first.Claim(ctx, "dying", 1, 100*time.Millisecond); len(got) != 1 {
		t.Fatalf("claimed %d entries; want 1", len(got))
	}
	rdb1.Close() // the process is gone

	second, _ := srv.Open(t)
	got := map[string]metadata.QueueEntry{}
	testkit.WaitFor(t, func() error {
		entries, err := second.Claim(ctx, "next", 10, time.Minute)
		if err != nil {
			return err
		}
		for _, e := range entries {
			got[e.UserID] = e
		}
		if len(got) < 2 {
			return fmt.Errorf("have %d of 2 entries", len(got))
		}
		return nil
	})
	if got["auth0|p1"].Explicit.UserMetadata["displayName"] != "Kim" || !got["auth0|p2"].Rerun {
		t.Errorf("entries after restart = %+v; want both, intact", got)
	}
}

func TestQueueRejectsBadArguments(t *testing.T) {
	t.Parallel()
	store, ctx := newStore(t)
	for name, err := range map[string]error{
		"Put no user":    store.Put(ctx, metadata.QueueEntry{}),
		"Put not JSON":   store.Put(ctx, metadata.QueueEntry{UserID: "u", Explicit: metadata.Patch{AppMetadata: map[string]any{"f": func() {}}}}),
		"Claim n=0":      second(store.Claim(ctx, "c", 0, time.Second)),
		"Claim n>max":    second(store.Claim(ctx, "c", redisstore.MaxClaim+1, time.Second)),
		"Claim no lease": second(store.Claim(ctx, "c", 1, 0)),
		"Claim consumer": second(store.Claim(ctx, "", 1, time.Second)),
		"Done no user":   store.Done(ctx, metadata.QueueEntry{}),
		"Retry no user":  store.Retry(ctx, metadata.QueueEntry{}, time.Now()),
	} {
		if !errors.Is(err, metadata.ErrInvalid) {
			t.Errorf("%s: err = %v; want ErrInvalid", name, err)
		}
	}
}

func second[T any](_ T, err error) error { return err }

// putAndClaim queues a rerun for user and claims it as consumer "a" with the lease given; t fails
// unless that one entry comes back.
func putAndClaim(t *testing.T, store *redisstore.Store, user string, lease time.Duration) metadata.QueueEntry {
	t.Helper()
	must(t, store.Put(t.Context(), metadata.QueueEntry{UserID: user, Rerun: true}))
	got, err := store.Claim(t.Context(), "a", 1, lease)
	if err != nil || len(got) != 1 || got[0].UserID != user {
		t.Fatalf("Claim(a) after Put(%s) = %v, %v; want that one entry", user, got, err)
	}
	return got[0]
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
