package bench

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// The bench commands report the memory of the processes they start (the self-started rulehook,
// a `rulehook reconcile` child) and of themselves from /proc/<pid>/status. That file exists only
// on Linux: elsewhere, and for a process that has gone, PeakRSS and RSS report ok false and the
// commands print no memory figures.

// PeakRSS returns the peak resident set size of process pid in bytes (VmHWM).
func PeakRSS(pid int) (bytes int64, ok bool) { return procStatus(pid, "VmHWM:") }

// RSS returns the current resident set size of process pid in bytes (VmRSS).
func RSS(pid int) (bytes int64, ok bool) { return procStatus(pid, "VmRSS:") }

// procStatus reads one kB figure (VmHWM:, VmRSS:) of a process from /proc (Linux only).
func procStatus(pid int, field string) (int64, bool) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10, err == nil
		}
	}
	return 0, false
}
