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
