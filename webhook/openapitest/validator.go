package openapitest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
)

// Validator checks exchanges against one OpenAPI document. It is safe for concurrent use.
type Validator struct {
	doc    *openapi3.T
	router routers.Router
}

// New loads and validates spec (YAML or JSON). It fails when the document is not valid OpenAPI.
func New(spec []byte) (*Validator, error) {
	doc, err := openapi3.NewLoader().LoadFromData(spec)
	if err != nil {
		return nil, fmt.Errorf("openapi: load: %w", err)
	}
	router, err := legacy.NewRouter(doc) // validates the document first
	if err != nil {
		return nil, fmt.Errorf("openapi: %w", err)
	}
	return &Validator{doc: doc, router: router}, nil
}

// Doc returns the loaded document, for tests that walk it.
func (v *Validator) Doc() *openapi3.T { return v.doc }

// Exchange is one request as sent and its answer as received.
type Exchange struct {
	Request     *http.Request // its Body is ignored: RequestBody holds the bytes sent
	RequestBody []byte
	Status      int
	Header      http.Header
	Body        []byte
}

// Check returns an error describing how ex departs from the document, or nil.
func (v *Validator) Check(ex Exchange) error {
	ctx := context.Background()
	req := ex.Request.Clone(ctx)
	// The document's server is "/": it is served wherever rulehook listens.
	req.URL = &url.URL{Path: req.URL.Path, RawPath: req.URL.RawPath, RawQuery: req.URL.RawQuery}
	req.Body = io.NopCloser(bytes.NewReader(ex.RequestBody))
	what := req.Method + " " + req.URL.Path
	route, params, err := v.router.FindRoute(req)
	if err != nil {
		if ex.Status != http.StatusNotFound && ex.Status != http.StatusMethodNotAllowed {
			return fmt.Errorf("%s is not in the OpenAPI document, yet was answered %d", what, ex.Status)
		}
		return checkErrorBody(what, ex)
	}
	in := &openapi3filter.RequestValidationInput{
		Request:    req,
		PathParams: params,
		Route:      route,
		Options:    &openapi3filter.Options{AuthenticationFunc: bearerPresent, MultiError: true},
	}
	if err := openapi3filter.ValidateRequest(ctx, in); err != nil && (ex.Status < 400 || ex.Status > 499) {
		return fmt.Errorf("%s: the request is outside the OpenAPI document, yet was answered %d: %v", what, ex.Status, err)
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 ex.Status,
		Header:                 ex.Header,
		Body:                   io.NopCloser(bytes.NewReader(ex.Body)),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		return fmt.Errorf("%s: answer %d (%s) does not match the OpenAPI document: %v", what, ex.Status, clip(ex.Body), err)
	}
	return nil
}

// bearerPresent accepts a request that carries a bearer token: whether the token is good is the
// server's to say, and its 401 is checked against the document like any answer.
func bearerPresent(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	h := in.RequestValidationInput.Request.Header.Get("Authorization")
	if scheme, tok, ok := strings.Cut(h, " "); ok && strings.EqualFold(scheme, "Bearer") && tok != "" {
		return nil
	}
	return errors.New("no bearer token")
}

// checkErrorBody holds an answer to an undocumented route to the contract's error shape.
func checkErrorBody(what string, ex Exchange) error {
	var e struct {
		Error   string `json:"error"`
		Message string `json:"message"`
	}
	if err := json.Unmarshal(ex.Body, &e); err != nil || e.Error == "" || e.Message == "" {
		return fmt.Errorf("%s: answer %d (%s) is not the contract's error shape", what, ex.Status, clip(ex.Body))
	}
	return nil
}

func clip(b []byte) string {
	const max = 200
	if len(b) > max {
		return string(b[:max]) + "..."
	}
	return string(b)
}
