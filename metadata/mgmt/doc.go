// Package mgmt owns rulehook's writes to the Auth0 Management API: one PATCH per change, made
// through go-auth0 v3 with a cached client-credentials token, no SDK retries and a short per-call
// timeout; a process-wide rate budget (Budget) fed by X-RateLimit-* headers, through which every
// Management API call of the process goes, logins first (Foreground) and the worker and
// reconcile after them (Background); a circuit breaker
// (sony/gobreaker) for tenant outages; and the worker that drains the durable per-user retry
// queue, re-running the rules on the user's current state so that a late retry never applies a
// stale decision.
//
// It imports go-auth0, gobreaker, golang.org/x/time/rate, package metadata and the standard library. The queue, the play
// counts and the audit trail are reached through the small interfaces declared here (Queue,
// PlayReader, Auditor), which metadata/redisstore implements. Errors returned to callers wrap the
// metadata sentinels (ErrInvalid, ErrNotFound, ErrRateLimited, ErrUnavailable), never a go-auth0
// type.
//
// # Ordering between direct writes and queued entries
//
// A user has at most one queue entry. While it exists, Write sends that user's writes into the
// entry instead of PATCHing directly (when the Queue implements PendingQueue): a direct write made
// from a login's snapshot of the user could otherwise race the worker, and an older queued explicit
// value (a displayName the user chose while the tenant failed) could be applied after a newer one
// written directly. Routed through the queue, explicit values merge newest-wins and rule writes
// become a re-run of the rules on the state the worker reads just before it PATCHes, so the
// outcome is the same whatever order the writes arrived in.
package mgmt
