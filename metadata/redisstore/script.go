package redisstore

import (
	"context"
	"crypto/sha1"
	"encoding/hex"

	"github.com/redis/go-redis/v9"
)

// script is a Lua script run with EVALSHA, falling back to EVAL when Redis does not know it yet
// (after a restart or failover). A script that is not idempotent is never re-sent by go-redis
// after a failure that may have reached Redis.
type script struct {
	src, sha   string
	idempotent bool
}

func newScript(src string, idempotent bool) script {
	sum := sha1.Sum([]byte(src))
	return script{src: src, sha: hex.EncodeToString(sum[:]), idempotent: idempotent}
}

func (s script) run(ctx context.Context, rdb redis.UniversalClient, keys []string, args ...any) *redis.Cmd {
	cmd := evalCmd(ctx, "evalsha", s.sha, keys, args)
	err := process(ctx, rdb, cmd, s.idempotent)
	if err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
		cmd = evalCmd(ctx, "eval", s.src, keys, args)
		_ = process(ctx, rdb, cmd, s.idempotent)
	}
	return cmd
}

func evalCmd(ctx context.Context, name, body string, keys []string, args []any) *redis.Cmd {
	a := make([]any, 0, 3+len(keys)+len(args))
	a = append(a, name, body, len(keys))
	for _, k := range keys {
		a = append(a, k)
	}
	a = append(a, args...)
	cmd := redis.NewCmd(ctx, a...)
	cmd.SetFirstKeyPos(3)
	return cmd
}
