package redisstore

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rulehook/rulehook/metadata"
)

// The durable retry queue of Management API writes: at most one entry per user, merged on Put,
// leased to one consumer at a time, surviving any process. Each user's entry is a hash whose
// explicit values are stored one top-level key per field ("a:<key>", "u:<key>" holding JSON), so
// the merge of Put is a plain HSET inside a script and never re-encodes a value. Scripts read the
// server's clock (TIME) for "now", so replicas with skewed clocks agree on leases. Every key is
// under the tag {rulehook-queue}: one Cluster slot, so no script is ever CROSSSLOT (entry keys are
// computed inside Claim, always on that same slot).

// Entry hash fields other than explicit values.
const (
	fVersion   = "v"
	fAttempts  = "att"
	fEnqueued  = "enq"
	fRerun     = "rerun"
	fReason    = "reason"
	fRequestID = "rid"
	appField   = "a:"
	userField  = "u:"
)

// MaxClaim bounds n in Claim.
const MaxClaim = 1000

const luaNow = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`

var queuePut = newScript(luaNow+`
local v = redis.call('INCR', KEYS[4])
redis.call('HSET', KEYS[1], 'v', v)
redis.call('HSETNX', KEYS[1], 'att', 0)
redis.call('HSETNX', KEYS[1], 'enq', ARGV[5])
if ARGV[2] == '1' then
  redis.call('HSET', KEYS[1], 'rerun', '1')
else
  redis.call('HSETNX', KEYS[1], 'rerun', '0')
end
redis.call('HSET', KEYS[1], 'reason', ARGV[3], 'rid', ARGV[4])
for i = 6, #ARGV, 2 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
end
local score = redis.call('ZSCORE', KEYS[2], ARGV[1])
local leased = redis.call('HEXISTS', KEYS[3], ARGV[1]) == 1
if leased and score and tonumber(score) > now then
  return v
end
redis.call('HDEL', KEYS[3], ARGV[1])
if not score or tonumber(score) > now then
  redis.call('ZADD', KEYS[2], now, ARGV[1])
end
return v
`, true)

// Put stores e for its user, or merges it into the user's pending entry: explicit values are
// merged newest-wins per top-level key (metadata.Patch.Merge), Rerun is OR-ed, Reason and
// RequestID are replaced, Version grows, Attempts and Enqueued are kept. A new entry starts with
// Attempts 0 and Enqueued = e.Enqueued or now. Versions come from one sequence of the queue, so a
// version is never reused, even by a later entry of the same user: a consumer that acknowledges
// late can never delete an entry it did not apply. The entry is due now, unless a
// consumer holds an unexpired lease on it: that consumer's Done then makes it due again. e.Version
// and e.Attempts are ignored. Errors wrap metadata.ErrInvalid (bad user id, a value that is not
// JSON) or metadata.ErrUnavailable.
func (s *Store) Put(ctx context.Context, e metadata.QueueEntry) error {
	args, err := entryArgs(e)
	if err != nil {
		return err
	}
	keys := []string{queueEntryKey(e.UserID), queueSched, queueLeases, queueSeq}
	return fail("queue put", queuePut.run(ctx, s.rdb, keys, args...).Err())
}

// entryArgs are the arguments of queuePut for e: user, rerun, reason, request id, enqueued, then
// the explicit values as field/JSON pairs.
func entryArgs(e metadata.QueueEntry) ([]any, error) {
	if err := metadata.ValidateUserID(e.UserID); err != nil {
		return nil, err
	}
	enqueued := e.Enqueued
	if enqueued.IsZero() {
		enqueued = time.Now()
	}
	args := []any{e.UserID, boolArg(e.Rerun), e.Reason, e.RequestID, enqueued.UTC().Format(time.RFC3339Nano)}
	var err error
	if args, err = appendFields(args, appField, e.Explicit.AppMetadata); err != nil {
		return nil, err
	}
	return appendFields(args, userField, e.Explicit.UserMetadata)
}

func appendFields(args []any, prefix string, m map[string]any) ([]any, error) {
	for _, k := range slices.Sorted(maps.Keys(m)) {
		b, err := json.Marshal(m[k])
		if err != nil {
			return nil, fmt.Errorf("%w: queued value of %q is not JSON: %v", metadata.ErrInvalid, k, err)
		}
		args = append(args, prefix+k, string(b))
	}
	return args, nil
}

func boolArg(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

var queueClaim = newScript(luaNow+`
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[2]))
local out = {}
for _, uid in ipairs(ids) do
  local key = ARGV[1] .. uid
  local fields = redis.call('HGETALL', key)
  if #fields == 0 then
    redis.call('ZREM', KEYS[1], uid)
    redis.call('HDEL', KEYS[2], uid)
  else
    redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), uid)
    redis.call('HSET', KEYS[2], uid, redis.call('HGET', key, 'v') .. ' ' .. ARGV[4])
    out[#out + 1] = {uid, fields}
  end
end
return out
`, false)

// Claim leases up to n due entries to consumer for lease and returns them, oldest due first. An
// entry stays with its consumer until Done, Retry or the end of the lease, whichever comes
// first; no other Claim returns it meanwhile, so one user is worked on by one consumer at a time
// across all replicas. After the lease ends the entry is due again for anyone. The lease must be
// longer than a consumer needs to apply an entry. Errors wrap metadata.ErrInvalid (n outside
// 1..MaxClaim, lease under a millisecond, empty consumer) or metadata.ErrUnavailable; after an
// error the entries may be leased anyway and come back when the lease ends.
func (s *Store) Claim(ctx context.Context, consumer string, n int, lease time.Duration) ([]metadata.QueueEntry, error) {
	switch {
	case consumer == "" || strings.ContainsAny(consumer, " \r\n"):
		return nil, fmt.Errorf("%w: consumer must be a non-empty name without spaces", metadata.ErrInvalid)
	case n < 1 || n > MaxClaim:
		return nil, fmt.Errorf("%w: claim between 1 and %d entries", metadata.ErrInvalid, MaxClaim)
	case lease < time.Millisecond:
		return nil, fmt.Errorf("%w: lease must be at least a millisecond", metadata.ErrInvalid)
	}
	reply, err := queueClaim.run(ctx, s.rdb, []string{queueSched, queueLeases},
		queueEntry, n, lease.Milliseconds(), consumer).Slice()
	if err != nil {
		return nil, fail("queue claim", err)
	}
	out := make([]metadata.QueueEntry, 0, len(reply))
	for _, item := range reply {
		pair, _ := item.([]any)
		if len(pair) != 2 {
			return nil, fmt.Errorf("redis queue claim: %w: unexpected reply", metadata.ErrUnavailable)
		}
		uid, _ := pair[0].(string)
		flat, _ := pair[1].([]any)
		f := make(map[string]string, len(flat)/2)
		for i := 0; i+1 < len(flat); i += 2 {
			k, _ := flat[i].(string)
			v, _ := flat[i+1].(string)
			f[k] = v
		}
		e, err := parseEntry(uid, f)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

var queueDone = newScript(luaNow+`
local v = redis.call('HGET', KEYS[1], 'v')
if not v or v == ARGV[2] then
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[2], ARGV[1])
  redis.call('HDEL', KEYS[3], ARGV[1])
  return 1
end
local lease = redis.call('HGET', KEYS[3], ARGV[1])
if lease and string.match(lease, '^%d+') == ARGV[2] then
  redis.call('HDEL', KEYS[3], ARGV[1])
  redis.call('ZADD', KEYS[2], now, ARGV[1])
end
return 0
`, true)

// Done acknowledges that e (as returned by Claim) was applied: the user's entry is deleted if its
// version is still e.Version; if a Put merged a newer version meanwhile, the entry stays and is due
// now, so the newer values are applied next. A lease taken by another consumer on a newer version
// is left alone. Errors wrap metadata.ErrInvalid or metadata.ErrUnavailable.
func (s *Store) Done(ctx context.Context, e metadata.QueueEntry) error {
	if err := metadata.ValidateUserID(e.UserID); err != nil {
		return err
	}
	keys := []string{queueEntryKey(e.UserID), queueSched, queueLeases}
	return fail("queue done", queueDone.run(ctx, s.rdb, keys, e.UserID, e.Version).Err())
}

var queueRetry = newScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local lease = redis.call('HGET', KEYS[3], ARGV[1])
if lease and string.match(lease, '^%d+') ~= ARGV[2] then return 0 end
redis.call('HINCRBY', KEYS[1], 'att', 1)
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
return 1
`, false)

// Retry gives back e (as returned by Claim) after a failed application: the lease is dropped,
// Attempts grows by one and the entry is due at notBefore (with every value merged into it since).
// It does nothing when the entry is gone or another consumer holds a lease on a newer version.
// Errors wrap metadata.ErrInvalid or metadata.ErrUnavailable.
func (s *Store) Retry(ctx context.Context, e metadata.QueueEntry, notBefore time.Time) error {
	if err := metadata.ValidateUserID(e.UserID); err != nil {
		return err
	}
	keys := []string{queueEntryKey(e.UserID), queueSched, queueLeases}
	return fail("queue retry", queueRetry.run(ctx, s.rdb, keys, e.UserID, e.Version, notBefore.UnixMilli()).Err())
}

var queueHold = newScript(luaNow+`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local v = redis.call('INCR', KEYS[4])
redis.call('HSET', KEYS[1], 'v', v, 'att', 0, 'rerun', ARGV[4], 'reason', ARGV[5], 'rid', ARGV[6], 'enq', ARGV[7])
for i = 8, #ARGV, 2 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
end
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[1]), ARGV[3])
redis.call('HSET', KEYS[3], ARGV[3], v .. ' ' .. ARGV[2])
return v
`, false)

// Hold stores e as the user's entry, already leased to consumer for lease, when the user has no
// entry. The caller then applies it itself and acknowledges it with Done or Retry (with the
// returned entry, whose Version is set); until then no Claim hands it out, and a Put merges into
// it, so that every later write of the user waits behind it in the queue. held is false, and
// nothing is stored, when the user has an entry already. Errors are those of Put, and
// metadata.ErrInvalid for an empty consumer or a lease under a millisecond.
func (s *Store) Hold(ctx context.Context, e metadata.QueueEntry, consumer string, lease time.Duration) (metadata.QueueEntry, bool, error) {
	if consumer == "" || strings.ContainsAny(consumer, " \r\n") || lease < time.Millisecond {
		return e, false, fmt.Errorf("%w: hold needs a consumer without spaces and a lease of at least 1ms", metadata.ErrInvalid)
	}
	args, err := entryArgs(e)
	if err != nil {
		return e, false, err
	}
	args = append([]any{lease.Milliseconds(), consumer}, args...)
	keys := []string{queueEntryKey(e.UserID), queueSched, queueLeases, queueSeq}
	v, err := queueHold.run(ctx, s.rdb, keys, args...).Int64()
	if err != nil {
		return e, false, fail("queue hold", err)
	}
	e.Version = v
	return e, v > 0, nil
}

// Depth returns the number of users with a pending entry, leased or not.
func (s *Store) Depth(ctx context.Context) (int64, error) {
	n, err := s.rdb.ZCard(ctx, queueSched).Result()
	return n, fail("queue depth", err)
}

// Pending returns the user's pending entry, or an error wrapping metadata.ErrNotFound when there
// is none (metadata.ErrUnavailable when Redis fails). It is for inspection: it leases nothing.
func (s *Store) Pending(ctx context.Context, userID string) (metadata.QueueEntry, error) {
	if err := metadata.ValidateUserID(userID); err != nil {
		return metadata.QueueEntry{}, err
	}
	f, err := s.rdb.HGetAll(ctx, queueEntryKey(userID)).Result()
	if err != nil {
		return metadata.QueueEntry{}, fail("queue pending", err)
	}
	if len(f) == 0 {
		return metadata.QueueEntry{}, fmt.Errorf("queue entry of the user: %w", metadata.ErrNotFound)
	}
	return parseEntry(userID, f)
}

func parseEntry(uid string, f map[string]string) (metadata.QueueEntry, error) {
	e := metadata.QueueEntry{
		UserID:    uid,
		Rerun:     f[fRerun] == "1",
		Reason:    f[fReason],
		RequestID: f[fRequestID],
	}
	var err1, err2, err3 error
	e.Version, err1 = strconv.ParseInt(f[fVersion], 10, 64)
	e.Attempts, err2 = strconv.Atoi(f[fAttempts])
	e.Enqueued, err3 = time.Parse(time.RFC3339Nano, f[fEnqueued])
	if err1 != nil || err2 != nil || err3 != nil {
		return e, fmt.Errorf("redis queue: %w: malformed entry", metadata.ErrInvalid)
	}
	for k, raw := range f {
		var m *map[string]any
		var key string
		switch {
		case strings.HasPrefix(k, appField):
			m, key = &e.Explicit.AppMetadata, strings.TrimPrefix(k, appField)
		case strings.HasPrefix(k, userField):
			m, key = &e.Explicit.UserMetadata, strings.TrimPrefix(k, userField)
		default:
			continue
		}
		v, err := decodeJSON(raw)
		if err != nil {
			return e, fmt.Errorf("redis queue: %w: malformed value of %q", metadata.ErrInvalid, key)
		}
		if *m == nil {
			*m = map[string]any{}
		}
		(*m)[key] = v
	}
	return e, nil
}

// decodeJSON decodes a stored value, keeping numbers exact (json.Number).
func decodeJSON(raw string) (any, error) {
	d := json.NewDecoder(bytes.NewReader([]byte(raw)))
	d.UseNumber()
	var v any
	err := d.Decode(&v)
	return v, err
}
