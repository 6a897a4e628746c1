package metadata

import (
	"errors"
	"time"
)

// Statuses of a users-export job (Auth0's GET /api/v2/jobs/{id}).
const (
	ExportPending    = "pending"
	ExportProcessing = "processing"
	ExportCompleted  = "completed"
	ExportFailed     = "failed"
)

// ErrExpired: a link that was valid for a short time (a users-export location lives 60 s) has
// expired before it was used; ask for a fresh one.
var ErrExpired = errors.New("link expired")

// ExportJob is the state of a users-export job, the way to read more users than the listing's
// first 1,000.
type ExportJob struct {
	ID     string
	Status string // ExportPending, ExportProcessing, ExportCompleted or ExportFailed
	// Location is the download link of a completed job; it is valid for a short time only.
	Location string
	// PercentDone and TimeLeft are the tenant's estimate while the job runs (0 when not given).
	PercentDone int
	TimeLeft    time.Duration
	// Details is the tenant's status_details: for a failed job, why it failed.
	Details string
}

// UserStream reads users one at a time, so that a whole tenant never has to be in memory.
type UserStream interface {
	// Next returns the next user, or io.EOF after the last one. Any other error ends the stream.
	Next() (User, error)
	// Close releases the stream (and anything it kept on disk).
	Close() error
}
