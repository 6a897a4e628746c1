package metadata

import "time"

// QueueEntry is a user's pending Management API write in the durable retry queue. There is at
// most one entry per user: a later write for the same user is merged into it.
type QueueEntry struct {
	UserID string `json:"user_id"`
	// Explicit holds values the user chose (Write.Explicit); on a merge the newer value of a key wins.
	Explicit Patch `json:"explicit"`
	// Rerun asks the worker to re-run the rules on the user's current state when it applies the
	// entry; a merge keeps it set once any write set it.
	Rerun bool `json:"rerun"`
	// Reason and RequestID are those of the newest write merged in.
	Reason    string `json:"reason"`
	RequestID string `json:"request_id,omitempty"`
	// Version grows with every merge; a worker acknowledges only the version it applied.
	Version int64 `json:"version"`
	// Attempts counts failed applications since the entry was created.
	Attempts int `json:"attempts"`
	// Enqueued is when the entry was first created.
	Enqueued time.Time `json:"enqueued"`
}
