package main

import (
	"bytes"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/rulehook/rulehook/metadata/importer/pgsource/pgtest"
	"github.com/rulehook/rulehook/metadata/redisstore/redistest"
)

// BenchmarkImport runs `rulehook import` as its own process (this test binary acting as
// rulehook, see TestMain) on RULEHOOK_BENCH_USERS users' plays (1,000,000 by default) in a fresh
// PostgreSQL database, into a fresh redis-server, and reports rows/s over the process's whole
// life and its peak resident memory (the kernel's maxrss for the child). Run it with
//
//	go test -run '^$' -bench BenchmarkImport -benchtime 1x ./cmd/rulehook
func BenchmarkImport(b *testing.B) {
	users := 1_000_000
	if v := os.Getenv("RULEHOOK_BENCH_USERS"); v != "" {
		users, _ = strconv.Atoi(v)
	}
	db := pgtest.New(b)
	db.Exec(b, pgtest.SampleSchema)
	db.Exec(b, `INSERT INTO plays SELECT 'auth0|' || md5(i::text), i % 500 FROM generate_series(1, $1) i`, users)
	db.Exec(b, `VACUUM ANALYZE plays`)
	bin, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		r := redistest.Start(b)
		b.StartTimer()
		cmd := exec.Command(bin, "import", "--from", db.URL, "--plays-query", "SELECT user_id, plays FROM plays",
			"--genres-query", "", "--songs-query", "")
		cmd.Env = []string{runMainEnv + "=1", "REDIS_URL=" + r.URL()}
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		start := time.Now()
		if err := cmd.Run(); err != nil {
			b.Fatalf("run %d: %v\n%s", i, err, out.String())
		}
		elapsed := time.Since(start)
		rss := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss // KiB on Linux
		b.ReportMetric(float64(users)/elapsed.Seconds(), "rows/s")
		b.ReportMetric(float64(rss)/1024, "peak-RSS-MiB")
		b.ReportMetric(elapsed.Seconds(), "s/import")
		if i == 0 {
			b.Logf("%s", out.String())
		}
	}
}
