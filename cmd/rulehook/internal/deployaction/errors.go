package deployaction

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/auth0/go-auth0/v3/management/core"

	"github.com/rulehook/rulehook/metadata/mgmt"
)

// Errors Deploy returns (wrapped; test with errors.Is). A refused or failed Management API call is
// an *APIError.
var (
	// ErrInvalidOptions: the Options are incomplete or invalid; nothing was sent.
	ErrInvalidOptions = errors.New("deployaction: invalid options")
	// ErrNameTaken: an Action with the name exists but does not support the post-login trigger.
	// Names are unique in a tenant, so it cannot be created either; nothing was changed.
	ErrNameTaken = errors.New("deployaction: the action name is taken by an action of another trigger")
	// ErrBuildFailed: Auth0 reported the Action (or its new version) as failed to build. The draft
	// holds the new code; the deployed version and the bindings are untouched.
	ErrBuildFailed = errors.New("deployaction: the action failed to build")
	// ErrBuildTimeout: the Action was not built and deployed within Options.BuildTimeout. Running
	// Deploy again picks up where this run stopped.
	ErrBuildTimeout = errors.New("deployaction: the action was not built and deployed in time")
)

// APIError is a Management API (or token) call that was refused or failed. It carries Auth0's
// short message, never a request body, token or secret value.
type APIError struct {
	Op      string // what was attempted, e.g. "create action", "token"
	Status  int    // HTTP status; 0 when there was no answer
	Message string // Auth0's message, or the transport error
}

func (e *APIError) Error() string {
	if e.Status == 0 {
		return fmt.Sprintf("deployaction: %s: %s", e.Op, e.Message)
	}
	msg := fmt.Sprintf("deployaction: %s: answered %d", e.Op, e.Status)
	if e.Message != "" {
		msg += ": " + e.Message
	}
	switch {
	case e.Op == "token" && (e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden):
		msg += " (are AUTH0_CLIENT_ID and AUTH0_CLIENT_SECRET right, and is the application authorised for the Management API?)"
	case e.Status == http.StatusUnauthorized, e.Status == http.StatusForbidden:
		msg += " (does the M2M application have read:actions, create:actions and update:actions?)"
	}
	return msg
}

// wrap turns a failed call into an *APIError with Auth0's message, scrubbed of secret values.
func (t *tenant) wrap(op string, err error) error {
	status, _ := mgmt.StatusOf(err)
	if status == 0 {
		return &APIError{Op: op, Message: scrub(transportMessage(err), t.redact)}
	}
	msg := ""
	var apiErr *core.APIError
	if errors.As(err, &apiErr) && apiErr.Unwrap() != nil { // go-auth0 keeps the raw body as the wrapped error
		raw := apiErr.Unwrap()
		var body struct {
			Message string `json:"message"`
		}
		if json.Unmarshal([]byte(raw.Error()), &body) == nil {
			msg = body.Message
		}
	}
	if len(msg) > 300 {
		msg = msg[:300] + "..."
	}
	return &APIError{Op: op, Status: status, Message: scrub(msg, t.redact)}
}

// transportMessage keeps the reason of a failed round trip without go-auth0's and net/http's
// prefixes.
func transportMessage(err error) string {
	var uerr *url.Error
	switch {
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, context.DeadlineExceeded):
		return "timed out"
	case errors.As(err, &uerr):
		if uerr.Timeout() {
			return "timed out"
		}
		return uerr.Err.Error()
	}
	return err.Error()
}

// scrub replaces every occurrence of a secret value in s.
func scrub(s string, values []string) string {
	for _, v := range values {
		if len(v) >= 4 { // shorter values ("open") are not secret and would mangle the text
			s = strings.ReplaceAll(s, v, "[redacted]")
		}
	}
	return s
}
