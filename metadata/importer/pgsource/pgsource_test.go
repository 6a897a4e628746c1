package pgsource_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"

	"github.com/rulehook/rulehook/metadata/importer"
	"github.com/rulehook/rulehook/metadata/importer/pgsource"
	"github.com/rulehook/rulehook/metadata/importer/pgsource/pgtest"
	"github.com/rulehook/rulehook/metadata/redisstore/redistest"
)

const playsQuery = `SELECT user_id, plays FROM plays`

func run(t *testing.T, url string, q pgsource.Queries, store importer.Store, opts importer.Options) *importer.Summary {
	t.Helper()
	ctx := context.Background()
	src, err := pgsource.Open(ctx, url, q)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close(ctx)
	sum, err := importer.Run(ctx, src, store, opts)
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

func sampleQueries() pgsource.Queries {
	return pgsource.Queries{Plays: playsQuery, Genres: pgsource.DefaultGenresQuery, Songs: pgsource.DefaultSongsQuery}
}

func TestSampleSchemaImport(t *testing.T) {
	t.Parallel()
	db := pgtest.Sample(t, 300)
	srv := redistest.Start(t)
	store, _ := srv.Open(t)
	ctx := context.Background()

	sum := run(t, db.URL, sampleQueries(), store, importer.Options{Batch: 64})
	if !sum.Complete() || len(sum.PerKind) != 3 {
		t.Fatalf("summary %+v; want 3 complete kinds", sum)
	}
	for _, k := range sum.PerKind {
		if k.Written != k.Read || k.Read == 0 {
			t.Errorf("%s: read %d, written %d; want all written", k.Kind, k.Read, k.Written)
		}
	}
	for _, i := range []int{0, 5, 150, 299} {
		id := pgtest.SampleUser(i)
		plays, _ := store.Plays(ctx, id)
		genre, _ := store.FavGenre(ctx, id)
		songs, _ := store.Songs(ctx, id)
		if plays != int64(i) || genre != fmt.Sprint("genre ", i%7) || len(songs) != i%4 {
			t.Errorf("%s: plays %d, genre %q, %d songs; want %d, genre %d, %d", id, plays, genre, len(songs), i, i%7, i%4)
		}
		for k, s := range songs {
			if want := fmt.Sprintf("song %d.%d", i, k); s.Name != want || s.ID != int64(k+1) {
				t.Errorf("%s song %d = %+v; want id %d %q", id, k, s, k+1, want)
			}
		}
	}

	// A second run leaves the same state, and says so.
	before := dump(t, srv)
	again := run(t, db.URL, sampleQueries(), store, importer.Options{})
	if after := dump(t, srv); !maps.Equal(after, before) {
		t.Errorf("a second run changed the data")
	}
	for _, k := range again.PerKind[:2] {
		if k.Written != 0 || k.Unchanged != k.Read {
			t.Errorf("second run, %s: written %d, unchanged %d of %d; want none written", k.Kind, k.Written, k.Unchanged, k.Read)
		}
	}
}

// dump is every user key of the sample with its value (the songs-import marks, which only tie a
// run's parts together, left out).
func dump(t *testing.T, srv *redistest.Server) map[string]string {
	t.Helper()
	keys := srv.Dump(t, "rulehook:{auth0|u*")
	maps.DeleteFunc(keys, func(k, _ string) bool { return strings.HasSuffix(k, ":songs:import") })
	if len(keys) == 0 {
		t.Fatal("no user keys in Redis")
	}
	return keys
}

func TestSongsInAnyOrderGiveTheSameLists(t *testing.T) {
	t.Parallel()
	db := pgtest.Sample(t, 40)
	byUser, _ := redistest.Start(t).Open(t)
	bySongID, _ := redistest.Start(t).Open(t)
	q := pgsource.Queries{Songs: pgsource.DefaultSongsQuery}
	run(t, db.URL, q, byUser, importer.Options{})
	q.Songs = `SELECT user_id, songname FROM songs ORDER BY song_id`
	run(t, db.URL, q, bySongID, importer.Options{Batch: 3})
	ctx := context.Background()
	for i := range 40 {
		id := pgtest.SampleUser(i)
		a, _ := byUser.Songs(ctx, id)
		b, _ := bySongID.Songs(ctx, id)
		if fmt.Sprint(a) != fmt.Sprint(b) {
			t.Errorf("%s: %v ordered by user, %v by song_id; want the same", id, a, b)
		}
	}
}

func TestBadRowsAndCap(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	db.Exec(t, pgtest.SampleSchema)
	db.Exec(t, `INSERT INTO plays VALUES ('auth0|ok', 3), (NULL, 4), ('auth0|neg', -1), ('', 2)`)
	db.Exec(t, `INSERT INTO user_data VALUES ('auth0|ok', 'rock'), ('auth0|blank', '   '), ('auth0|null', NULL)`)
	db.Exec(t, `INSERT INTO songs (songname, user_id) SELECT 'n' || i, 'auth0|big' FROM generate_series(1, 1003) i`)
	store, _ := redistest.Start(t).Open(t)
	var report bytes.Buffer
	sum := run(t, db.URL, sampleQueries(), store, importer.Options{Report: &report})
	if sum.Complete() || sum.Skipped != 8 {
		t.Fatalf("skipped %d; want 8 (3 plays, 2 genres, 3 songs over the cap)", sum.Skipped)
	}
	for _, want := range []string{"plays,2,,no user_id", "plays,3,auth0|neg,plays is not a non-negative integer",
		"genres,2,auth0|blank,genre is empty", "genres,3,auth0|null,genre is NULL",
		"songs,1001,auth0|big,over the cap of 1000 songs per user", "songs,1003,auth0|big,"} {
		if !strings.Contains(report.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, report.String())
		}
	}
	if songs, _ := store.Songs(context.Background(), "auth0|big"); len(songs) != 1000 || songs[999].Name != "n1000" {
		t.Errorf("auth0|big has %d songs; want the first 1000", len(songs))
	}
}

func TestQueryErrorsAreUsageErrors(t *testing.T) {
	t.Parallel()
	db := pgtest.Sample(t, 3)
	store, _ := redistest.Start(t).Open(t)
	ctx := context.Background()
	for _, q := range []string{`SELECT user_id FROM plays`, `SELECT user_id, plays, 1 FROM plays`, `SELECT nope FROM plays`} {
		src, err := pgsource.Open(ctx, db.URL, pgsource.Queries{Plays: q})
		if err != nil {
			t.Fatal(err)
		}
		_, err = importer.Run(ctx, src, store, importer.Options{})
		src.Close(ctx)
		if !errors.Is(err, importer.ErrUsage) {
			t.Errorf("plays query %q: %v; want ErrUsage", q, err)
		}
	}
	// A query that would write is refused, and writes nothing.
	src, _ := pgsource.Open(ctx, db.URL, pgsource.Queries{Plays: `DELETE FROM plays RETURNING user_id, plays`})
	defer src.Close(ctx)
	if _, err := importer.Run(ctx, src, store, importer.Options{}); !errors.Is(err, importer.ErrUsage) {
		t.Errorf("a DELETE as plays query: %v; want a usage error", err)
	}
	ro, _ := pgsource.Open(ctx, db.URL, pgsource.Queries{Plays: `DELETE FROM plays RETURNING user_id, plays`})
	defer ro.Close(ctx)
	err := ro.Rows(ctx, importer.Plays, func(importer.Row) error { return nil })
	if !errors.Is(err, importer.ErrUsage) || !strings.Contains(err.Error(), "read-only") {
		t.Errorf("Rows of a DELETE: %v; want a read-only usage error", err)
	}
	var n int
	if err := db.Conn.QueryRow(ctx, `SELECT count(*) FROM plays`).Scan(&n); err != nil || n != 3 {
		t.Errorf("plays has %d rows (%v) after the DELETE query; want 3", n, err)
	}
}

func TestUnreachableNamesHostNotPassword(t *testing.T) {
	t.Parallel()
	_, err := pgsource.Open(context.Background(), "postgres://app:s3cret-pw@127.0.0.1:1/music?connect_timeout=5", pgsource.Queries{})
	if !errors.Is(err, importer.ErrConnect) {
		t.Fatalf("Open = %v; want ErrConnect", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "127.0.0.1:1") || strings.Contains(msg, "s3cret-pw") {
		t.Errorf("error %q: want the host and port, never the password", msg)
	}
}
