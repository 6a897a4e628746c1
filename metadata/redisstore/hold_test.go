package redisstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/rulehook/rulehook/metadata"
)

// TestQueueHold: a held entry is not claimed while its lease runs; a Put merges into it; Done
// with the held version leaves the newer value due for a consumer; a second Hold finds the entry.
func TestQueueHold(t *testing.T) {
	t.Parallel()
	store, _, _ := newStore(t)
	ctx := context.Background()
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
