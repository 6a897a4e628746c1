package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rulehook/rulehook/metadata/importer/pgsource/pgtest"
	"github.com/rulehook/rulehook/metadata/redisstore/redistest"
)

const testPlaysQuery = "SELECT user_id, plays FROM plays"

// runImportCmd runs `rulehook import args...` against the Redis at redisURL and returns the
// exit status and what was printed.
func runImportCmd(t *testing.T, redisURL string, args ...string) (int, string) {
	t.Helper()
	var out bytes.Buffer
	getenv := func(k string) string { return map[string]string{"REDIS_URL": redisURL}[k] }
	err := run(context.Background(), append([]string{"import"}, args...), getenv, &out, &out)
	return exitCode(err, &out), out.String()
}

func TestImportSampleReadBackThroughTheAppAPI(t *testing.T) {
	db := pgtest.Sample(t, 300)
	s := startStack(t, nil)
	code, out := runImportCmd(t, s.redis.URL(), "--from", db.URL, "--plays-query", testPlaysQuery)
	if code != 0 || !strings.Contains(out, "plays   300 read, 300 written") {
		t.Fatalf("import = %d; want 0 and 300 plays written:\n%s", code, out)
	}
	for _, i := range []int{0, 3, 101, 299} {
		id := pgtest.SampleUser(i)
		if code, body := s.appRequest(t, http.MethodGet, "/genres/getFav", id, nil); code != 200 || body != fmt.Sprint("genre ", i%7) {
			t.Errorf("GET /genres/getFav as %s = %d %q; want 200 %q", id, code, body, fmt.Sprint("genre ", i%7))
		}
		if code, body := s.appRequest(t, http.MethodGet, "/playlists/getPlays", id, nil); code != 200 || body != fmt.Sprint(i) {
			t.Errorf("GET /playlists/getPlays as %s = %d %q; want 200 %q", id, code, body, fmt.Sprint(i))
		}
		code, body := s.appRequest(t, http.MethodGet, "/songs", id, nil)
		var songs []struct{ Name string }
		if err := json.Unmarshal([]byte(body), &songs); code != 200 || err != nil || len(songs) != i%4 {
			t.Errorf("GET /songs as %s = %d %s; want 200 and %d songs", id, code, body, i%4)
		}
		for k, song := range songs {
			if want := fmt.Sprintf("song %d.%d", i, k); song.Name != want {
				t.Errorf("%s song %d = %q; want %q", id, k, song.Name, want)
			}
		}
	}

	before := redisDump(t, s.redis)
	code, out = runImportCmd(t, s.redis.URL(), "--from", db.URL, "--plays-query", testPlaysQuery)
	if code != 0 || !strings.Contains(out, "plays   300 read, 0 written, 300 unchanged") || !strings.Contains(out, "genres  300 read, 0 written, 300 unchanged") {
		t.Errorf("second import = %d; want 0 and nothing written:\n%s", code, out)
	}
	if after := redisDump(t, s.redis); after != before {
		t.Errorf("the second import changed Redis")
	}
}

// redisDump is every rulehook key of a user with its value, import marks left out.
func redisDump(t *testing.T, r *redistest.Server) string {
	t.Helper()
	keys, err := r.Do("KEYS", "rulehook:{*")
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, k := range keys.([]any) {
		key := k.(string)
		if strings.HasSuffix(key, ":songs:import") {
			continue
		}
		v, err := r.Do("DUMP", key)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s=%q\n", key, v)
	}
	lines := strings.Split(b.String(), "\n")
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

func TestImportDryRunWritesNothing(t *testing.T) {
	db := pgtest.Sample(t, 50)
	r := redistest.Start(t)
	code, out := runImportCmd(t, r.URL(), "--from", db.URL, "--plays-query", testPlaysQuery, "--dry-run")
	if code != 0 || !strings.Contains(out, "50 to write (dry run: nothing written)") {
		t.Errorf("dry run = %d; want 0 and 50 to write:\n%s", code, out)
	}
	if n, _ := r.Do("DBSIZE"); n != int64(0) {
		t.Errorf("DBSIZE after a dry run = %v; want 0", n)
	}
}

func TestImportBadRowsExit1(t *testing.T) {
	db := pgtest.Sample(t, 5)
	db.Exec(t, `INSERT INTO plays VALUES (NULL, 3), ('auth0|neg', -2), ('jane@example.com', -5)`)
	r := redistest.Start(t)
	report := filepath.Join(t.TempDir(), "skipped.csv")
	code, out := runImportCmd(t, r.URL(), "--from", db.URL, "--plays-query", testPlaysQuery, "--report", report)
	if code != 1 {
		t.Fatalf("import with bad rows = %d; want 1:\n%s", code, out)
	}
	for _, want := range []string{"skipped rows (3; the first 3)", `plays row 6, user "": no user_id`,
		`user "auth0|neg": plays is not a non-negative integer`, "3 rows skipped; all are listed in " + report} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "jane@example.com") {
		t.Errorf("the summary prints an email:\n%s", out)
	}
	body, err := os.ReadFile(report)
	if err != nil || !strings.Contains(string(body), "plays,8,jane@example.com,plays is not a non-negative integer") {
		t.Errorf("report = %q, %v; want every skipped row", body, err)
	}
	if got, _ := r.Do("GET", "rulehook:{auth0|u004}:plays"); got != "4" {
		t.Errorf("plays of a good row = %v; want 4", got)
	}
}

func TestImportCSVAndMaxModeKeepsLivePlays(t *testing.T) {
	s := startStack(t, nil)
	path := filepath.Join(t.TempDir(), "plays.csv")
	os.WriteFile(path, []byte("user_id,plays\nauth0|live,2\nauth0|other,7\n"), 0o600)
	if code, out := runImportCmd(t, s.redis.URL(), "--from", path); code != 0 {
		t.Fatalf("CSV import = %d; want 0:\n%s", code, out)
	}
	s.recordPlay(t, "auth0|live") // the service is live: 3 plays now
	code, out := runImportCmd(t, s.redis.URL(), "--from", path)
	if code != 0 || !strings.Contains(out, "1 kept (a higher count is live)") {
		t.Errorf("re-import = %d; want 0 with 1 kept:\n%s", code, out)
	}
	if _, body := s.appRequest(t, http.MethodGet, "/playlists/getPlays", "auth0|live", nil); body != "3" {
		t.Errorf("plays after a max re-import = %s; want 3 (the live count)", body)
	}
	runImportCmd(t, s.redis.URL(), "--from", path, "--plays-mode", "set")
	if _, body := s.appRequest(t, http.MethodGet, "/playlists/getPlays", "auth0|live", nil); body != "2" {
		t.Errorf("plays after a set re-import = %s; want 2", body)
	}
}

func TestImportUsageAndConnectionErrorsExit2(t *testing.T) {
	r := redistest.Start(t)
	csvPath := filepath.Join(t.TempDir(), "plays.csv")
	os.WriteFile(csvPath, []byte("user_id,plays\n"), 0o600)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--from", "postgres://music:hunter2-pw@127.0.0.1:1/app?connect_timeout=5"}, "cannot connect to PostgreSQL at 127.0.0.1:1"},
		{[]string{}, "--from is required"},
		{[]string{"--from", csvPath, "--plays-mode", "min"}, "--plays-mode must be set or max"},
		{[]string{"--from", csvPath, "--genres-query", "SELECT 1"}, "need a postgres:// --from"},
		{[]string{"--from", filepath.Join(t.TempDir(), "none.csv")}, "no such file"},
	} {
		code, out := runImportCmd(t, r.URL(), tc.args...)
		if code != 2 || !strings.Contains(out, tc.want) {
			t.Errorf("import %q = %d:\n%s\nwant 2 and %q", tc.args, code, out, tc.want)
		}
		if strings.Contains(out, "hunter2-pw") {
			t.Errorf("import %q printed the password:\n%s", tc.args, out)
		}
	}
	if code, out := runImportCmd(t, "redis://127.0.0.1:1", "--from", csvPath); code != 2 || !strings.Contains(out, "127.0.0.1:1") {
		t.Errorf("import with Redis down = %d:\n%s\nwant 2 naming the address", code, out)
	}
	if code, _ := runImportCmd(t, r.URL(), "-h"); code != 0 {
		t.Errorf("import -h = %d; want 0", code)
	}
}
