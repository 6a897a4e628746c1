package every

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/rulehook/rulehook/metadata/testkit"
)

func TestStartCallsWithEachTickUntilStopped(t *testing.T) {
	var calls atomic.Int64
	var ticks []time.Time // f's alone until stop returns (the race detector checks that)
	stop := Start(time.Millisecond, func(now time.Time) {
		ticks = append(ticks, now)
		calls.Add(1)
	})
	testkit.WaitUntil(t, "three calls", func() bool { return calls.Load() >= 3 })
	stop()
	if got, want := int64(len(ticks)), calls.Load(); got != want {
		t.Fatalf("ticks recorded = %d; want %d, one per call", got, want)
	}
	for i := 1; i < len(ticks); i++ {
		if !ticks[i].After(ticks[i-1]) {
			t.Errorf("tick %d at %v, not after tick %d at %v", i, ticks[i], i-1, ticks[i-1])
		}
	}
}
