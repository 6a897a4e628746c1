package testkit

import (
	"errors"
	"sync"
	"testing"
	"time"
)

func TestWaitForReturnsOnceTheConditionHolds(t *testing.T) {
	n := 0
	WaitFor(t, func() error {
		if n++; n < 3 {
			return errors.New("not yet")
		}
		return nil
	})
	if n != 3 {
		t.Errorf("cond called %d times; want 3", n)
	}
}

func TestWithinIsGenerousButFinite(t *testing.T) {
	if got := Within(time.Second); got < 2*time.Second+Slack || got > time.Minute {
		t.Errorf("Within(1s) = %s; want at least 2s + Slack and under a minute", got)
	}
}

func TestSyncBufferConcurrentWrites(t *testing.T) {
	var b SyncBuffer
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() { b.Write([]byte("ab")) })
	}
	wg.Wait()
	if got := len(b.String()); got != 16 {
		t.Errorf("len after 8 writes of 2 bytes = %d; want 16", got)
	}
}
