package mgmt

import (
	"context"
	"errors"
	"fmt"

	"github.com/rulehook/rulehook/metadata"
)

// writeHeld makes an explicit write through a held queue entry (HoldQueue): hold, PATCH, then
// Done on success or Retry on a failure worth retrying. A later write of the user, made while the
// PATCH is in flight, merges into the entry and is applied by the worker after this PATCH has
// ended, so the newest value always lands last. When the queue cannot hold, the write is made
// directly (the order of concurrent writes is then not guaranteed). The lease outlasts the PATCH
// (bounded by Config.Timeout), so it ends only when the process died mid-write: the worker then
// applies the entry.
func (w *Writer) writeHeld(ctx context.Context, wr metadata.Write) (metadata.Outcome, error) {
	held, ok, err := w.holder.Hold(ctx, w.entryOf(wr), w.holdID, 3*w.cfg.Timeout+w.cfg.QueueReserve)
	switch {
	case err != nil:
		w.log.Debug("queue hold failed; writing directly", metadata.UserAttr(wr.UserID), "error", err)
		return w.writeDirect(ctx, wr)
	case !ok:
		return w.enqueue(ctx, wr, whyPending, nil)
	}
	callCtx, cancel, ok := w.callContext(ctx, w.cfg.QueueReserve)
	if !ok {
		return w.release(ctx, held, wr, "no time left for a call", context.DeadlineExceeded)
	}
	err = w.patchUser(callCtx, wr.UserID, wr.Patch)
	cancel()
	var ce *callError
	switch {
	case err == nil:
		w.ack(ctx, held)
		w.stats.written.Add(1)
		w.audit(ctx, wr.UserID, wr.Reason, wr.RequestID, wr.Patch.Changes(wr.Before))
		return metadata.Written, nil
	case errors.As(err, &ce) && !ce.retryable():
		w.ack(ctx, held) // refused: a value merged in meanwhile is still applied by the worker
		w.stats.failed.Add(1)
		return 0, fmt.Errorf("mgmt: write for %s: %w", metadata.LogID(wr.UserID), err)
	}
	return w.release(ctx, held, wr, "patch failed", err)
}

// release gives a held entry back to the worker after a failed PATCH: due at the rate limit's
// or the parking's end, or now.
func (w *Writer) release(ctx context.Context, held metadata.QueueEntry, wr metadata.Write, why string, cause error) (metadata.Outcome, error) {
	notBefore := w.cfg.Now()
	var ce *callError
	if errors.As(cause, &ce) && ce.reset.After(notBefore) {
		notBefore = ce.reset
	}
	qctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), queueOpTimeout)
	defer cancel()
	if err := w.queue.Retry(qctx, held, notBefore); err != nil {
		w.log.Warn("queue retry failed; the held entry comes back when its lease ends", metadata.UserAttr(wr.UserID), "error", err)
	}
	w.stats.queued.Add(1)
	w.log.Info("metadata write queued", metadata.UserAttr(wr.UserID), "why", why, "reason", wr.Reason,
		"request_id", wr.RequestID, "error", errString(cause))
	w.nudge()
	return metadata.Queued, nil
}

// ack acknowledges a held entry whose PATCH ended; a newer value merged in stays due for the worker.
func (w *Writer) ack(ctx context.Context, held metadata.QueueEntry) {
	qctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), queueOpTimeout)
	defer cancel()
	if err := w.queue.Done(qctx, held); err != nil {
		w.log.Warn("queue done failed; the held entry comes back when its lease ends", metadata.UserAttr(held.UserID), "error", err)
	}
}
