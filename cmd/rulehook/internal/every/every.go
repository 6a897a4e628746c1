// Package every runs a function at a fixed interval in the background until it is stopped: the
// progress lines and samples of rulehook's bench commands. It imports the standard library only.
package every

import "time"

// Start calls f with the tick's time every d, from one goroutine, until the returned stop is
// called. stop returns once f has returned for the last time, so what f wrote is the caller's to
// read; f is not called after stop.
func Start(d time.Duration, f func(now time.Time)) (stop func()) {
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(d)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case now := <-t.C:
				f(now)
			}
		}
	}()
	return func() { close(quit); <-done }
}
