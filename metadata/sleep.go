package metadata

import (
	"context"
	"time"
)

// Sleep waits for d, or returns ctx's error when ctx ends first; d <= 0 only reports ctx's error.
// It is the one pause of the packages that wait for a rate limit or a job (reconcile,
// deploy-action): unlike time.Sleep, a caller that gives up is not held.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
