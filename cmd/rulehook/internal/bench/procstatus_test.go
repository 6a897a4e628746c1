package bench

import (
	"os"
	"runtime"
	"testing"
)

func TestOwnMemoryFromProc(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("/proc/<pid>/status is Linux only")
	}
	pid := os.Getpid()
	rss, ok := RSS(pid)
	if !ok || rss <= 0 {
		t.Errorf("RSS(own pid) = %d, %v; want > 0, true", rss, ok)
	}
	peak, ok := PeakRSS(pid)
	if !ok || peak <= 0 {
		t.Errorf("PeakRSS(own pid) = %d, %v; want > 0, true", peak, ok)
	}
	if rss%1024 != 0 || peak%1024 != 0 {
		t.Errorf("RSS %d, PeakRSS %d; want whole kB turned into bytes", rss, peak)
	}
}

func TestMemoryOfNoProcess(t *testing.T) {
	for _, read := range []func(int) (int64, bool){RSS, PeakRSS} {
		if got, ok := read(-1); ok {
			t.Errorf("reading pid -1 = %d, true; want ok false", got)
		}
	}
}
