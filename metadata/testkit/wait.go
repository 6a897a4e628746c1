package testkit

import (
	"fmt"
	"testing"
	"time"
)

// Patience is how long WaitFor waits for an event before it fails the test. It is long on purpose:
// a test that passes waits only as long as the event takes, and a loaded machine can be slow.
const Patience = 30 * time.Second

// pollEvery is how often WaitFor asks again.
const pollEvery = 10 * time.Millisecond

// WaitFor calls cond until it returns nil, and fails t with cond's last error when it still does
// not after Patience.
func WaitFor(t testing.TB, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(Patience)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still not so after %s: %v", Patience, err)
		}
		time.Sleep(pollEvery)
	}
}

// WaitUntil is WaitFor for a condition that only says yes or no; what names the awaited event in
// the failure.
func WaitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	WaitFor(t, func() error {
		if !cond() {
			return fmt.Errorf("waiting for %s", what)
		}
		return nil
	})
}

// Slack is what a loaded machine may add to a latency the product promises.
const Slack = 5 * time.Second

// Within returns a generous upper bound for something promised to take about d: enough that
// scheduling on a busy machine never trips it, small enough that a hang (an unbounded wait, or
// one bounded only by a much longer timeout) still fails.
func Within(d time.Duration) time.Duration { return 2*d + Slack }
