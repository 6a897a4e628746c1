package redisstore

import (
	"context"
	"time"
)

var queueOverdue = newScript(luaNow+`
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if #first == 0 then return 0 end
local late = now - tonumber(first[2])
if late < 0 then return 0 end
return late
`, true)

// Overdue returns how long the queue's most overdue entry has been due without a consumer
// holding it: 0 when no entry is due, or every due entry is leased. An entry put back by Retry is
// due at its notBefore, so a backoff does not count as waiting. It reads Redis's clock, as the
// other queue scripts do. Errors wrap metadata.ErrUnavailable.
func (s *Store) Overdue(ctx context.Context) (time.Duration, error) {
	ms, err := queueOverdue.run(ctx, s.rdb, []string{queueSched}).Int64()
	if err != nil {
		return 0, fail("queue overdue", err)
	}
	return time.Duration(ms) * time.Millisecond, nil
}
