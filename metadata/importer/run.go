package importer

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"time"

	"github.com/rulehook/rulehook/metadata"
)

// DefaultBatch is how many rows (song names, for songs) go to the store in one call.
const DefaultBatch = 1000

// Options tune Run. The zero value imports plays in metadata.PlaysMax mode, DefaultBatch rows
// at a time, with no report and no progress line.
type Options struct {
	// Mode is how imported play counts meet stored ones; metadata.PlaysMax when empty.
	Mode metadata.PlaysMode
	// DryRun reads and checks every row and writes nothing.
	DryRun bool
	// Batch is the number of rows per store call; DefaultBatch when zero.
	Batch int
	// Report, when set, receives every skipped row as CSV (kind,row,user_id,reason).
	Report io.Writer
	// Progress, when set, receives the progress line: rewritten in place when Terminal, else a
	// plain line every ProgressEvery (DefaultProgressEvery when zero).
	Progress      io.Writer
	Terminal      bool
	ProgressEvery time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Run imports every kind src has into st and returns what it did. Rows that fail the checks are
// skipped and counted, never fatal. An error (the source or the store failing, a bad option)
// ends the run: what was written before stays, and running again is safe (every write is
// idempotent). Errors wrap ErrUsage, ErrConnect or metadata.ErrUnavailable, from src or st.
func Run(ctx context.Context, src Source, st Store, opts Options) (*Summary, error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	start := opts.Now()
	r := &runner{st: st, opts: opts, sum: &Summary{DryRun: opts.DryRun}, report: newReport(opts.Report),
		meter: newMeter(opts.Progress, opts.Terminal, opts.ProgressEvery, opts.Now), run: rand.Text()}
	for _, kind := range Kinds {
		if !src.Has(kind) {
			r.sum.NotImported = append(r.sum.NotImported, kind)
			continue
		}
		if err := r.importKind(ctx, src, kind); err != nil {
			r.report.close()
			return r.sum, err
		}
	}
	r.sum.Elapsed = opts.Now().Sub(start)
	return r.sum, r.report.close()
}

func (o *Options) defaults() error {
	switch o.Mode {
	case "":
		o.Mode = metadata.PlaysMax
	case metadata.PlaysSet, metadata.PlaysMax:
	default:
		return fmt.Errorf("%w: plays mode %q: want %q or %q", ErrUsage, o.Mode, metadata.PlaysSet, metadata.PlaysMax)
	}
	if o.Batch <= 0 {
		o.Batch = DefaultBatch
	}
	if o.ProgressEvery <= 0 {
		o.ProgressEvery = DefaultProgressEvery
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return nil
}

// runner is one Run.
type runner struct {
	st     Store
	opts   Options
	sum    *Summary
	report *report
	meter  *meter
	run    string // this run's id, for song lists
	part   int64  // last song list number given
}

func (r *runner) importKind(ctx context.Context, src Source, kind Kind) error {
	total, err := src.Count(ctx, kind)
	if err != nil {
		return err
	}
	r.sum.PerKind = append(r.sum.PerKind, KindSummary{Kind: kind})
	ks := &r.sum.PerKind[len(r.sum.PerKind)-1]
	r.meter.begin(kind, total)
	defer r.meter.end()

	var b batcher
	switch kind {
	case Plays:
		b = newPlaysBatch(r, ks)
	case Genres:
		b = newGenresBatch(r, ks)
	default:
		b = &songsBatch{r: r, ks: ks}
	}
	err = src.Rows(ctx, kind, func(row Row) error {
		ks.Read++
		r.meter.tick()
		return b.add(ctx, row)
	})
	if err != nil {
		return err
	}
	return b.flush(ctx)
}

// batcher collects the good rows of one kind and writes them a batch at a time.
type batcher interface {
	add(ctx context.Context, row Row) error
	flush(ctx context.Context) error
}

// skip records a bad row.
func (r *runner) skip(ks *KindSummary, num int64, userID, reason string) {
	ks.Skipped++
	r.sum.Skipped++
	b := BadRow{Kind: ks.Kind, Num: num, UserID: userID, Reason: reason}
	if len(r.sum.Named) < MaxNamed {
		r.sum.Named = append(r.sum.Named, b)
	}
	r.report.add(b)
}
