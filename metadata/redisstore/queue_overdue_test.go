package redisstore_test

import (
	"errors"
	"testing"
	"time"

	"github.com/rulehook/rulehook/metadata"
)

func TestQueueOverdue(t *testing.T) {
	t.Parallel()
	srv, store, ctx := startStore(t)
	overdue := func(step string) time.Duration {
		t.Helper()
		d, err := store.Overdue(ctx)
		if err != nil {
			t.Fatalf("%s: Overdue: %v", step, err)
		}
		return d
	}
	if got := overdue("empty"); got != 0 {
		t.Errorf("Overdue of an empty queue = %v; want 0", got)
	}

	must(t, store.Put(ctx, metadata.QueueEntry{UserID: "auth0|late", Reason: metadata.ReasonLogin, Rerun: true}))
	claimed, err := store.Claim(ctx, "w1", 10, time.Minute)
	if err != nil || len(claimed) != 1 {
		t.Fatalf("Claim = %d entries, %v; want 1", len(claimed), err)
	}
	if got := overdue("leased"); got != 0 {
		t.Errorf("Overdue while the only entry is leased = %v; want 0", got)
	}
	must(t, store.Retry(ctx, claimed[0], time.Now().Add(time.Hour)))
	if got := overdue("backing off"); got != 0 {
		t.Errorf("Overdue while the only entry backs off = %v; want 0", got)
	}

	// Put back as due 11 minutes ago: the clocks of this process and of the local Redis agree
	// within far less than the minute of slack below.
	must(t, store.Retry(ctx, claimed[0], time.Now().Add(-11*time.Minute)))
	if got, want := overdue("overdue"), 10*time.Minute; got < want || got > 12*time.Minute {
		t.Errorf("Overdue of an entry due 11 min ago = %v; want between %v and 12m", got, want)
	}

	srv.Stop()
	if _, err := store.Overdue(ctx); !errors.Is(err, metadata.ErrUnavailable) {
		t.Errorf("Overdue with Redis stopped = %v; want ErrUnavailable", err)
	}
}
