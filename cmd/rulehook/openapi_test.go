package main

import (
	"bytes"
	"io"
	"net/http"
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
