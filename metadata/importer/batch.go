package importer

import (
	"context"
	"fmt"

	"github.com/rulehook/rulehook/metadata"
)

// valueBatch imports one value per row (plays, genres).
type valueBatch[T any] struct {
	r     *runner
	ks    *KindSummary
	check func(Row) (T, string)
	write func(ctx context.Context, rows []T) ([]metadata.ImportOutcome, error)
	user  func(T) string
	rows  []T
	nums  []int64
}

func newPlaysBatch(r *runner, ks *KindSummary) *valueBatch[metadata.PlaysRow] {
	return &valueBatch[metadata.PlaysRow]{r: r, ks: ks, check: checkPlays,
		write: func(ctx context.Context, rows []metadata.PlaysRow) ([]metadata.ImportOutcome, error) {
			return r.st.ImportPlays(ctx, r.opts.Mode, rows)
		},
		user: func(p metadata.PlaysRow) string { return p.UserID }}
}

func newGenresBatch(r *runner, ks *KindSummary) *valueBatch[metadata.UserValue] {
	return &valueBatch[metadata.UserValue]{r: r, ks: ks, check: checkGenre, write: r.st.ImportGenres,
		user: func(v metadata.UserValue) string { return v.UserID }}
}

func (b *valueBatch[T]) add(ctx context.Context, row Row) error {
	v, why := b.check(row)
	if why != "" {
		b.r.skip(b.ks, row.Num, row.UserID, why)
		return nil
	}
	b.rows, b.nums = append(b.rows, v), append(b.nums, row.Num)
	if len(b.rows) < b.r.opts.Batch {
		return nil
	}
	return b.flush(ctx)
}

func (b *valueBatch[T]) flush(ctx context.Context) error {
	defer func() { b.rows, b.nums = b.rows[:0], b.nums[:0] }()
	if len(b.rows) == 0 {
		return nil
	}
	if b.r.opts.DryRun {
		b.ks.Written += int64(len(b.rows))
		return nil
	}
	out, err := b.write(ctx, b.rows)
	if err != nil {
		return fmt.Errorf("write %s (from row %d on): %w", b.ks.Kind, b.nums[0], err)
	}
	for i, o := range out {
		switch o {
		case metadata.ImportWritten:
			b.ks.Written++
		case metadata.ImportUnchanged:
			b.ks.Unchanged++
		case metadata.ImportKept:
			b.ks.Kept++
		default:
			b.r.skip(b.ks, b.nums[i], b.user(b.rows[i]), "the stored play count is not an integer; left alone")
		}
	}
	return nil
}
