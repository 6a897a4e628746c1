package webhook

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"

	"github.com/rulehook/rulehook/webhook/openapitest"
)

var openAPIValidator = sync.OnceValues(func() (*openapitest.Validator, error) {
	return openapitest.New(OpenAPI())
})

// checked maps a Server's handler to the Recorder of the test that built it, so that serve can
// hand it every exchange.
var checked sync.Map // http.Handler → *openapitest.Recorder

// checkExchanges holds every exchange serve has with s to openapi.yaml, checked when t ends.
func checkExchanges(t testing.TB, s *Server) {
	t.Helper()
	v, err := openAPIValidator()
	if err != nil {
		t.Fatal(err)
	}
	h := s.Handler()
	t.Cleanup(func() { checked.Delete(h) }) // runs after the Recorder's check: cleanups are LIFO
	checked.Store(h, v.Record(t))
}

// teeBody makes req's body record what is read of it, and returns that body and the record. It
// reads nothing itself: a test of what the handler reads (or does not) sees the handler's reads
// alone, and serve reads the rest only once the handler has answered.
func teeBody(req *http.Request) (io.Reader, *bytes.Buffer) {
	var sent bytes.Buffer
	if req.Body == nil || req.Body == http.NoBody {
		return http.NoBody, &sent
	}
	tee := io.TeeReader(req.Body, &sent)
	req.Body = struct {
		io.Reader
		io.Closer
	}{tee, req.Body}
	return tee, &sent
}

// recordExchange hands the exchange to the Recorder of the test that built h.
func recordExchange(h http.Handler, req *http.Request, sent []byte, rec *httptest.ResponseRecorder) {
	r, ok := checked.Load(h)
	if !ok {
		return
	}
	r.(*openapitest.Recorder).Add(openapitest.Exchange{Request: req.Clone(context.Background()), RequestBody: sent,
		Status: rec.Code, Header: rec.Header().Clone(), Body: bytes.Clone(rec.Body.Bytes())})
}

// TestOpenAPIServed: GET /openapi.yaml answers the embedded document.
func TestOpenAPIServed(t *testing.T) {
	deps, _, _ := fakeDeps()
	s := newServer(t, testConfig(), deps)
	rec := serve(s.Handler(), httptest.NewRequest(http.MethodGet, "/openapi.yaml", nil))
	if rec.Code != http.StatusOK || !bytes.Equal(rec.Body.Bytes(), OpenAPI()) {
		t.Fatalf("GET /openapi.yaml = %d, %d bytes; want 200 and the %d bytes of openapi.yaml", rec.Code, rec.Body.Len(), len(OpenAPI()))
	}
	if got, want := rec.Header().Get("Content-Type"), "application/yaml"; got != want {
		t.Errorf("Content-Type = %q; want %q", got, want)
	}
}

// TestOpenAPINamesEveryRoute compares the router's routes with the document's operations, both
// ways: a route added without its description, or a description of a route that is gone, fails.
func TestOpenAPINamesEveryRoute(t *testing.T) {
	deps, _, _ := fakeDeps()
	s := newServer(t, testConfig(), deps)
	v, err := openAPIValidator()
	if err != nil {
		t.Fatal(err)
	}
	var served, documented []string
	for _, r := range s.e.Routes() {
		served = append(served, r.Method+" "+r.Path)
	}
	for path, item := range v.Doc().Paths.Map() {
		for method := range item.Operations() {
			documented = append(documented, method+" "+path)
		}
	}
	slices.Sort(served)
	slices.Sort(documented)
	served, documented = slices.Compact(served), slices.Compact(documented)
	if !slices.Equal(served, documented) {
		t.Errorf("routes served:\n%q\nroutes in openapi.yaml:\n%q", served, documented)
	}
}

// TestOpenAPIValidatorCatchesDrift feeds the validator exchanges that break the document, so
// that its silence on the real ones means something.
func TestOpenAPIValidatorCatchesDrift(t *testing.T) {
	v, err := openAPIValidator()
	if err != nil {
		t.Fatal(err)
	}
	json := http.Header{"Content-Type": {"application/json"}}
	get := func(path string) *http.Request { return httptest.NewRequest(http.MethodGet, path, nil) }
	authed := get("/songs")
	authed.Header.Set("Authorization", "Bearer x")
	tests := []struct {
		name string
		ex   openapitest.Exchange
	}{
		{"undeclared status", openapitest.Exchange{Request: get("/healthz"), Status: 204, Header: http.Header{}}},
		{"answer with a field too many", openapitest.Exchange{Request: authed, Status: 200, Header: json, Body: []byte(`[{"id":1,"name":"a","extra":1}]`)}},
		{"null where a list is due", openapitest.Exchange{Request: authed, Status: 200, Header: json, Body: []byte(`null`)}},
		{"error without message", openapitest.Exchange{Request: get("/readyz"), Status: 503, Header: json, Body: []byte(`{"error":"unavailable"}`)}},
		{"401 without a challenge", openapitest.Exchange{Request: get("/songs"), Status: 401, Header: json, Body: []byte(`{"error":"missing_token","message":"m"}`)}},
		{"request outside the document answered 200", openapitest.Exchange{Request: get("/songs"), Status: 200, Header: json, Body: []byte(`[]`)}},
		{"unknown route answered 200", openapitest.Exchange{Request: get("/nope"), Status: 200, Header: json, Body: []byte(`{}`)}},
	}
	for _, tt := range tests {
		if err := v.Check(tt.ex); err == nil {
			t.Errorf("Check(%s) = nil; want an error", tt.name)
		}
	}
	ok := openapitest.Exchange{Request: authed, Status: 200, Header: json, Body: []byte(`[{"id":1,"name":"a"}]`)}
	if err := v.Check(ok); err != nil {
		t.Errorf("Check(a valid answer) = %v; want nil", err)
	}
}
