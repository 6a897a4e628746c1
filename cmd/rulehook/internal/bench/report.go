package bench

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is what one Run measured for one target.
type Report struct {
	// Target is TargetCallout or TargetHealthz; Mode describes the load shape.
	Target, Mode string
	// Users is the number of distinct callout users (callout report only).
	Users int
	// Requests counts the measured requests; Errors those that did not answer 2xx.
	Requests, Errors int
	// ErrorsByStatus counts errors by HTTP status ("503"), "network" (transport failure),
	// "timeout" (Options.Timeout exceeded) or "unsent" (open loop: still no free worker one
	// Timeout after the window closed). Never nil.
	ErrorsByStatus map[string]int
	// Elapsed is the measured time; RPS the requests answered (any status) per second of it.
	Elapsed time.Duration
	RPS     float64
	// Latency of every measured request, errors included: closed loop from send to the end of the
	// answer, open loop from the scheduled time. Percentiles are nearest-rank, within 0.4 %.
	P50, P90, P99, Max time.Duration
	// LagP99 and LagMax (open loop only) are how late requests were sent after their scheduled
	// time; a large lag means the generator, not the server, was the bottleneck.
	LagP99, LagMax time.Duration
	// ManagementCalls is the difference of Options.ManagementCalls over the measured callout
	// window, when ManagementCallsKnown.
	ManagementCalls      int64
	ManagementCallsKnown bool
	// Healthz is the /healthz report when Options.CompareHealthz, and Ratio = RPS / Healthz.RPS.
	Healthz *Report
	Ratio   float64
	// Interrupted is set when the run's context ended before the run did.
	Interrupted bool
}

// ManagementCallsPerLogin returns ManagementCalls / Requests (0 when unknown or no requests).
func (r Report) ManagementCallsPerLogin() float64 {
	if !r.ManagementCallsKnown || r.Requests == 0 {
		return 0
	}
	return float64(r.ManagementCalls) / float64(r.Requests)
}

// Print writes a compact table of r (and r.Healthz) to w; write errors are ignored.
func (r Report) Print(w io.Writer) {
	var b strings.Builder
	head := fmt.Sprintf("rulehook bench: %s", r.Mode)
	if r.Users > 0 {
		head += fmt.Sprintf(", %d users", r.Users)
	}
	if r.Interrupted {
		head += " (interrupted: partial figures)"
	}
	b.WriteString(head + "\n")
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "target\trequests\treq/s\tp50\tp90\tp99\tmax\terrors\ttime\t")
	rows := []Report{r}
	if r.Healthz != nil {
		rows = append(rows, *r.Healthz)
	}
	for _, x := range rows {
		fmt.Fprintf(tw, "%s\t%d\t%.0f\t%s\t%s\t%s\t%s\t%d\t%s\t\n", x.Target, x.Requests, x.RPS,
			fmtDur(x.P50), fmtDur(x.P90), fmtDur(x.P99), fmtDur(x.Max), x.Errors, fmtDur(x.Elapsed))
	}
	tw.Flush()
	for _, x := range rows {
		if x.Errors > 0 {
			fmt.Fprintf(&b, "errors (%s): %s\n", x.Target, fmtErrors(x.ErrorsByStatus))
		}
		if x.LagMax > 0 {
			fmt.Fprintf(&b, "send lag (%s): p99 %s, max %s behind schedule\n", x.Target, fmtDur(x.LagP99), fmtDur(x.LagMax))
		}
	}
	if r.Healthz != nil {
		fmt.Fprintf(&b, "callout/healthz throughput ratio: %.2f\n", r.Ratio)
	}
	if r.ManagementCallsKnown {
		fmt.Fprintf(&b, "management API calls per login: %.3f (%d calls, %d logins)\n",
			r.ManagementCallsPerLogin(), r.ManagementCalls, r.Requests)
	}
	io.WriteString(w, b.String())
}

// fmtErrors lists counts as "503=12 network=1", statuses first.
func fmtErrors(m map[string]int) string {
	keys := slices.Sorted(maps.Keys(m))
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%d", k, m[k]))
	}
	return strings.Join(parts, " ")
}

// fmtDur prints a latency with three significant figures: 812µs, 1.27ms, 12.3ms, 2.50s.
func fmtDur(d time.Duration) string {
	switch {
	case d <= 0:
		return "0"
	case d < time.Microsecond:
		return fmt.Sprintf("%dns", d.Nanoseconds())
	case d < time.Millisecond:
		return fmt.Sprintf("%.0fµs", float64(d)/float64(time.Microsecond))
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
	case d < time.Second:
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.2fs", d.Seconds())
}
