package main

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"testing"

	"github.com/rulehook/rulehook/webhook"
	"github.com/rulehook/rulehook/webhook/openapitest"
)

var openAPIValidator = sync.OnceValues(func() (*openapitest.Validator, error) {
	return openapitest.New(webhook.OpenAPI())
})

// openAPIClient returns a client whose every exchange is held to webhook/openapi.yaml, checked
// when t ends; a departure fails t.
func openAPIClient(t *testing.T) *http.Client {
	t.Helper()
	v, err := openAPIValidator()
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Transport: v.Record(t).Transport(nil)}
}

// actionURL is where the Action under node calls the stack: a proxy that hands every exchange to
// s.client, so the real Action's callouts are held to openapi.yaml too.
func (s *testStack) actionURL(t *testing.T) string {
	t.Helper()
	if s.proxy == nil {
		target, err := url.Parse(s.url)
		if err != nil {
			t.Fatal(err)
		}
		rp := httputil.NewSingleHostReverseProxy(target)
		rp.Transport = s.client.Transport
		s.proxy = httptest.NewServer(rp)
		t.Cleanup(s.proxy.Close)
	}
	return s.proxy.URL
}

// TestServeAnswersItsOpenAPI: the whole serve stack answers GET /openapi.yaml with the document
// its exchanges are checked against.
func TestServeAnswersItsOpenAPI(t *testing.T) {
	s := startStack(t, nil)
	resp, err := s.client.Get(s.url + "/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !bytes.Equal(b, webhook.OpenAPI()) {
		t.Errorf("GET /openapi.yaml = %d, %d bytes; want 200 and webhook.OpenAPI()", resp.StatusCode, len(b))
	}
}
