package redistest

import (
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/rulehook/rulehook/metadata/redisstore"
)

// Open opens a redisstore client with opts, closed when the test ends, and returns the Store on
// it with the client (for the tests that read or break Redis behind the Store's back).
func Open(tb testing.TB, opts redisstore.Options) (*redisstore.Store, redis.UniversalClient) {
	tb.Helper()
	rdb, err := redisstore.Open(opts)
	if err != nil {
		tb.Fatalf("redisstore.Open(%+v): %v", opts, err)
	}
	tb.Cleanup(func() { rdb.Close() })
	return redisstore.New(rdb), rdb
}

// Open opens a redisstore client on s, as the package's Open does.
func (s *Server) Open(tb testing.TB) (*redisstore.Store, redis.UniversalClient) {
	tb.Helper()
	return Open(tb, redisstore.Options{URL: s.URL()})
}

// Open opens a redisstore Cluster client on c, as the package's Open does.
func (c *Cluster) Open(tb testing.TB) (*redisstore.Store, redis.UniversalClient) {
	tb.Helper()
	return Open(tb, redisstore.Options{ClusterAddrs: c.Addrs()})
}

// Dump returns every key that matches the KEYS pattern match with its value as DUMP serializes
// it: two dumps are equal when the keys and their values are, whatever their type.
func (s *Server) Dump(tb testing.TB, match string) map[string]string {
	tb.Helper()
	keys, err := s.Do("KEYS", match)
	if err != nil {
		tb.Fatalf("KEYS %s: %v", match, err)
	}
	out := map[string]string{}
	for _, k := range keys.([]any) {
		v, err := s.Do("DUMP", k.(string))
		if err != nil {
			tb.Fatalf("DUMP %s: %v", k, err)
		}
		out[k.(string)], _ = v.(string)
	}
	return out
}
