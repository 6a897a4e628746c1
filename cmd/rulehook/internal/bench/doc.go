// Package bench is the load generator behind `rulehook bench`. It signs a fresh callout token for
// every request (new jti, bsh over the exact body, exp = iat+60) for a set of distinct bench users,
// drives POST /v1/post-login in a closed loop (N connections) or an open loop (a fixed rate on a
// timetable, latency measured from the scheduled time), optionally runs the same load shape against
// GET /healthz in the same run, and reports requests/s, latency percentiles and errors by status.
//
// It owns only the client side: the caller starts (or points at) the stack under test. Every loop
// ends by itself after Options.Duration, and requests go only to Options.URL (no proxy, no
// redirects followed). It may import the standard library and golang-jwt v5.
package bench
