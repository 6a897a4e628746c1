package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/bits"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rulehook/rulehook/cmd/rulehook/internal/every"
)

// Target names used in Report.Target.
const (
	TargetCallout = "callout" // POST /v1/post-login
	TargetHealthz = "healthz" // GET /healthz
)

// Run measures the callout (and /healthz when CompareHealthz) with the load shape of o and returns
// the report. The order is: /healthz for Duration/2, the callout for Duration, /healthz for
// Duration/2 (each target warmed up first when Warmup > 0), so slow drift of the machine weighs on
// both sides of the ratio alike; a compared run takes 2*(Warmup+Duration). The ratio is the
// capacity figure in the closed loop; in the open loop both targets are offered the same Rate, so
// it only shows whether one of them fell behind.
//
// Errors: ErrOptions (wrapped) for invalid options; the error of o.ManagementCalls; ctx.Err() when
// ctx ends early, in which case the report holds what was measured until then and is marked
// Interrupted. Failed requests are never an error of Run: they are counted in the report.
func Run(ctx context.Context, o Options) (Report, error) {
	o, err := o.withDefaults()
	if err != nil {
		return Report{}, err
	}
	users, err := buildUsers(o.Users)
	if err != nil {
		return Report{}, err
	}
	sg, err := newSigner(o.Secret, o.Issuer, o.Audience, users)
	if err != nil {
		return Report{}, err
	}
	client, owned := o.client()
	if owned {
		defer client.CloseIdleConnections()
	}
	r := &runner{o: o, client: client}
	callout := r.calloutTarget(sg)
	healthz := r.healthzTarget()

	var hz *recorder
	if o.CompareHealthz {
		hz = &recorder{}
		r.phase(ctx, healthz, hz, "healthz (before)", o.Warmup, o.Duration/2)
	}
	co := &recorder{}
	calls, err := r.measureCallout(ctx, callout, co)
	if o.CompareHealthz {
		r.phase(ctx, healthz, hz, "healthz (after)", 0, o.Duration-o.Duration/2)
	}

	rep := co.report(TargetCallout, o.mode())
	rep.Users = o.Users
	if calls != nil {
		rep.ManagementCalls, rep.ManagementCallsKnown = *calls, true
	}
	if hz != nil {
		h := hz.report(TargetHealthz, o.mode())
		rep.Healthz = &h
		if h.RPS > 0 {
			rep.Ratio = rep.RPS / h.RPS
		}
	}
	if err == nil {
		err = ctx.Err()
	}
	rep.Interrupted = ctx.Err() != nil
	if rep.Healthz != nil {
		rep.Healthz.Interrupted = rep.Interrupted
	}
	return rep, err
}

// measureCallout runs the callout phase, reading o.ManagementCalls around the measured window.
func (r *runner) measureCallout(ctx context.Context, t target, rec *recorder) (*int64, error) {
	count := r.o.ManagementCalls
	if count == nil {
		r.phase(ctx, t, rec, "callout", r.o.Warmup, r.o.Duration)
		return nil, nil
	}
	if r.o.Warmup > 0 {
		r.phase(ctx, t, &recorder{}, "callout warmup", r.o.Warmup, 0)
	}
	before, err := count(ctx)
	if err != nil {
		return nil, fmt.Errorf("bench: read management API calls: %w", err)
	}
	r.phase(ctx, t, rec, "callout", 0, r.o.Duration)
	if ctx.Err() != nil {
		return nil, nil // interrupted: the count would cover a window the report does not
	}
	after, err := count(ctx)
	if err != nil {
		return nil, fmt.Errorf("bench: read management API calls: %w", err)
	}
	calls := after - before
	return &calls, nil
}

type runner struct {
	o      Options
	client *http.Client
}

// target builds request number seq for one endpoint.
type target func(ctx context.Context, seq uint64) (*http.Request, error)

func (r *runner) calloutTarget(sg *signer) target {
	url := r.o.URL + "/v1/post-login"
	return func(ctx context.Context, seq uint64) (*http.Request, error) {
		i := int(seq % uint64(len(sg.users)))
		u := &sg.users[i]
		tok, err := sg.sign(i)
		if err != nil {
			return nil, err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(u.body))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		return req, nil
	}
}

func (r *runner) healthzTarget() target {
	url := r.o.URL + "/healthz"
	return func(ctx context.Context, _ uint64) (*http.Request, error) {
		return http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	}
}

// do sends one request and drains the answer so the connection is reused.
func (r *runner) do(ctx context.Context, t target, seq uint64) outcome {
	req, err := t(ctx, seq)
	if err != nil {
		return outcome{err: err}
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return outcome{err: err}
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return outcome{status: resp.StatusCode, err: err}
}

// phase runs t for warmup+measure with the configured loop, recording measured requests into rec
// and adding the measured window to rec.elapsed. It returns when every request it started has
// answered (bounded by the request timeout) or ctx ended.
func (r *runner) phase(ctx context.Context, t target, rec *recorder, label string, warmup, measure time.Duration) {
	if ctx.Err() != nil {
		return
	}
	begin := time.Now()
	from := begin.Add(warmup)
	stop := r.progress(label, rec, begin, warmup, measure)
	if r.o.Rate > 0 {
		r.openLoop(ctx, t, rec, begin, from, from.Add(measure))
	} else {
		r.closedLoop(ctx, t, rec, from, from.Add(measure))
	}
	stop()
	if d := time.Since(from); d > 0 && measure > 0 {
		rec.elapsed += d
	}
}

// closedLoop runs Connections workers, each sending its next request when the previous answered,
// until end. Latency is from just before the request is built to the end of the answer.
func (r *runner) closedLoop(ctx context.Context, t target, rec *recorder, from, end time.Time) {
	var wg sync.WaitGroup
	var seq seqCounter
	for range r.o.Connections {
		wg.Go(func() {
			for ctx.Err() == nil {
				start := time.Now()
				if !start.Before(end) {
					return
				}
				o := r.do(ctx, t, seq.next())
				if ctx.Err() != nil {
					return // cancelled, not a failure of the server
				}
				rec.add(!start.Before(from), time.Since(start), o)
			}
		})
	}
	wg.Wait()
}

// openLoop schedules request i at begin + i/Rate until end and hands each to one of Connections
// workers. Latency is measured from the scheduled time, so a late send (all workers busy, or the
// generator itself behind) counts in the latency instead of being omitted; the send lag is
// recorded separately. A request still unsent one request timeout after the window closed is
// counted as "unsent" with the rest of the timetable, so the loop ends by itself even when the
// server hangs.
func (r *runner) openLoop(ctx context.Context, t target, rec *recorder, begin, from, end time.Time) {
	jobs := make(chan time.Time)
	var wg sync.WaitGroup
	var seq seqCounter
	for range r.o.Connections {
		wg.Go(func() {
			for at := range jobs {
				sent := time.Now()
				o := r.do(ctx, t, seq.next())
				if ctx.Err() != nil {
					continue
				}
				measured := !at.Before(from)
				rec.add(measured, time.Since(at), o)
				if measured {
					rec.lag.add(sent.Sub(at))
				}
			}
		})
	}
	defer wg.Wait()
	defer close(jobs)

	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	tt := timetable{begin: begin, rate: int64(r.o.Rate)}
	n := tt.first(end.Sub(begin))
	for i := int64(0); i < n; i++ {
		at := tt.at(i)
		if d := time.Until(at); d > 0 {
			timer.Reset(d)
			select {
			case <-timer.C:
			case <-ctx.Done():
				return
			}
		}
		if !r.dispatch(ctx, jobs, at, end.Add(r.o.Timeout)) {
			if ctx.Err() == nil {
				for range n - max(i, tt.first(from.Sub(begin))) {
					rec.addUnsent()
				}
			}
			return
		}
	}
}

// timetable is the open loop's schedule: request i is due at begin + i/rate seconds, exactly
// (no accumulated rounding).
type timetable struct {
	begin time.Time
	rate  int64
}

func (t timetable) at(i int64) time.Time {
	return t.begin.Add(time.Duration(i/t.rate*int64(time.Second) + i%t.rate*int64(time.Second)/t.rate))
}

// first returns the index of the first request due at or after begin+off (off >= 0).
func (t timetable) first(off time.Duration) int64 {
	hi, lo := bits.Mul64(uint64(off), uint64(t.rate))
	q, rem := bits.Div64(hi, lo, uint64(time.Second))
	if rem > 0 {
		q++
	}
	return int64(q)
}

// dispatch hands at to a worker; false when ctx ended or deadline passed first.
func (r *runner) dispatch(ctx context.Context, jobs chan<- time.Time, at, deadline time.Time) bool {
	select {
	case jobs <- at:
		return true
	default:
	}
	late := time.NewTimer(time.Until(deadline))
	defer late.Stop()
	select {
	case jobs <- at:
		return true
	case <-ctx.Done():
	case <-late.C:
	}
	return false
}

// seqCounter hands out request numbers within one phase (users round-robin).
type seqCounter struct{ n atomic.Uint64 }

func (s *seqCounter) next() uint64 { return s.n.Add(1) - 1 }

// progressInterval is how often progress prints; tests shorten it.
var progressInterval = time.Second

// progress prints one line per second to o.Progress until the returned stop is called.
func (r *runner) progress(label string, rec *recorder, begin time.Time, warmup, measure time.Duration) (stop func()) {
	w := r.o.Progress
	if w == nil {
		return func() {}
	}
	last, lastAt := rec.total.Load(), begin
	return every.Start(progressInterval, func(now time.Time) {
		n := rec.total.Load()
		rps := float64(n-last) / now.Sub(lastAt).Seconds()
		last, lastAt = n, now
		el := now.Sub(begin)
		stage := fmt.Sprintf("%.1fs/%s", (el - warmup).Seconds(), measure)
		if el < warmup {
			stage = fmt.Sprintf("warmup %.1fs/%s", el.Seconds(), warmup)
		}
		fmt.Fprintf(w, "bench: %-16s %-14s %8.0f req/s  %d errors\n", label, stage, rps, rec.errs.Load())
	})
}
