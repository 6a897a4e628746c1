// Package mgmt owns rulehook's writes to the Auth0 Management API: one PATCH per change, made
// through go-auth0 v3 with a cached client-credentials token, no SDK retries and a short per-call
// timeout; a process-wide rate budget (Budget) fed by X-RateLimit-* headers, through which every
// Management API call of the process goes, logins first (Foreground) and the worker and
// reconcile after them (Background); a circuit breaker
// (sony/gobreaker) for tenant outages; and the worker that drains the durable per-user retry
// queue, re-running the rules on the user's current state so that a late retry never applies a
// stale decision. It also makes the reads reconcile needs: the paged listing (list.go), and, for
// tenants above the listing's 1,000 users, the users-export job and the streaming of its gzipped
// NDJSON file (export.go, exportfile.go).
//
// A 403, or a 401 that one fresh token does not cure, is a configuration error, not an outage:
// the calls of its kind are parked for Config.ConfigRetry (writes go to the queue meanwhile),
// each parking logs one ERROR line naming the missing scope, and Writer.ConfigError reports it.
// Every user body is decoded with metadata.DecodeUser and checked to be the user asked for.
//
// It imports go-auth0, gobreaker, golang.org/x/time/rate, package metadata and the standard library. The queue, the play
// counts and the audit trail are reached through the small interfaces declared here (Queue,
// PlayReader, Auditor), which metadata/redisstore implements. Errors returned to callers wrap the
// metadata sentinels (ErrInvalid, ErrNotFound, ErrRateLimited, ErrUnavailable), never a go-auth0
// type.
//
// Two types reach the tenant, built the same way (go-auth0 over one transport and one token
// source):
//   - Writer is the Management API client for user data: every write of user metadata, the retry
//     queue's worker, and the reads those need and reconcile makes (a user, the listing, the
//     users-export job), all behind the budget, the breaker and the parking above. serve, reconcile
//     and the benches use it.
//   - Client is the low-level go-auth0 client and token, for the commands that call other
//     endpoints (deploy-action, login, doctor): every command reaches the Management API one way,
//     and a Grant carries the scopes the tenant granted the token.
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
//
// An explicit write (Write.Explicit) goes one step further when the Queue implements HoldQueue:
// it is first stored as the user's entry, leased to the writer itself, then PATCHed, then
// acknowledged. A newer write that arrives while that PATCH is in flight finds the entry and
// merges into it; the worker applies it only after the PATCH has ended, whether it succeeded or
// failed slowly with a 429. The newest value is therefore always the last one written.
package mgmt
