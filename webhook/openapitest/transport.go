package openapitest

import (
	"bytes"
	"io"
	"net/http"
)

// Reporter is the part of testing.TB a Transport reports to.
type Reporter interface {
	Helper()
	Errorf(format string, args ...any)
}

// Transport returns a RoundTripper that sends every request through base (http.DefaultTransport
// when nil) and reports to r each exchange that departs from v's document. Bodies are read whole:
// it is for tests.
func (v *Validator) Transport(r Reporter, base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &transport{v: v, r: r, base: base}
}

type transport struct {
	v    *Validator
	r    Reporter
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
	ex := Exchange{Request: req, RequestBody: sent, Status: resp.StatusCode, Header: resp.Header, Body: got}
	if err := t.v.Check(ex); err != nil {
		t.r.Helper()
		t.r.Errorf("openapi: %v", err)
	}
	return resp, nil
}
