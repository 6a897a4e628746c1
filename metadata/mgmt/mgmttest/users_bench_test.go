package mgmttest_test

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/rulehook/rulehook/metadata/mgmt/mgmttest"
)

// BenchmarkHoldUsers reports what one stored user costs the emulated tenant, the way a reconcile
// bench seeds 100,000 of them: go test -run '^$' -bench HoldUsers ./metadata/mgmt/mgmttest
func BenchmarkHoldUsers(b *testing.B) {
	s := mgmttest.New()
	defer s.Close()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := 0; b.Loop(); i++ {
		s.PutUser(mgmttest.User{ID: fmt.Sprintf("auth0|bench%07d", i),
			AppMetadata:  map[string]any{"roles": []any{"playlist_editor"}},
			UserMetadata: map[string]any{"displayName": "U" + fmt.Sprint(i)}})
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(b.N), "heap-bytes/user")
}
