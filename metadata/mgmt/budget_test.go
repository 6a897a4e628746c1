package mgmt

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/rulehook/rulehook/metadata"
	"github.com/rulehook/rulehook/metadata/mgmt/mgmttest"
	"github.com/rulehook/rulehook/metadata/testkit"
)

// rateHeaders are the X-RateLimit headers of an answer.
func rateHeaders(limit, remaining int, reset time.Time) http.Header {
	h := http.Header{}
	h.Set("X-RateLimit-Limit", strconv.Itoa(limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(remaining))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))
	return h
}

// newBudget is a Budget whose probes are not jittered, so that their times are exact.
func newBudget(o BudgetOptions) *Budget {
	b := NewBudget(o)
	b.jitter = func() time.Duration { return 0 }
	return b
}

// soon is a context whose deadline comes long before the resets these tests set.
func soon(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestBudgetBackgroundLeavesTheReserveToLogins(t *testing.T) {
	b := newBudget(BudgetOptions{Reserve: 1})
	far := time.Now().Add(time.Minute).Truncate(time.Second)
	b.Observe(200, rateHeaders(2, 2, far)) // Auth0's free tier: a bucket of 2
	if err := b.Wait(soon(t), Background); err != nil {
		t.Fatalf("Background Wait with 2 left and a reserve of 1 = %v; want nil", err)
	}
	var rl *metadata.RateLimitError
	if err := b.Wait(soon(t), Background); !errors.As(err, &rl) || !rl.Reset.Equal(far) {
		t.Fatalf("Background Wait with the reserve left = %v; want a RateLimitError until the reset %s", err, far)
	}
	if s := b.State(); !s.Paced || s.Closed || s.Remaining != 1 {
		t.Errorf("State = %+v; want paced, open, 1 left", s)
	}
	for i := range 2 { // logins take the reserve, and more: the tenant decides
		if err := b.Wait(soon(t), Foreground); err != nil {
			t.Errorf("Foreground Wait %d = %v; want nil, at once", i, err)
		}
	}
	if s := b.State(); s.Remaining != -1 {
		t.Errorf("Remaining after two logins = %d; want -1 (booked past the estimate)", s.Remaining)
	}
}

func TestBudgetWakesBackgroundOnAnAnswer(t *testing.T) {
	b := newBudget(BudgetOptions{})
	b.Observe(200, rateHeaders(100, 1, time.Now().Add(time.Hour)))
	done := make(chan error, 1)
	go func() { done <- b.Wait(context.Background(), Background) }()
	testkit.WaitUntil(t, "the Background Wait blocked", func() bool { return b.waiters.Load() == 1 })
	b.Observe(200, rateHeaders(100, 50, time.Now().Add(time.Hour))) // another replica's call saw more
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Background Wait after a fuller answer = %v; want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Background Wait still blocked after an answer with 50 left")
	}
}

func TestBudgetProbesOnceAfterTheReset(t *testing.T) {
	now := time.Now()
	clock := func() time.Time { return now }
	b := newBudget(BudgetOptions{Reserve: 1, Now: clock})
	reset := now.Truncate(time.Second).Add(2 * time.Second) // X-RateLimit-Reset is whole seconds
	b.Observe(200, rateHeaders(2, 1, reset))
	if d, want := b.delay(Background), reset.Sub(now); d != want {
		t.Errorf("delay before the reset = %s; want %s", d, want)
	}
	now = reset
	if err := b.Wait(soon(t), Background); err != nil {
		t.Fatalf("Background Wait at the reset = %v; want the probe through", err)
	}
	if d := b.delay(Background); d != probeWait {
		t.Errorf("delay after the probe = %s; want %s, until its answer", d, probeWait)
	}
}

// Looking at the budget (State, and so Stats and Gate; the worker's pause; ready) does not hand
// out the probe due after the reset: the call that books it does, and the next probe waits
// probeWait from that call, not from the look.
func TestBudgetLooksDoNotTakeTheProbe(t *testing.T) {
	now := time.Now()
	b := newBudget(BudgetOptions{Reserve: 1, Now: func() time.Time { return now }})
	reset := now.Truncate(time.Second).Add(2 * time.Second)
	b.Observe(200, rateHeaders(2, 1, reset))
	now = reset
	if s := b.State(); s.Paced || s.Remaining != 1 {
		t.Errorf("State at the reset = %+v; want not paced (the probe is due), 1 left (nothing booked)", s)
	}
	if d := b.delay(Background); d != 0 {
		t.Errorf("delay at the reset = %s; want 0", d)
	}
	if err := b.ready(soon(t), Background); err != nil {
		t.Errorf("ready at the reset = %v; want nil", err)
	}
	now = now.Add(900 * time.Millisecond)
	if err := b.Wait(soon(t), Background); err != nil {
		t.Fatalf("Background Wait after the looks = %v; want the probe through", err)
	}
	now = now.Add(200 * time.Millisecond)
	if d, want := b.delay(Background), probeWait-200*time.Millisecond; d != want {
		t.Errorf("delay 200ms after the probe = %s; want %s, probeWait from the probe", d, want)
	}
}

func TestBudget429ClosesForEveryone(t *testing.T) {
	b := newBudget(BudgetOptions{})
	reset := time.Now().Add(time.Minute).Truncate(time.Second)
	b.Observe(http.StatusTooManyRequests, rateHeaders(2, 0, reset))
	var rl *metadata.RateLimitError
	for p, want := range map[Priority]time.Time{Foreground: reset, Background: reset.Add(probeBackoff)} {
		if err := b.Wait(soon(t), p); !errors.As(err, &rl) || !rl.Reset.Equal(want) {
			t.Errorf("%s Wait while closed = %v; want a RateLimitError until %s", p, err, want)
		}
	}
	if s := b.State(); !s.Closed || !s.Reset.Equal(reset) {
		t.Errorf("State = %+v; want closed until %s", s, reset)
	}
}

func TestBudgetTransport(t *testing.T) {
	tenant := mgmttest.New()
	t.Cleanup(tenant.Close)
	b := newBudget(BudgetOptions{})
	hc := &http.Client{Transport: b.Transport(http.DefaultTransport, Foreground), Timeout: 5 * time.Second}
	get := func() error {
		req, _ := http.NewRequest(http.MethodGet, tenant.URL()+"/api/v2/users/auth0%7C1", nil)
		resp, err := hc.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	if err := get(); err != nil { // 401 without a token: an answer all the same
		t.Fatal(err)
	}
	if s := b.State(); s.Remaining < 0 {
		t.Errorf("State after an answer = %+v; want its X-RateLimit-Remaining", s)
	}
	tenant.SetFault(http.MethodGet, "", mgmttest.Fault{Status: http.StatusTooManyRequests, Reset: time.Now().Add(time.Hour), Times: 1})
	if err := get(); err != nil {
		t.Fatal(err)
	}
	before := tenant.Count("", "/api/v2/")
	if err := get(); !errors.Is(err, metadata.ErrRateLimited) {
		t.Errorf("GET through the transport after a 429 = %v; want ErrRateLimited", err)
	}
	if n := tenant.Count("", "/api/v2/"); n != before {
		t.Errorf("tenant saw %d requests while the gate was closed; want 0", n-before)
	}
	resp, err := hc.Post(tenant.URL()+"/oauth/token", "application/json", nil) // not the Management API
	if err != nil {
		t.Errorf("POST /oauth/token through the closed budget = %v; want it sent", err)
	} else {
		resp.Body.Close()
	}
}

// A probe that draws a 429 says another process took the token the reset promised: each 429 in
// a row holds Background a second longer past the reset; an answer with the reserve left takes
// a second off.
func TestBudgetBacksOffAfterEach429(t *testing.T) {
	now := time.Now().Truncate(time.Second)
	b := newBudget(BudgetOptions{Reserve: 1, Now: func() time.Time { return now }})
	for n := 1; n <= 3; n++ {
		b.Observe(http.StatusTooManyRequests, rateHeaders(2, 0, now.Add(time.Second)))
		if d, want := b.delay(Background), time.Second+time.Duration(n)*probeBackoff; d != want {
			t.Errorf("Background delay after %d 429s = %s; want %s", n, d, want)
		}
		if d := b.delay(Foreground); d != time.Second {
			t.Errorf("Foreground delay after %d 429s = %s; want 1s: logins wait for the reset only", n, d)
		}
	}
	b.Observe(http.StatusOK, rateHeaders(2, 0, now.Add(time.Second))) // the reserve spent too
	if d, want := b.delay(Background), time.Second+4*probeBackoff; d != want {
		t.Errorf("Background delay after an answer with 0 left = %s; want %s", d, want)
	}
	b.Observe(http.StatusOK, rateHeaders(2, 1, now.Add(time.Second))) // the reserve left
	if d, want := b.delay(Background), time.Second+3*probeBackoff; d != want {
		t.Errorf("Background delay after an answer with 1 left = %s; want %s", d, want)
	}
}
