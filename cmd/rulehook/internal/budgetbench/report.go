package budgetbench

import (
	"fmt"
	"io"
	"time"

	"github.com/rulehook/rulehook/metadata/mgmt"
	"github.com/rulehook/rulehook/metadata/reconcile"
)

// Report is what one Run measured.
type Report struct {
	// Tier is the emulated tenant's rate-limit tier.
	Tier string
	// Logins made, and their outcomes: PATCHed at once, queued (a 429, the gate closed), failed.
	Logins, LoginsWritten, LoginsQueued, LoginsFailed int
	// Users is every seeded user: the logins' and the reconcile's.
	Users int
	// Reconcile is the walk's summary.
	Reconcile reconcile.Summary
	// Worker is the serve side's writer: the queue worker's outcomes among them.
	Worker mgmt.Stats
	// Calls is every Management API request the tenant saw; Calls429 those it answered 429.
	Calls, Calls429 int
	// Load is the time the logins and the reconcile took together, Drain the time the retry queue
	// took to empty after them, Elapsed both.
	Load, Drain, Elapsed time.Duration
	// Landed counts the users holding the change at the end, Missing those without it.
	Landed, Missing int
}

// PerMinute429 is the tenant's 429s per minute of the run.
func (r Report) PerMinute429() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Calls429) / r.Elapsed.Minutes()
}

// Print writes the figures, one per line.
func (r Report) Print(w io.Writer) {
	fmt.Fprintf(w, "tier                 %s\n", r.Tier)
	fmt.Fprintf(w, "logins               %d: %d written, %d queued, %d failed\n", r.Logins, r.LoginsWritten, r.LoginsQueued, r.LoginsFailed)
	fmt.Fprintf(w, "reconcile            %d users: %d written, %d queued, %d unchanged, %d failed\n",
		r.Reconcile.Users, r.Reconcile.Written, r.Reconcile.Queued, r.Reconcile.Unchanged, r.Reconcile.Failed)
	fmt.Fprintf(w, "queue worker         %d applied, %d unchanged, %d put back\n", r.Worker.Applied, r.Worker.Unchanged, r.Worker.Retried)
	fmt.Fprintf(w, "management api calls %d in %s (%.2f/s)\n", r.Calls, r.Elapsed.Round(time.Millisecond), float64(r.Calls)/r.Elapsed.Seconds())
	fmt.Fprintf(w, "answered 429         %d (%.2f per minute)\n", r.Calls429, r.PerMinute429())
	fmt.Fprintf(w, "time                 load %s, queue drained %s later\n", r.Load.Round(time.Millisecond), r.Drain.Round(time.Millisecond))
	fmt.Fprintf(w, "changes landed       %d of %d users (%d missing)\n", r.Landed, r.Users, r.Missing)
}
