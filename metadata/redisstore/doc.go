// Package redisstore keeps rulehook's data in Redis: play counts and callout replay ids (the
// login path), the app API's favourite genre and songs, the durable per-user retry queue of
// Management API writes, the audit trail and the reconcile checkpoint.
//
// It talks to a single Redis, a Sentinel-managed master or a Redis Cluster through
// redis.UniversalClient (Open). Every key of one user carries the hash tag {<user_id>} and every
// key of the queue the tag {rulehook-queue}, so each multi-key operation stays on one Cluster slot.
//
// Errors are translated into the sentinels of package metadata: a Redis failure wraps
// metadata.ErrUnavailable (with the cause kept for logs), bad stored data wraps
// metadata.ErrInvalid, and redis.Nil never escapes. Commands that change data in a way a second
// run would change again (INCR, appends, counters) are never re-sent by the client after a
// failure that may have reached Redis.
//
// It imports go-redis and package metadata only.
package redisstore
