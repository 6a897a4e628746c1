// Package redisproc runs a real redis-server process on loopback: on a free 127.0.0.1 port
// (with port+10000 for a Cluster node's bus), with persistence off, started and waited for until
// it answers PING, then killed (SIGKILL, waited for), restarted on the same port, or frozen and
// thawed with signals. On Linux the kernel kills the server if its parent dies without stopping
// it. The last 32 KiB the process printed are kept for error messages. Do is a minimal RESP
// client for setting the server up and looking into it.
//
// It is the one place that manages redis-server processes: the tests' redistest is a
// testing.TB layer over it, and the bench commands of cmd/rulehook (bench, bench reconcile,
// bench-budget) start their Redis with it. It has no testing dependency and imports only the
// standard library.
package redisproc
