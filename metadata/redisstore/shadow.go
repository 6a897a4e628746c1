package redisstore

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rulehook/rulehook/metadata"
)

// Shadow-mode counts live in one hash per hour, rulehook:shadow:<YYYYMMDDHH> (UTC), with the
// fields logins, agreed and one per kind of disagreement, for ShadowTTL. Hours keep a busy
// tenant's counting to one small key per hour whatever the number of logins, and let
// ShadowStats answer "since T" to the hour.

// ShadowTTL is how long an hour of shadow-mode counts is kept.
const ShadowTTL = 90 * 24 * time.Hour

const (
	shadowLogins = "logins"
	shadowAgreed = "agreed"
)

func shadowKey(t time.Time) string { return keyPrefix + "shadow:" + t.UTC().Format("2006010215") }

// RecordShadow counts a login decided in shadow mode in its hour and, when rulehook disagrees,
// records the would-be change in the audit trail (reason metadata.ReasonShadow), all in one
// round trip. A zero l.Time is now. Counters and audit entries are never re-sent after a failure
// that may have reached Redis. Errors wrap metadata.ErrInvalid (a bad user id, changes that are
// not JSON: the login is counted all the same) or metadata.ErrUnavailable.
func (s *Store) RecordShadow(ctx context.Context, l metadata.ShadowLogin) error {
	if err := metadata.ValidateUserID(l.UserID); err != nil {
		return err
	}
	if l.Time.IsZero() {
		l.Time = time.Now()
	}
	key := shadowKey(l.Time)
	fields := []string{shadowLogins}
	if len(l.Kinds) == 0 {
		fields = append(fields, shadowAgreed)
	}
	fields = append(fields, l.Kinds...)
	pipe := s.rdb.Pipeline()
	for _, f := range fields {
		_ = pipe.Process(ctx, once{redis.NewIntCmd(ctx, "hincrby", key, f, 1)})
	}
	pipe.Expire(ctx, key, ShadowTTL)
	var auditErr error
	if len(l.Kinds) != 0 {
		auditErr = s.addAudit(ctx, pipe, metadata.AuditEntry{UserID: l.UserID, Time: l.Time,
			Reason: metadata.ReasonShadow, RequestID: l.RequestID, Changes: l.Changes})
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fail("record shadow login", err)
	}
	return auditErr
}

// ShadowStats sums the shadow-mode counts of the hours from since's to until's (at most
// ShadowTTL back). Errors wrap metadata.ErrUnavailable, or metadata.ErrInvalid for a count that
// is not an integer.
func (s *Store) ShadowStats(ctx context.Context, since, until time.Time) (metadata.ShadowStats, error) {
	st := metadata.ShadowStats{Disagreements: map[string]int64{}}
	if oldest := until.Add(-ShadowTTL); since.Before(oldest) {
		since = oldest
	}
	pipe := s.rdb.Pipeline()
	var cmds []*redis.MapStringStringCmd
	for h := since.UTC().Truncate(time.Hour); !h.After(until); h = h.Add(time.Hour) {
		cmds = append(cmds, pipe.HGetAll(ctx, shadowKey(h)))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return st, fail("shadow stats", err)
	}
	for _, c := range cmds {
		for f, v := range c.Val() {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return st, fmt.Errorf("redis shadow stats: %w: a stored count is not an integer", metadata.ErrInvalid)
			}
			switch f {
			case shadowLogins:
				st.Logins += n
			case shadowAgreed:
				st.Agreed += n
			default:
				st.Disagreements[f] += n
			}
		}
	}
	return st, nil
}
