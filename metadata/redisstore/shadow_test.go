package redisstore_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/rulehook/rulehook/metadata"
	"github.com/rulehook/rulehook/metadata/redisstore/redistest"
)

func TestShadowStatsByTheHour(t *testing.T) {
	t.Parallel()
	store, ctx := newStore(t)
	now := time.Now().UTC().Truncate(time.Hour).Add(30 * time.Minute)
	logins := []metadata.ShadowLogin{
		{UserID: "auth0|a", Time: now.Add(-2 * time.Hour)},
		{UserID: "auth0|b", Time: now.Add(-time.Hour), Kinds: []string{metadata.ShadowDemote}},
		{UserID: "auth0|c", Time: now},
		{UserID: "auth0|d", Time: now, Kinds: []string{metadata.ShadowPromote, metadata.ShadowDisplayName}},
	}
	for _, l := range logins {
		if err := store.RecordShadow(ctx, l); err != nil {
			t.Fatal(err)
		}
	}
	st, err := store.ShadowStats(ctx, now.Add(-time.Hour), now)
	if err != nil {
		t.Fatal(err)
	}
	if st.Logins != 3 || st.Agreed != 1 || st.Disagreements[metadata.ShadowDemote] != 1 || st.Disagreements[metadata.ShadowPromote] != 1 {
		t.Errorf("ShadowStats(last hour and this) = %+v; want 3 logins, 1 agreed, demote 1, promote 1", st)
	}
	entries, _ := store.Audit(ctx, "", 10)
	if len(entries) != 2 || entries[0].UserID != "auth0|d" || entries[0].Reason != metadata.ReasonShadow {
		t.Errorf("audit = %+v; want the two disagreeing logins, newest first, reason shadow", entries)
	}
}

// TestRecordShadowOneRoundTrip: a disagreeing shadow login's counts and its two audit entries
// go to Redis in one pipeline.
func TestRecordShadowOneRoundTrip(t *testing.T) {
	t.Parallel()
	store, rdb := redistest.Start(t).Open(t)
	ctx := context.Background()
	if err := store.RecordShadow(ctx, metadata.ShadowLogin{UserID: "auth0|warm"}); err != nil {
		t.Fatal(err) // warms the connection pool: no handshake below
	}
	hook := &countingHook{}
	rdb.AddHook(hook)
	l := metadata.ShadowLogin{UserID: "auth0|rt", Kinds: []string{metadata.ShadowPromote},
		Changes: []metadata.Change{{Object: "app_metadata", Key: "roles", Before: []any{}, After: []any{"premium"}}}}
	if err := store.RecordShadow(ctx, l); err != nil {
		t.Fatal(err)
	}
	// HINCRBY logins and promote, EXPIRE, XADD to the user's stream and to the tenant's.
	if hook.single != 0 || !slices.Equal(hook.pipelines, []int{5}) {
		t.Errorf("client sent %d single commands and pipelines of %v; want 0 and [5]", hook.single, hook.pipelines)
	}
	if entries, err := store.Audit(ctx, "auth0|rt", 10); err != nil || len(entries) != 1 || entries[0].Reason != metadata.ReasonShadow {
		t.Errorf("Audit(auth0|rt) = %+v, %v; want the shadow entry", entries, err)
	}
}
