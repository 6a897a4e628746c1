// Package reconcile brings every user of the tenant in line with the rules: it walks the users
// page by page through the Management API, reads each one's play count, applies
// metadata.Policy.Decide and writes only the users whose metadata differ, at a bounded write rate
// that also yields to the Management API's rate-limit feedback. It is what `rulehook reconcile`
// runs.
//
// A run is resumable. After each page, and around each write, it saves a checkpoint (the page and
// the users of that page already handled) through a Checkpointer; a run that finds a checkpoint
// starts from it and clears it when it finishes. A user is never written twice across an
// interruption:
//   - a user is recorded as in flight before its write and as done after it;
//   - a resumed run skips the users recorded as done, without trusting the listing, which Auth0
//     serves from a search index that lags writes by seconds;
//   - a user recorded as in flight (the process died during its write) is read again with a direct
//     GET, which is not lagged, and written only if it still differs.
//
// Cancelling the context stops the run soon: no new write starts, the writes in flight finish
// (each bounded by the writer's own timeout) and are recorded, and Run returns the summary so far
// with the context's error; the checkpoint stays for the next run.
//
// # Tenants above 1,000 users
//
// Auth0's listing reaches only a tenant's first 1,000 users. Above that (going by the listing's
// total, or when Options.Source forces it) the users come from a users-export job instead: Run
// starts the job (or, resuming, reads the one the checkpoint names), polls it with a backoff until
// it is completed, downloads its file at once (the link lives 60 s; an expired one is asked for
// afresh) and reads it as a stream, in chunks of PerPage users that are checkpointed like pages.
// The export is a snapshot that may be hours old by the time a user's turn comes, so a user whose
// record differs from the rules is read again (a direct GET) and written only if they still
// differ, from what they hold now: a role another tool added since is kept.
// A failed job stops the run with the tenant's reason (a *JobFailedError) and is dropped from the
// checkpoint, so the next run starts another; a job the tenant forgot is replaced, and the run
// starts again from the first user: users written already no longer differ and are not written
// again.
//
// It imports package metadata, golang.org/x/time/rate (which spaces the writes at Options.Rate)
// and the standard library only, and declares the small interfaces it consumes (Lister, Exporter,
// PlayReader, Writer, UserReader, Checkpointer, RateGate): mgmt.Writer and redisstore.Store
// implement them. Run it under mgmt.WithPriority(ctx, mgmt.Background) so that its calls yield
// to logins in the writer's rate budget.
package reconcile
