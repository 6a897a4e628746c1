package redisstore_test

import (
	"testing"
	"time"

	"github.com/rulehook/rulehook/metadata"
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
