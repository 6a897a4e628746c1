package importer

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/rulehook/rulehook/metadata"
)

// MaxNamed is how many skipped rows a Summary names; a report names them all.
const MaxNamed = 20

// Summary is what Run did.
type Summary struct {
	DryRun bool
	// PerKind holds one entry per kind the source has, in import order.
	PerKind []KindSummary
	// NotImported lists the kinds the source does not have.
	NotImported []Kind
	// Skipped counts every row not imported; Named holds the first MaxNamed of them.
	Skipped int64
	Named   []BadRow
	Elapsed time.Duration
}

// KindSummary counts the rows of one kind. Read = Written + Unchanged + Kept + Skipped.
type KindSummary struct {
	Kind Kind
	Read int64
	// Written rows changed the store (in a dry run: would have been sent to it).
	Written int64
	// Unchanged rows found the value already stored; Kept rows found a higher live play count.
	Unchanged, Kept int64
	Skipped         int64
}

// BadRow is a row that was skipped, and why.
type BadRow struct {
	Kind   Kind
	Num    int64
	UserID string
	Reason string
}

// Complete reports whether every row read was imported.
func (s *Summary) Complete() bool { return s.Skipped == 0 }

// Print writes the summary for a person: counts per kind, the first skipped rows (user ids
// holding an email are hashed), the time taken.
func (s *Summary) Print(w io.Writer) {
	verb := "written"
	if s.DryRun {
		verb = "to write (dry run: nothing written)"
	}
	for _, k := range s.PerKind {
		fmt.Fprintf(w, "%-6s  %d read, %d %s", k.Kind, k.Read, k.Written, verb)
		if k.Kind != Songs { // a user's songs are replaced whole, never compared
			fmt.Fprintf(w, ", %d unchanged", k.Unchanged)
		}
		if k.Kind == Plays {
			fmt.Fprintf(w, ", %d kept (a higher count is live)", k.Kept)
		}
		fmt.Fprintf(w, ", %d skipped\n", k.Skipped)
	}
	for _, k := range s.NotImported {
		fmt.Fprintf(w, "%-6s  not imported: the source has none (for PostgreSQL, give --%s-query)\n", k, k)
	}
	if s.Skipped > 0 {
		fmt.Fprintf(w, "skipped rows (%d; the first %d):\n", s.Skipped, len(s.Named))
		for _, b := range s.Named {
			fmt.Fprintf(w, "  %s row %d, user %q: %s\n", b.Kind, b.Num, metadata.LogID(b.UserID), b.Reason)
		}
	}
	fmt.Fprintf(w, "done in %s\n", s.Elapsed.Round(time.Millisecond))
}

// report writes every skipped row as CSV: kind,row,user_id,reason.
type report struct {
	w   *csv.Writer
	err error
}

func newReport(w io.Writer) *report {
	if w == nil {
		return nil
	}
	r := &report{w: csv.NewWriter(w)}
	r.err = r.w.Write([]string{"kind", "row", "user_id", "reason"})
	return r
}

func (r *report) add(b BadRow) {
	if r == nil || r.err != nil {
		return
	}
	r.err = r.w.Write([]string{string(b.Kind), strconv.FormatInt(b.Num, 10), b.UserID, b.Reason})
}

func (r *report) close() error {
	if r == nil {
		return nil
	}
	r.w.Flush()
	if r.err == nil {
		r.err = r.w.Error()
	}
	if r.err != nil {
		return fmt.Errorf("write the report: %w", r.err)
	}
	return nil
}
