package openapitest

import (
	"bytes"
	"io"
	"net/http"
	"sync"
)

// TB is the part of testing.TB a Recorder needs.
type TB interface {
	Helper()
	Errorf(format string, args ...any)
	Cleanup(func())
}

// Recorder collects exchanges and checks them all when its test ends: checking then, not as
// they happen, keeps the check out of any time the test measures. It is safe for concurrent use.
type Recorder struct {
	v    *Validator
	mu   sync.Mutex
	list []Exchange
}

// Record returns a Recorder whose exchanges are checked, and reported to t, at the end of t.
func (v *Validator) Record(t TB) *Recorder {
	r := &Recorder{v: v}
	t.Cleanup(func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		for _, ex := range r.list {
			if err := v.Check(ex); err != nil {
				t.Errorf("openapi: %v", err)
			}
		}
	})
	return r
}

// Add keeps ex for the check; ex must not change afterwards.
func (r *Recorder) Add(ex Exchange) {
	r.mu.Lock()
	r.list = append(r.list, ex)
	r.mu.Unlock()
}

// Transport returns a RoundTripper that sends every request through base (http.DefaultTransport
// when nil) and adds each exchange to r. Bodies are read whole: it is for tests.
func (r *Recorder) Transport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &transport{r: r, base: base}
}

type transport struct {
	r    *Recorder
	base http.RoundTripper
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	var sent []byte
	if req.Body != nil && req.Body != http.NoBody {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		sent = b
		req = req.Clone(req.Context())
		req.Body = io.NopCloser(bytes.NewReader(b))
	}
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(got))
	t.r.Add(Exchange{Request: req, RequestBody: sent, Status: resp.StatusCode, Header: resp.Header.Clone(), Body: got})
	return resp, nil
}
