package importer_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rulehook/rulehook/metadata/importer"
	"github.com/rulehook/rulehook/metadata/redisstore/redistest"
)

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "plays.csv")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCSVImportSkipsAndNamesBadRows(t *testing.T) {
	t.Parallel()
	store, _ := redistest.Start(t).Open(t)
	path := writeFile(t, "user_id,plays\n"+
		"auth0|a,120\n"+
		",5\n"+
		"auth0|b,-3\n"+
		"auth0|c,12.5\n"+
		"auth0|d,7,extra\n"+
		"\"auth0|e\",99\n"+
		"auth0|f\x01,1\n"+
		"auth0|g,\"unterminated\n")
	src, err := importer.OpenCSV(path)
	if err != nil {
		t.Fatal(err)
	}
	var report bytes.Buffer
	sum, err := importer.Run(context.Background(), src, store, importer.Options{Report: &report})
	if err != nil {
		t.Fatal(err)
	}
	k := sum.PerKind[0]
	if k.Read != 8 || k.Written != 2 || k.Skipped != 6 || sum.Complete() {
		t.Errorf("read %d, written %d, skipped %d, complete %v; want 8, 2, 6, false", k.Read, k.Written, k.Skipped, sum.Complete())
	}
	for id, want := range map[string]int64{"auth0|a": 120, "auth0|e": 99} {
		if got, _ := store.Plays(context.Background(), id); got != want {
			t.Errorf("Plays(%s) = %d; want %d", id, got, want)
		}
	}
	rows, err := csv.NewReader(&report).ReadAll()
	if err != nil {
		t.Fatalf("report is not CSV: %v\n%s", err, report.String())
	}
	wantReasons := []string{"no user_id", "not a non-negative integer", "not a non-negative integer",
		"3 fields", "control character", "not a valid CSV record"}
	if len(rows) != 1+len(wantReasons) {
		t.Fatalf("report has %d lines; want %d:\n%s", len(rows), 1+len(wantReasons), report.String())
	}
	for i, want := range wantReasons {
		if !strings.Contains(rows[i+1][3], want) {
			t.Errorf("report line %d = %v; want a reason with %q", i+1, rows[i+1], want)
		}
	}
	if rows[1][1] != "3" || rows[3][2] != "auth0|c" {
		t.Errorf("report names %v and %v; want row 3 and user auth0|c", rows[1], rows[3])
	}
	var out bytes.Buffer
	sum.Print(&out)
	if !strings.Contains(out.String(), `plays row 4, user "auth0|b": plays is not a non-negative integer`) {
		t.Errorf("summary does not name the bad row:\n%s", out.String())
	}
}

func TestCSVHeaderRequired(t *testing.T) {
	t.Parallel()
	for _, body := range []string{"", "user,count\nauth0|a,1\n", "auth0|a,1\n"} {
		if _, err := importer.OpenCSV(writeFile(t, body)); !errors.Is(err, importer.ErrUsage) {
			t.Errorf("OpenCSV(%q) = %v; want ErrUsage", body, err)
		}
	}
	if _, err := importer.OpenCSV(filepath.Join(t.TempDir(), "missing.csv")); !errors.Is(err, importer.ErrUsage) {
		t.Errorf("OpenCSV(missing) = %v; want ErrUsage", err)
	}
}

func TestDryRunWritesNothing(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	store, _ := srv.Open(t)
	src, _ := importer.OpenCSV(writeFile(t, "user_id,plays\nauth0|a,1\nauth0|b,2\n"))
	sum, err := importer.Run(context.Background(), src, store, importer.Options{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := srv.Do("DBSIZE"); n != int64(0) || sum.PerKind[0].Written != 2 {
		t.Errorf("dry run: DBSIZE %v, to write %d; want 0 and 2", n, sum.PerKind[0].Written)
	}
}

// playsCSV opens a CSV source of n users prefix0..prefix<n-1>, each with as many plays as its
// number.
func playsCSV(t *testing.T, prefix string, n int) importer.Source {
	t.Helper()
	var b strings.Builder
	b.WriteString("user_id,plays\n")
	for i := range n {
		fmt.Fprintf(&b, "%s%d,%d\n", prefix, i, i)
	}
	src, err := importer.OpenCSV(writeFile(t, b.String()))
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// secondPerRead is a clock that moves a second each time it is read.
func secondPerRead() func() time.Time {
	now := time.Unix(0, 0)
	return func() time.Time { now = now.Add(time.Second); return now }
}

// TestProgressPlainLines drives the progress line with a clock that moves a second each time it
// is read (once every 256 rows), so a plain line is due every other read.
func TestProgressPlainLines(t *testing.T) {
	t.Parallel()
	store, _ := redistest.Start(t).Open(t)
	src, clock := playsCSV(t, "auth0|p", 2048), secondPerRead()
	var progress bytes.Buffer
	_, err := importer.Run(context.Background(), src, store, importer.Options{
		Progress: &progress, ProgressEvery: 2 * time.Second, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(progress.String()), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "plays: 512 of 2048 rows, ") {
		t.Fatalf("progress = %q; want 4 plain lines, the first at 512 rows", progress.String())
	}
	if !strings.Contains(lines[0], " of 2048 rows, ") || !strings.Contains(lines[0], "rows/s, ETA ") {
		t.Errorf("progress line %q lacks the total, the rate or the ETA", lines[0])
	}
	if strings.Contains(progress.String(), "\r") {
		t.Errorf("progress to a non-terminal rewrites the line: %q", progress.String())
	}
}

func TestProgressOnATerminalRewritesOneLine(t *testing.T) {
	t.Parallel()
	store, _ := redistest.Start(t).Open(t)
	src, clock := playsCSV(t, "auth0|t", 1024), secondPerRead()
	var progress bytes.Buffer
	if _, err := importer.Run(context.Background(), src, store, importer.Options{Progress: &progress, Terminal: true, Now: clock}); err != nil {
		t.Fatal(err)
	}
	got := progress.String()
	if strings.Count(got, "\n") != 1 || !strings.HasSuffix(got, "\n") || strings.Count(got, "\r") < 4 {
		t.Errorf("terminal progress = %q; want the line rewritten with \\r and one newline at the end", got)
	}
	if !strings.Contains(got, "plays: 1024 of 1024 rows, ") {
		t.Errorf("terminal progress = %q; want a last line at 1024 of 1024", got)
	}
}
