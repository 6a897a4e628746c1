package redisstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/rulehook/rulehook/metadata"
	"github.com/rulehook/rulehook/metadata/redisstore"
	"github.com/rulehook/rulehook/metadata/redisstore/redistest"
)

func TestAudit(t *testing.T) {
	t.Parallel()
	store, ctx := newStore(t)
	t0 := time.Date(2026, 6, 1, 8, 0, 0, 5, time.UTC)
	promote := metadata.AuditEntry{
		UserID: "auth0|a", Time: t0, Reason: metadata.ReasonLogin, RequestID: "req-1",
		Changes: []metadata.Change{
			{Object: metadata.ObjectAppMetadata, Key: "roles", Before: []any{"admin"}, After: []any{"admin", "playlist_editor"}},
			{Object: metadata.ObjectUserMetadata, Key: "displayName", Before: nil, After: "user"},
		},
	}
	rename := metadata.AuditEntry{
		UserID: "auth0|a", Time: t0.Add(time.Minute), Reason: metadata.ReasonAPI,
		Changes: []metadata.Change{{Object: metadata.ObjectUserMetadata, Key: "displayName", Before: "user", After: "Ann"}},
	}
	other := metadata.AuditEntry{UserID: "auth0|b", Reason: metadata.ReasonReconcile, Changes: nil}
	for _, e := range []metadata.AuditEntry{promote, rename, other} {
		must(t, store.AppendAudit(ctx, e))
	}

	got, err := store.Audit(ctx, "auth0|a", 10)
	if err != nil {
		t.Fatal(err)
	}
	if want := []metadata.AuditEntry{rename, promote}; !sameJSON(got, want) {
		t.Errorf("Audit(auth0|a) =\n%s\nwant (newest first)\n%s", jsonOf(got), jsonOf(want))
	}
	if !got[1].Time.Equal(t0) {
		t.Errorf("time = %s; want %s", got[1].Time, t0)
	}

	all, err := store.Audit(ctx, "", 10)
	if err != nil || len(all) != 3 || all[0].UserID != "auth0|b" || all[0].Time.IsZero() || all[0].Changes == nil {
		t.Errorf("Audit(all) = %s, %v; want 3 entries, newest (auth0|b, time set, changes []) first", jsonOf(all), err)
	}
	if last, _ := store.Audit(ctx, "auth0|a", 1); len(last) != 1 || last[0].Reason != metadata.ReasonAPI {
		t.Errorf("Audit(auth0|a, 1) = %s; want the rename only", jsonOf(last))
	}
	if none, err := store.Audit(ctx, "auth0|nobody", 5); err != nil || len(none) != 0 {
		t.Errorf("Audit(no history) = %v, %v; want [], nil", none, err)
	}
	for _, n := range []int{0, -1, redisstore.MaxAuditRead + 1} {
		if _, err := store.Audit(ctx, "auth0|a", n); !errors.Is(err, metadata.ErrInvalid) {
			t.Errorf("Audit(n=%d) err = %v; want ErrInvalid", n, err)
		}
	}
	if err := store.AppendAudit(ctx, metadata.AuditEntry{}); !errors.Is(err, metadata.ErrInvalid) {
		t.Errorf("AppendAudit(no user) err = %v; want ErrInvalid", err)
	}
}

func TestAuditIsCapped(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	_, rdb := srv.Open(t)
	store := redisstore.New(rdb, redisstore.WithUserAuditMaxLen(10), redisstore.WithAuditMaxLen(300))
	ctx := context.Background()
	for i := range 1000 {
		must(t, store.AppendAudit(ctx, metadata.AuditEntry{UserID: "auth0|busy", Reason: fmt.Sprint(i)}))
	}
	// MAXLEN ~ trims whole stream nodes (100 entries each by default), so the caps are approximate.
	if n := rdb.XLen(ctx, "rulehook:{auth0|busy}:audit").Val(); n < 10 || n > 200 {
		t.Errorf("user stream length = %d; want about 10 (10..200)", n)
	}
	if n := rdb.XLen(ctx, "rulehook:audit").Val(); n < 300 || n > 500 {
		t.Errorf("tenant stream length = %d; want about 300 (300..500)", n)
	}
	last, _ := store.Audit(ctx, "auth0|busy", 1)
	if len(last) != 1 || last[0].Reason != "999" {
		t.Errorf("newest entry = %v; want reason 999", last)
	}
}

func TestCheckpoint(t *testing.T) {
	t.Parallel()
	store, rdb := redistest.Start(t).Open(t)
	ctx := context.Background()
	if v, err := store.Checkpoint(ctx, "nightly"); err != nil || v != "" {
		t.Errorf("Checkpoint(none) = %q, %v; want \"\", nil", v, err)
	}
	must(t, store.SetCheckpoint(ctx, "nightly", "page=7"))
	if v, err := store.Checkpoint(ctx, "nightly"); err != nil || v != "page=7" {
		t.Errorf("Checkpoint = %q, %v; want page=7", v, err)
	}
	if ttl := rdb.TTL(ctx, "rulehook:{reconcile:nightly}:checkpoint").Val(); ttl <= 0 || ttl > redisstore.CheckpointTTL {
		t.Errorf("checkpoint TTL = %s; want (0, %s]", ttl, redisstore.CheckpointTTL)
	}
	must(t, store.ClearCheckpoint(ctx, "nightly"))
	if v, _ := store.Checkpoint(ctx, "nightly"); v != "" {
		t.Errorf("Checkpoint after Clear = %q; want \"\"", v)
	}
	for _, name := range []string{"", "a\nb", string(make([]byte, redisstore.MaxNameBytes+1))} {
		if err := store.SetCheckpoint(ctx, name, "x"); !errors.Is(err, metadata.ErrInvalid) {
			t.Errorf("SetCheckpoint(%q) err = %v; want ErrInvalid", name, err)
		}
	}
}

func jsonOf(v any) string { b, _ := json.MarshalIndent(v, "", "  "); return string(b) }

// sameJSON compares values as their JSON (decoded numbers and nils differ in Go types only).
func sameJSON(a, b any) bool {
	var x, y any
	_ = json.Unmarshal([]byte(jsonOf(a)), &x)
	_ = json.Unmarshal([]byte(jsonOf(b)), &y)
	return reflect.DeepEqual(x, y)
}
