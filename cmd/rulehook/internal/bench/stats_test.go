package bench

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"testing"
	"time"
)

func TestBucketsCoverEveryValue(t *testing.T) {
	values := []int64{0, 1, 127, 128, 255, 256, 257, 511, 512, 1000, 1 << 20, 123456789, 1<<40 - 1}
	for i := 0; i < 10000; i++ {
		values = append(values, rand.Int64N(1<<40))
	}
	for _, v := range values {
		i := bucketOf(v)
		lo, w := bucketRange(i)
		if v < lo || v >= lo+w {
			t.Fatalf("bucketRange(bucketOf(%d)) = [%d, %d); want it to hold %d", v, lo, lo+w, v)
		}
		if v >= 256 && float64(w)/float64(lo) > 1.0/128 {
			t.Errorf("bucket of %d is %d wide at %d; want at most 1/128 relative", v, w, lo)
		}
	}
	if got, want := bucketOf(1<<50), histBuckets-1; got != want {
		t.Errorf("bucketOf(2^50) = %d; want the last bucket %d", got, want)
	}
}

func within(got, want time.Duration, rel float64) bool {
	d := float64(got - want)
	return d <= rel*float64(want) && -d <= rel*float64(want)
}

func TestQuantilesOfKnownDistributions(t *testing.T) {
	t.Run("1..100ms", func(t *testing.T) {
		var h histogram
		for _, i := range rand.Perm(100) {
			h.add(time.Duration(i+1) * time.Millisecond)
		}
		for _, c := range []struct {
			q    float64
			want time.Duration
		}{{0.5, 50 * time.Millisecond}, {0.9, 90 * time.Millisecond}, {0.99, 99 * time.Millisecond}, {0.01, time.Millisecond}} {
			if got := h.quantile(c.q); !within(got, c.want, 0.004) {
				t.Errorf("quantile(%v) = %v; want %v within 0.4%%", c.q, got, c.want)
			}
		}
		if got, want := h.quantile(1), 100*time.Millisecond; got != want {
			t.Errorf("quantile(1) = %v; want exactly %v (the max)", got, want)
		}
	})
	t.Run("exact below 256ns", func(t *testing.T) {
		var h histogram
		for i := 1; i <= 200; i++ {
			h.add(time.Duration(i))
		}
		for _, c := range []struct {
			q    float64
			want time.Duration
		}{{0.5, 100}, {0.9, 180}, {0.99, 198}, {1, 200}} {
			if got := h.quantile(c.q); got != c.want {
				t.Errorf("quantile(%v) = %v; want %v", c.q, got, c.want)
			}
		}
	})
	t.Run("uniform 1us..10ms, 100000 samples", func(t *testing.T) {
		var h histogram
		for i := 0; i < 100000; i++ {
			h.add(time.Duration(1+rand.Int64N(10000)) * time.Microsecond)
		}
		for _, c := range []struct {
			q    float64
			want time.Duration
		}{{0.5, 5 * time.Millisecond}, {0.9, 9 * time.Millisecond}, {0.99, 9900 * time.Microsecond}} {
			if got := h.quantile(c.q); !within(got, c.want, 0.02) { // sampling noise dominates
				t.Errorf("quantile(%v) = %v; want %v within 2%%", c.q, got, c.want)
			}
		}
	})
	t.Run("a long tail", func(t *testing.T) {
		var h histogram
		for i := 0; i < 990; i++ {
			h.add(time.Millisecond)
		}
		for i := 0; i < 10; i++ {
			h.add(time.Second)
		}
		if got, want := h.quantile(0.99), time.Millisecond; !within(got, want, 0.004) {
			t.Errorf("p99 = %v; want %v (rank 990 is the last fast one)", got, want)
		}
		if got, want := h.quantile(0.991), time.Second; got != want {
			t.Errorf("p99.1 = %v; want %v", got, want)
		}
	})
	t.Run("empty", func(t *testing.T) {
		var h histogram
		if got := h.quantile(0.5); got != 0 {
			t.Errorf("quantile of nothing = %v; want 0", got)
		}
	})
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

var _ net.Error = timeoutErr{}

func TestRecorderClassifiesOutcomes(t *testing.T) {
	var r recorder
	r.add(false, time.Hour, outcome{status: 500}) // warmup: progress only
	r.add(true, time.Millisecond, outcome{status: 200})
	r.add(true, time.Millisecond, outcome{status: 204})
	r.add(true, time.Millisecond, outcome{status: 503})
	r.add(true, time.Millisecond, outcome{status: 503})
	r.add(true, time.Millisecond, outcome{status: 401})
	r.add(true, time.Millisecond, outcome{err: errors.New("connection refused")})
	r.add(true, time.Millisecond, outcome{err: timeoutErr{}})
	r.add(true, time.Millisecond, outcome{err: context.DeadlineExceeded})
	r.addUnsent()
	r.elapsed = time.Second
	rep := r.report(TargetCallout, "test")

	if got, want := r.total.Load(), int64(9); got != want {
		t.Errorf("total = %d; want %d", got, want)
	}
	if got, want := rep.Requests, 9; got != want {
		t.Errorf("Requests = %d; want %d", got, want)
	}
	if got, want := rep.Errors, 7; got != want {
		t.Errorf("Errors = %d; want %d", got, want)
	}
	want := map[string]int{"503": 2, "401": 1, "network": 1, "timeout": 2, "unsent": 1}
	if len(rep.ErrorsByStatus) != len(want) {
		t.Errorf("ErrorsByStatus = %v; want %v", rep.ErrorsByStatus, want)
	}
	for k, n := range want {
		if rep.ErrorsByStatus[k] != n {
			t.Errorf("ErrorsByStatus[%q] = %d; want %d", k, rep.ErrorsByStatus[k], n)
		}
	}
	if got, want := rep.RPS, 8.0; got != want {
		t.Errorf("RPS = %v; want %v (unsent requests were never answered)", got, want)
	}
	if got, want := rep.Max, time.Millisecond; got != want {
		t.Errorf("Max = %v; want %v (warmup not measured)", got, want)
	}
}
