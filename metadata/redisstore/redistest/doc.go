// Package redistest runs real redis-server processes on loopback for tests: a single server
// (Start), a Redis Cluster (StartCluster) and a master with a replica and three Sentinels
// (StartSentinel). Every process listens on a free 127.0.0.1 port, keeps its files in a
// temporary directory of the test and is killed when the test ends.
//
// It is the testing.TB layer over redisproc, which launches, waits for, kills, restarts and
// signals the processes (the bench commands use redisproc directly): redistest adds the test's
// directories and cleanup, the skip or failure when redis-server is missing, failing the test
// with the process's output, and the Cluster and Sentinel set-ups.
//
// Tests that call it are skipped with a message when redis-server is not on PATH, unless the
// environment sets RULEHOOK_REQUIRE_REDIS=1 (CI does), in which case they fail.
//
// Open (and Server.Open, Cluster.Open) opens a redisstore.Store, so the package imports
// redisstore and go-redis besides the standard library; redisstore's own tests are an external
// package (redisstore_test) so that they may use it too.
package redistest
