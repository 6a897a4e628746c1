package redisstore_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/rulehook/rulehook/metadata"
	"github.com/rulehook/rulehook/metadata/redisstore"
	"github.com/rulehook/rulehook/metadata/redisstore/redistest"
)

func TestImportPlays(t *testing.T) {
	t.Parallel()
	srv, store, ctx := startStore(t)
	srv.Do("SET", redisstore.PlaysKey("auth0|live"), "150")
	srv.Do("SET", redisstore.PlaysKey("auth0|junk"), "lots")

	rows := []metadata.PlaysRow{{UserID: "auth0|new", Plays: 120}, {UserID: "auth0|live", Plays: 90}, {UserID: "auth0|junk", Plays: 5}}
	got, err := store.ImportPlays(ctx, metadata.PlaysMax, rows)
	if err != nil {
		t.Fatal(err)
	}
	want := []metadata.ImportOutcome{metadata.ImportWritten, metadata.ImportKept, metadata.ImportBadStored}
	if !slices.Equal(got, want) {
		t.Errorf("ImportPlays(max) = %v; want %v", got, want)
	}
	for id, n := range map[string]int64{"auth0|new": 120, "auth0|live": 150} {
		if p, _ := store.Plays(ctx, id); p != n {
			t.Errorf("Plays(%s) = %d after max import; want %d", id, p, n)
		}
	}
	if got, _ := store.ImportPlays(ctx, metadata.PlaysMax, rows[:1]); got[0] != metadata.ImportUnchanged {
		t.Errorf("second max import = %v; want unchanged", got)
	}

	got, err = store.ImportPlays(ctx, metadata.PlaysSet, rows)
	if err != nil {
		t.Fatal(err)
	}
	if want := []metadata.ImportOutcome{metadata.ImportUnchanged, metadata.ImportWritten, metadata.ImportWritten}; !slices.Equal(got, want) {
		t.Errorf("ImportPlays(set) = %v; want %v", got, want)
	}
	if p, _ := store.Plays(ctx, "auth0|live"); p != 90 {
		t.Errorf("Plays(auth0|live) = %d after set import; want 90", p)
	}
	if _, err := store.ImportPlays(ctx, "min", rows); err == nil {
		t.Error("ImportPlays(min) succeeded; want an error")
	}
}

func TestImportSongsReplaceAndResend(t *testing.T) {
	t.Parallel()
	store, ctx := newStore(t)
	const id = "auth0|songs"
	for _, n := range []string{"old one", "old two", "old three"} {
		if _, err := store.AddSong(ctx, id, n); err != nil {
			t.Fatal(err)
		}
	}
	lists := []metadata.SongList{{UserID: id, Part: 1, Names: []string{"a", " b "}}}
	if got, err := store.ImportSongs(ctx, "run1", lists); err != nil || got[0] != 2 {
		t.Fatalf("ImportSongs = %v, %v; want [2]", got, err)
	}
	// The same part again (a re-sent request) changes nothing; a later part appends.
	store.ImportSongs(ctx, "run1", lists)
	store.ImportSongs(ctx, "run1", []metadata.SongList{{UserID: id, Part: 2, Names: []string{"c"}}})
	songs, _ := store.Songs(ctx, id)
	if got, want := fmt.Sprint(songs), "[{1 a} {2 b} {3 c}]"; got != want {
		t.Errorf("Songs after run1 = %s; want %s", got, want)
	}
	// A new run replaces the list again, with the same ids: the same state.
	store.ImportSongs(ctx, "run2", []metadata.SongList{{UserID: id, Part: 1, Names: []string{"a", "b", "c"}}})
	again, _ := store.Songs(ctx, id)
	if fmt.Sprint(again) != fmt.Sprint(songs) {
		t.Errorf("Songs after run2 = %v; want %v", again, songs)
	}
	// The id sequence never goes back: the next song added gets an id no song had.
	s, err := store.AddSong(ctx, id, "d")
	if err != nil || s.ID != 4 {
		t.Errorf("AddSong after import = %v, %v; want id 4", s, err)
	}
}

func TestImportSongsCap(t *testing.T) {
	t.Parallel()
	store, ctx := newStore(t)
	names := make([]string, metadata.MaxSongsPerUser-2)
	for i := range names {
		names[i] = fmt.Sprint("song ", i)
	}
	lists := []metadata.SongList{
		{UserID: "auth0|many", Part: 1, Names: names},
		{UserID: "auth0|many", Part: 2, Names: []string{"x", "y", "z", "w"}},
	}
	got, err := store.ImportSongs(ctx, "run", lists)
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{len(names), 2}; !slices.Equal(got, want) {
		t.Errorf("ImportSongs stored %v; want %v", got, want)
	}
	if songs, _ := store.Songs(ctx, "auth0|many"); len(songs) != metadata.MaxSongsPerUser {
		t.Errorf("%d songs stored; want the cap, %d", len(songs), metadata.MaxSongsPerUser)
	}
}

// TestImportCluster writes a batch spread over the three masters of a real Cluster, then again
// after a FLUSH of the script caches (NOSCRIPT falls back to EVAL).
func TestImportCluster(t *testing.T) {
	c := redistest.StartCluster(t, 3)
	store, _ := c.Open(t)
	ctx := context.Background()
	var plays []metadata.PlaysRow
	var genres []metadata.UserValue
	var songs []metadata.SongList
	owners := map[string]bool{}
	for i := range 60 {
		id := fmt.Sprintf("auth0|import-%02d", i)
		owners[c.SlotOwner(c.KeySlot(redisstore.PlaysKey(id))).Addr()] = true
		plays = append(plays, metadata.PlaysRow{UserID: id, Plays: int64(i)})
		genres = append(genres, metadata.UserValue{UserID: id, Value: "jazz"})
		songs = append(songs, metadata.SongList{UserID: id, Part: int64(i + 1), Names: []string{"one", "two"}})
	}
	if len(owners) != 3 {
		t.Fatalf("users on %d masters; want 3", len(owners))
	}
	for round := range 2 {
		for _, n := range c.Nodes() {
			n.Do("SCRIPT", "FLUSH")
		}
		if _, err := store.ImportPlays(ctx, metadata.PlaysMax, plays); err != nil {
			t.Fatalf("round %d: ImportPlays: %v", round, err)
		}
		if _, err := store.ImportGenres(ctx, genres); err != nil {
			t.Fatalf("round %d: ImportGenres: %v", round, err)
		}
		if _, err := store.ImportSongs(ctx, fmt.Sprint("run", round), songs); err != nil {
			t.Fatalf("round %d: ImportSongs: %v", round, err)
		}
	}
	for i, p := range plays {
		got, _ := store.Plays(ctx, p.UserID)
		g, _ := store.FavGenre(ctx, p.UserID)
		s, _ := store.Songs(ctx, p.UserID)
		if got != int64(i) || g != "jazz" || fmt.Sprint(s) != "[{1 one} {2 two}]" {
			t.Errorf("%s: plays %d, genre %q, songs %v; want %d, jazz, [one two]", p.UserID, got, g, s, i)
		}
	}
}
