package bench

import (
	"context"
	"errors"
	"math"
	"math/bits"
	"net"
	"strconv"
	"sync/atomic"
	"time"
)

// histogram counts durations (nanoseconds) in log-linear buckets: exact below 256 ns, then 128
// buckets per power of two, so a reported value is within 0.4 % of a recorded one. Memory is fixed
// (about 35 KB) whatever the number of samples, and adding is lock-free.
type histogram struct {
	counts [histBuckets]atomic.Uint64
	n      atomic.Uint64
	max    atomic.Int64
}

const (
	histSubBits = 7
	histSub     = 1 << histSubBits // buckets per power of two
	histMaxExp  = 32               // covers up to 2^40 ns (about 18 minutes); larger values clamp
	histBuckets = (histMaxExp + 2) * histSub
)

// bucketOf maps v >= 0 to its bucket: index v below 2*histSub, then e*histSub + v>>e.
func bucketOf(v int64) int {
	if v < 0 {
		v = 0
	}
	e := bits.Len64(uint64(v)) - histSubBits - 1
	if e < 0 {
		e = 0
	}
	i := e*histSub + int(v>>e)
	if i >= histBuckets {
		return histBuckets - 1
	}
	return i
}

// bucketRange returns the smallest value of bucket i and its width.
func bucketRange(i int) (lo, width int64) {
	if i < 2*histSub {
		return int64(i), 1
	}
	e := i/histSub - 1
	m := int64(i - e*histSub)
	return m << e, 1 << e
}

func (h *histogram) add(d time.Duration) {
	v := int64(d)
	h.counts[bucketOf(v)].Add(1)
	h.n.Add(1)
	for {
		m := h.max.Load()
		if v <= m || h.max.CompareAndSwap(m, v) {
			return
		}
	}
}

// quantile returns the nearest-rank q-quantile (0 < q <= 1): the smallest recorded value (to the
// histogram's precision) such that at least q of the samples are at most it. 0 when empty.
func (h *histogram) quantile(q float64) time.Duration {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(n)))
	if rank < 1 {
		rank = 1
	}
	max := h.max.Load()
	if rank >= n {
		return time.Duration(max)
	}
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			lo, w := bucketRange(i)
			return time.Duration(min(lo+(w-1)/2, max))
		}
	}
	return time.Duration(max)
}

// recorder collects one target's results. Requests scheduled before the measured window (warmup)
// count only towards progress.
type recorder struct {
	lat, lag histogram
	total    atomic.Int64 // every answered request, warmup included (progress)
	requests atomic.Int64 // measured requests
	errs     atomic.Int64 // measured errors
	byStatus [600]atomic.Int64
	network  atomic.Int64
	timeout  atomic.Int64
	unsent   atomic.Int64
	elapsed  time.Duration // sum of the measured windows; written by the phase runner only
}

// outcome is one request's result: an HTTP status or a transport error.
type outcome struct {
	status int
	err    error
}

func (r *recorder) add(measured bool, latency time.Duration, o outcome) {
	r.total.Add(1)
	if !measured {
		return
	}
	r.requests.Add(1)
	r.lat.add(latency)
	switch {
	case o.err != nil && isTimeout(o.err):
		r.timeout.Add(1)
	case o.err != nil:
		r.network.Add(1)
	case o.status >= 200 && o.status < 300:
		return
	case o.status > 0 && o.status < len(r.byStatus):
		r.byStatus[o.status].Add(1)
	default:
		r.network.Add(1)
	}
	r.errs.Add(1)
}

// addUnsent counts a measured request the open loop could not send before its window closed.
func (r *recorder) addUnsent() {
	r.requests.Add(1)
	r.unsent.Add(1)
	r.errs.Add(1)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// report summarises the recorder.
func (r *recorder) report(target, mode string) Report {
	rep := Report{
		Target:         target,
		Mode:           mode,
		Requests:       int(r.requests.Load()),
		Errors:         int(r.errs.Load()),
		ErrorsByStatus: map[string]int{},
		Elapsed:        r.elapsed,
		P50:            r.lat.quantile(0.50),
		P90:            r.lat.quantile(0.90),
		P99:            r.lat.quantile(0.99),
		Max:            time.Duration(r.lat.max.Load()),
		LagP99:         r.lag.quantile(0.99),
		LagMax:         time.Duration(r.lag.max.Load()),
	}
	for code := range r.byStatus {
		if n := r.byStatus[code].Load(); n > 0 {
			rep.ErrorsByStatus[strconv.Itoa(code)] = int(n)
		}
	}
	for key, c := range map[string]*atomic.Int64{"network": &r.network, "timeout": &r.timeout, "unsent": &r.unsent} {
		if n := c.Load(); n > 0 {
			rep.ErrorsByStatus[key] = int(n)
		}
	}
	if r.elapsed > 0 {
		rep.RPS = float64(rep.Requests-int(r.unsent.Load())) / r.elapsed.Seconds()
	}
	return rep
}
