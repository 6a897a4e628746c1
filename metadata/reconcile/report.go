package reconcile

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/rulehook/rulehook/metadata"
)

// Summary counts what a run did. Every user listed by the run lands in exactly one of Written,
// Queued, Unchanged, Failed, Skipped and Planned.
type Summary struct {
	// RunID is the request id of the run's writes in the audit trail; a resumed run keeps the id
	// of the run it resumes.
	RunID string
	// Resumed is true when the run started from a checkpoint, at page StartPage.
	Resumed   bool
	StartPage int
	// Total is the tenant's user count as the last listing reported it.
	Total int
	// Users is how many users this run listed.
	Users int
	// Written: PATCHed. Queued: stored in the retry queue for the writer's worker.
	Written, Queued int
	// Unchanged: already in line with the rules, nothing written.
	Unchanged int
	// Failed: not written (a write refused or failed, a bad user id, a user that could not be
	// re-read). They are left for the next run or the user's next login.
	Failed int
	// Skipped: already handled, by the interrupted run this one resumed or earlier in this run (a
	// user listed twice because users created or deleted meanwhile shifted the pages).
	Skipped int
	// Planned: users a DryRun would write.
	Planned int
	// PlaysUnknown: users whose play count could not be read; their roles were left as they are
	// (their displayName may still have been set). They are counted in one of the fields above too.
	PlaysUnknown int
	// Unrecorded: users who hold playlist_editor while no play count is recorded for them; the
	// role was kept (CONTRACT rule 6). They are counted in one of the fields above too.
	Unrecorded int
	// Elapsed is the run's duration.
	Elapsed time.Duration
}

// String is a one-line account of the run, for the end of `rulehook reconcile`.
func (s Summary) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "reconcile %s: %d users", s.RunID, s.Users)
	if s.Resumed {
		fmt.Fprintf(&b, " (resumed at page %d)", s.StartPage)
	}
	fmt.Fprintf(&b, ", %d written, %d queued, %d unchanged, %d failed, %d skipped", s.Written, s.Queued, s.Unchanged, s.Failed, s.Skipped)
	if s.Planned > 0 {
		fmt.Fprintf(&b, ", %d planned", s.Planned)
	}
	if s.PlaysUnknown > 0 {
		fmt.Fprintf(&b, ", %d with unreadable plays (roles kept)", s.PlaysUnknown)
	}
	if s.Unrecorded > 0 {
		fmt.Fprintf(&b, ", %d editors with no recorded play count (role kept; restore their counts)", s.Unrecorded)
	}
	fmt.Fprintf(&b, " in %s", s.Elapsed.Round(time.Millisecond))
	return b.String()
}

// progressLocked writes one progress line; r.mu must be held.
func (r *runner) progressLocked() {
	if r.opts.Progress == nil {
		return
	}
	s := r.sum
	elapsed := r.now().Sub(r.start)
	done := r.base + s.Users
	total := max(s.Total, done)
	rate := 0.0
	if sec := elapsed.Seconds(); sec > 0 {
		rate = float64(s.Written+s.Queued) / sec
	}
	eta := "?"
	if s.Users > 0 {
		left := time.Duration(float64(elapsed) / float64(s.Users) * float64(total-done))
		eta = left.Round(time.Second).String()
	}
	pct := 100.0
	if total > 0 {
		pct = 100 * float64(done) / float64(total)
	}
	fmt.Fprintf(r.opts.Progress, "reconcile: %d/%d users (%.0f%%), %d written, %d queued, %d unchanged, %d failed, %d skipped",
		done, total, pct, s.Written, s.Queued, s.Unchanged, s.Failed, s.Skipped)
	if r.opts.DryRun {
		fmt.Fprintf(r.opts.Progress, ", %d planned", s.Planned)
	}
	fmt.Fprintf(r.opts.Progress, ", %.1f writes/s, ETA %s\n", rate, eta)
}

// notePause says once per pause (and again if the pause is extended) that the run waits for the
// Management API's rate limit.
func (r *runner) notePause(reset time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.opts.Progress == nil || (r.pausing && !reset.After(r.pausedUntil)) {
		return
	}
	r.pausing, r.pausedUntil = true, reset
	if reset.IsZero() {
		fmt.Fprintf(r.opts.Progress, "reconcile: paused: management api rate limit nearly spent\n")
		return
	}
	fmt.Fprintf(r.opts.Progress, "reconcile: paused: management api rate limited until %s\n", reset.UTC().Format(time.RFC3339))
}

// noteOpen records that the gate is open again.
func (r *runner) noteOpen() {
	r.mu.Lock()
	r.pausing = false
	r.mu.Unlock()
}

// changesLocked writes one line per changed key to Options.Changes; r.mu must be held.
func (r *runner) changesLocked(userID string, changes []metadata.Change, outcome string) {
	if r.opts.Changes == nil {
		return
	}
	for _, c := range changes {
		fmt.Fprintf(r.opts.Changes, "%s %s.%s: %s -> %s (%s)\n", userID, c.Object, c.Key, show(c.Before), show(c.After), outcome)
	}
}

func show(v any) string {
	if v == nil {
		return "(absent)"
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%v", v)
	}
	return string(b)
}
