package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/rulehook/rulehook/metadata"
)

// fail translates a go-redis error of operation op: bad data (WRONGTYPE, a non-integer counter)
// wraps metadata.ErrInvalid, redis.Nil wraps metadata.ErrNotFound, and everything else (network,
// timeout, READONLY, LOADING, CLUSTERDOWN, OOM, ...) wraps metadata.ErrUnavailable. The cause
// stays in the chain for logs.
func fail(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, redis.Nil):
		return fmt.Errorf("redis %s: %w", op, metadata.ErrNotFound)
	case badData(err):
		return fmt.Errorf("redis %s: %w: %w", op, metadata.ErrInvalid, err)
	}
	return fmt.Errorf("redis %s: %w: %w", op, metadata.ErrUnavailable, err)
}

func badData(err error) bool {
	var rerr redis.Error
	if !errors.As(err, &rerr) {
		return false
	}
	msg := rerr.Error()
	return strings.HasPrefix(msg, "WRONGTYPE") ||
		strings.Contains(msg, "not an integer") || strings.Contains(msg, "out of range")
}

// once wraps a command that a second run would apply again (INCR, XADD, a script bumping a
// counter) so that go-redis never re-sends it after a failure that may have happened after Redis
// executed it, such as a read timeout or a dropped connection.
type once struct{ redis.Cmder }

func (once) NoRetry() bool { return true }

func (c once) Clone() redis.Cmder { return once{c.Cmder.Clone()} }

// process runs cmd, wrapped in once unless retry is true, and returns its error.
func process(ctx context.Context, rdb redis.UniversalClient, cmd redis.Cmder, retry bool) error {
	if !retry {
		cmd = once{cmd}
	}
	return rdb.Process(ctx, cmd)
}
