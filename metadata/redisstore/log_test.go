package redisstore_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log"
	"log/slog"
	"os"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/rulehook/rulehook/metadata/redisstore"
	"github.com/rulehook/rulehook/metadata/redisstore/redistest"
)

func TestSetLogger(t *testing.T) {
	var buf bytes.Buffer
	redisstore.SetLogger(slog.New(slog.NewJSONHandler(&buf, nil)))
	t.Cleanup(func() { redis.SetLogger(&defaultLogger{log.New(os.Stderr, "redis: ", log.LstdFlags|log.Lshortfile)}) })

	store, _ := redistest.Open(t, redisstore.Options{URL: "redis://127.0.0.1:1"}) // nothing listens on port 1
	_ = store.Ping(context.Background())

	var line struct{ Level, Msg, Component string }
	if err := json.Unmarshal(bytes.SplitN(buf.Bytes(), []byte("\n"), 2)[0], &line); err != nil {
		t.Fatalf("go-redis logged %q; want a JSON line: %v", buf.String(), err)
	}
	if line.Level != "WARN" || line.Component != "go-redis" || line.Msg == "" {
		t.Errorf("logged %+v; want level WARN, component go-redis and a message", line)
	}
}

type defaultLogger struct{ l *log.Logger }

func (d *defaultLogger) Printf(_ context.Context, format string, v ...any) { d.l.Printf(format, v...) }
