// Package budgetbench measures how rulehook shares a tenant's Management API rate limit: logins
// that need a write arrive at a steady rate while a reconcile walks every user, against the
// emulated tenant on one of Auth0's rate-limit tiers (mgmttest.FreeTier by default: one bucket of
// 2 per second for every call). It reports the 429s the tenant answered, per minute, and whether
// every change landed once the retry queue drained. `rulehook bench-budget` prints its figures;
// its test checks the same property in counts over a short run.
//
// The two writers are two processes' worth of rulehook, as in production: `rulehook serve` (the
// logins and the queue worker) and `rulehook reconcile`, each with its own mgmt.Budget, sharing
// the tenant, Redis and the retry queue. They learn of each other only through the tenant's
// X-RateLimit headers.
//
// It imports the emulated tenant, mgmt, reconcile, redisstore and metadata.
package budgetbench
