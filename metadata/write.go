package metadata

import "time"

// Write is one request to change a user's metadata through the Management API.
type Write struct {
	UserID string
	// Patch holds the values to write now.
	Patch Patch
	// Explicit marks values chosen by the user (the app API's displayName): if the write has to be
	// queued, they are kept and the newest explicit value wins. Values that come from the rules are
	// not stored: a queued rule write re-runs the rules on the user's state when it is applied, so
	// a late retry can never apply a stale decision.
	Explicit bool
	// Reason says why: ReasonLogin, ReasonAPI, ReasonPlay, ReasonReconcile.
	Reason string
	// RequestID ties the write to the request that caused it, for logs and the audit trail.
	RequestID string
	// Before is the user as the caller saw it, for the audit trail; it may be the zero User.
	Before User
}

// Reasons for a Write.
const (
	ReasonLogin     = "login"
	ReasonAPI       = "api"
	ReasonPlay      = "play"
	ReasonReconcile = "reconcile"
	ReasonQueue     = "queue"
)

// Outcome is what became of a Write that did not fail. Queued and Merged both mean "stored in the
// retry queue"; only Queued means the Management API could not be reached.
type Outcome int

const (
	// Written: the Management API accepted the PATCH.
	Written Outcome = iota + 1
	// Queued: the write could not be made now (rate limit, outage, breaker, configuration
	// error); it is stored durably and a worker will apply it.
	Queued
	// Merged: the user already had a write pending or in flight, so this one joined it in the
	// queue without a call, to keep the order of the user's writes; a worker applies it next. It
	// is not a failure.
	Merged
)

func (o Outcome) String() string {
	switch o {
	case Written:
		return "written"
	case Queued:
		return "queued"
	case Merged:
		return "merged"
	}
	return "unknown"
}

// AuditEntry records one metadata change rulehook made.
type AuditEntry struct {
	UserID    string    `json:"user_id"`
	Time      time.Time `json:"time"`
	Reason    string    `json:"reason"`
	RequestID string    `json:"request_id,omitempty"`
	Changes   []Change  `json:"changes"`
}
