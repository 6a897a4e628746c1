package webhook

import (
	"log/slog"
	"os"
	"testing"

	"github.com/rulehook/rulehook/metadata/redisstore"
)

func TestMain(m *testing.M) {
	// go-redis logs every failed dial; the outage tests cause them on purpose.
	redisstore.SetLogger(slog.New(slog.DiscardHandler))
	os.Exit(m.Run())
}
