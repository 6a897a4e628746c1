package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/redis/go-redis/v9"

	"github.com/rulehook/rulehook/metadata"
)

// The audit trail is kept twice, in capped Streams (XADD MAXLEN ~, so trimming is cheap and the
// caps approximate): one per user, rulehook:{<user_id>}:audit, so a user's history is a single
// XREVRANGE on the user's own slot however busy the tenant is; and one for the whole tenant,
// rulehook:audit, for "what did rulehook change lately" and for following changes as they happen
// (XREAD). Changes are rare (they are bounded by the Management API's write limits), so the
// second XADD costs nothing that matters.

// Default caps of the audit streams.
const (
	DefaultAuditMaxLen     = 100_000
	DefaultUserAuditMaxLen = 1_000
)

// MaxAuditRead bounds n in Audit.
const MaxAuditRead = 10_000

// WithAuditMaxLen caps the tenant-wide audit stream at about n entries (DefaultAuditMaxLen).
func WithAuditMaxLen(n int64) Option {
	return func(s *Store) {
		if n > 0 {
			s.auditMaxLen = n
		}
	}
}

// WithUserAuditMaxLen caps each user's audit stream at about n entries (DefaultUserAuditMaxLen).
func WithUserAuditMaxLen(n int64) Option {
	return func(s *Store) {
		if n > 0 {
			s.userAuditMaxLen = n
		}
	}
}

// Stream entry fields.
const (
	aUser      = "user_id"
	aTime      = "time"
	aReason    = "reason"
	aRequestID = "request_id"
	aChanges   = "changes"
)

// AppendAudit records a metadata change in the user's audit stream and in the tenant's. A zero
// a.Time is now. The caller keeps tokens and emails out of a.Changes. A failed append is never
// re-sent by the client, so an entry is not recorded twice; it may be missing from one stream.
// Errors wrap metadata.ErrInvalid (bad user id, a value that is not JSON) or
// metadata.ErrUnavailable.
func (s *Store) AppendAudit(ctx context.Context, a metadata.AuditEntry) error {
	pipe := s.rdb.Pipeline()
	if err := s.addAudit(ctx, pipe, a); err != nil {
		return err
	}
	_, err := pipe.Exec(ctx)
	return fail("append audit", err)
}

// addAudit queues on pipe the two XADDs that AppendAudit sends, wrapped in once; it queues
// nothing and returns the error when a is not valid (as AppendAudit's ErrInvalid).
func (s *Store) addAudit(ctx context.Context, pipe redis.Pipeliner, a metadata.AuditEntry) error {
	if err := metadata.ValidateUserID(a.UserID); err != nil {
		return err
	}
	if a.Time.IsZero() {
		a.Time = time.Now()
	}
	changes := a.Changes
	if changes == nil {
		changes = []metadata.Change{}
	}
	body, err := json.Marshal(changes)
	if err != nil {
		return fmt.Errorf("%w: audit changes are not JSON: %v", metadata.ErrInvalid, err)
	}
	values := []any{aUser, a.UserID, aTime, a.Time.UTC().Format(time.RFC3339Nano),
		aReason, a.Reason, aRequestID, a.RequestID, aChanges, string(body)}
	for _, stream := range []struct {
		key    string
		maxLen int64
	}{{userAuditKey(a.UserID), s.userAuditMaxLen}, {auditStream, s.auditMaxLen}} {
		args := append([]any{"xadd", stream.key, "maxlen", "~", stream.maxLen, "*"}, values...)
		_ = pipe.Process(ctx, once{redis.NewStringCmd(ctx, args...)})
	}
	return nil
}

// Audit returns the n most recent audit entries of userID, newest first, or of every user when
// userID is "". Errors wrap metadata.ErrInvalid (n outside 1..MaxAuditRead, a bad user id,
// a malformed stored entry) or metadata.ErrUnavailable.
func (s *Store) Audit(ctx context.Context, userID string, n int) ([]metadata.AuditEntry, error) {
	if n < 1 || n > MaxAuditRead {
		return nil, fmt.Errorf("%w: read between 1 and %d audit entries", metadata.ErrInvalid, MaxAuditRead)
	}
	key := auditStream
	if userID != "" {
		if err := metadata.ValidateUserID(userID); err != nil {
			return nil, err
		}
		key = userAuditKey(userID)
	}
	msgs, err := s.rdb.XRevRangeN(ctx, key, "+", "-", int64(n)).Result()
	if err != nil {
		return nil, fail("audit", err)
	}
	out := make([]metadata.AuditEntry, 0, len(msgs))
	for _, m := range msgs {
		e, err := parseAudit(m)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

func parseAudit(m redis.XMessage) (metadata.AuditEntry, error) {
	str := func(k string) string { v, _ := m.Values[k].(string); return v }
	e := metadata.AuditEntry{UserID: str(aUser), Reason: str(aReason), RequestID: str(aRequestID)}
	t, err := time.Parse(time.RFC3339Nano, str(aTime))
	if err != nil {
		return e, fmt.Errorf("redis audit: %w: entry %s has no valid time", metadata.ErrInvalid, m.ID)
	}
	e.Time = t
	raw, err := decodeJSON(str(aChanges))
	if err != nil {
		return e, fmt.Errorf("redis audit: %w: entry %s has malformed changes", metadata.ErrInvalid, m.ID)
	}
	list, _ := raw.([]any)
	e.Changes = make([]metadata.Change, 0, len(list))
	for _, item := range list {
		c, _ := item.(map[string]any)
		object, _ := c["object"].(string)
		key, _ := c["key"].(string)
		e.Changes = append(e.Changes, metadata.Change{Object: object, Key: key, Before: c["before"], After: c["after"]})
	}
	return e, nil
}

// CheckpointTTL is how long a reconcile checkpoint and its written-users marker live after their
// last update: a run interrupted for longer starts over.
const CheckpointTTL = 7 * 24 * time.Hour

// Checkpoint returns the checkpoint of the reconcile run called name, or "" when there is none.
// Errors wrap metadata.ErrInvalid (a bad name) or metadata.ErrUnavailable.
func (s *Store) Checkpoint(ctx context.Context, name string) (string, error) {
	if err := checkName(name); err != nil {
		return "", err
	}
	v, err := s.rdb.Get(ctx, checkpointKey(name)).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	return v, fail("checkpoint", err)
}

// SetCheckpoint stores value (for instance the next page to list) as the checkpoint of the run
// called name, for CheckpointTTL. Errors wrap metadata.ErrInvalid or metadata.ErrUnavailable.
func (s *Store) SetCheckpoint(ctx context.Context, name, value string) error {
	if err := checkName(name); err != nil {
		return err
	}
	return fail("set checkpoint", s.rdb.Set(ctx, checkpointKey(name), value, CheckpointTTL).Err())
}

// ClearCheckpoint forgets the checkpoint of the run called name, at the end of a complete run. Errors wrap metadata.ErrInvalid or metadata.ErrUnavailable.
func (s *Store) ClearCheckpoint(ctx context.Context, name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	return fail("clear checkpoint", s.rdb.Del(ctx, checkpointKey(name)).Err())
}

// MaxNameBytes bounds the name of a reconcile run.
const MaxNameBytes = 128

func checkName(name string) error {
	if name == "" || len(name) > MaxNameBytes || strings.IndexFunc(name, unicode.IsControl) >= 0 {
		return fmt.Errorf("%w: a run name has 1 to %d bytes and no control characters", metadata.ErrInvalid, MaxNameBytes)
	}
	return nil
}
