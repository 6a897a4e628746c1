// Package deployaction installs rulehook's post-login Action into an Auth0 tenant as code: the
// library behind `rulehook deploy-action`.
//
// Deploy converges the tenant on one desired state and is safe to run again and again:
//   - one Action named Options.Name that supports the post-login trigger (v3), runtime node22, the
//     given code and secrets: created when absent, updated only when something differs;
//   - that Action built and its draft deployed, and Auth0 reporting the deployed version as
//     deployed (deployed_version.deployed): Auth0 answers the deploy with a version that is built
//     but not yet deployed, and refuses to bind it meanwhile (400 "Trying to create a binding for
//     an action that has not been deployed yet", which is retried with backoff);
//   - the Action bound to the post-login trigger exactly once, every other binding kept in its
//     order (a binding it already has keeps its position; a new one goes last).
//
// A run that finds the tenant already in that state writes nothing. With Options.DryRun it only
// reads and prints the plan.
//
// Secret values cannot be read back from Auth0, so a change of a value is detected through a
// fingerprint: the deployed code is the Action source followed by one comment line holding an
// HMAC-SHA256, keyed with CALLOUT_SECRET, over every secret name and value (see fingerprint.go).
// It tells whether the values changed without revealing them. An update always sends the complete
// set of secrets with their values; names no longer given are removed from the Action.
//
// Inspect reads the same state without changing it, for `rulehook doctor`.
//
// It owns no rules and no domain types. It imports go-auth0 v3 (management API calls), reached
// through metadata/mgmt's Client (the token source, transport and pacing every command shares),
// the actions package (the embedded Action source and its secret names) and the standard library.
// It never prints or returns secret values (names only).
package deployaction
