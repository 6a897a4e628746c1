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
// It imports package metadata, golang.org/x/time/rate (which spaces the writes at Options.Rate)
// and the standard library only, and declares the small interfaces it consumes (Lister,
// PlayReader, Writer, UserReader, Checkpointer, RateGate): mgmt.Writer and redisstore.Store
// implement them. Run it under mgmt.WithPriority(ctx, mgmt.Background) so that its calls yield
// to logins in the writer's rate budget.
package reconcile
