package mgmt

import (
	"context"
	"time"

	"github.com/rulehook/rulehook/metadata"
)

// Queue is the durable per-user retry queue (metadata/redisstore implements it). Implementations
// wrap metadata.ErrUnavailable when their backend fails.
type Queue interface {
	// Put stores e, merging it into the user's existing entry (explicit values newer-wins, Rerun
	// OR-ed, version incremented); the entry is due now.
	Put(ctx context.Context, e metadata.QueueEntry) error
	// Claim leases up to n due entries to consumer for lease; a leased entry is not handed out
	// again until the lease expires.
	Claim(ctx context.Context, consumer string, n int, lease time.Duration) ([]metadata.QueueEntry, error)
	// Done deletes e if its version is still e.Version, and otherwise only drops the lease so the
	// newer version is claimed next.
	Done(ctx context.Context, e metadata.QueueEntry) error
	// Retry drops the lease, counts a failed attempt and makes e due at notBefore.
	Retry(ctx context.Context, e metadata.QueueEntry, notBefore time.Time) error
	// Depth is the number of entries in the queue.
	Depth(ctx context.Context) (int64, error)
}

// PendingQueue is implemented by a Queue that can show a user's entry (redisstore.Store does).
// When the Queue given to New implements it, Write queues a user's write instead of PATCHing while
// an entry for that user exists (see the package documentation). Pending returns an error wrapping
// metadata.ErrNotFound when the user has no entry. A Queue without it still works; the direct
// write then races the entry, which is safe for rule writes and newest-wins only by luck for
// explicit ones.
type PendingQueue interface {
	Pending(ctx context.Context, userID string) (metadata.QueueEntry, error)
}

// HoldQueue is implemented by a Queue that can store an entry already leased to its writer
// (redisstore.Store does). With it, an explicit write (a displayName the user chose) is first
// held in the queue, then PATCHed, then acknowledged: every later write of that user merges into
// the held entry instead of racing the PATCH, so the newest value wins whatever order the PATCHes
// fail or succeed in (see the package documentation). Hold returns held false, storing nothing,
// when the user has an entry already.
type HoldQueue interface {
	Hold(ctx context.Context, e metadata.QueueEntry, consumer string, lease time.Duration) (metadata.QueueEntry, bool, error)
}

// PlayReader reads a user's play count, for the worker's re-run of the rules.
type PlayReader interface {
	// PlayCount returns the count, not Recorded when none is stored: the roles are then left as
	// they are (CONTRACT rule 6). An error leaves the entry queued: an outage never demotes anyone.
	PlayCount(ctx context.Context, userID string) (metadata.PlayCount, error)
}

// Auditor records the metadata changes rulehook makes (optional).
type Auditor interface {
	AppendAudit(ctx context.Context, e metadata.AuditEntry) error
}
