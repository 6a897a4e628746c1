package redistest

import (
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/rulehook/rulehook/metadata/redisstore"
)

// Open opens a redisstore client on s, closed when the test ends, and returns the Store on it
// with the client (for the tests that read or break Redis behind the Store's back).
func (s *Server) Open(tb testing.TB) (*redisstore.Store, redis.UniversalClient) {
	tb.Helper()
	rdb, err := redisstore.Open(redisstore.Options{URL: s.URL()})
	if err != nil {
		tb.Fatalf("redisstore.Open(%s): %v", s.URL(), err)
	}
	tb.Cleanup(func() { rdb.Close() })
	return redisstore.New(rdb), rdb
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
