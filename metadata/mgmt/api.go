package mgmt

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/auth0/go-auth0/v3/management"
	"github.com/auth0/go-auth0/v3/management/option"
	"github.com/sony/gobreaker/v2"

	"github.com/rulehook/rulehook/metadata"
)

// failKind sorts a failed call by what the caller should do about it.
type failKind int

const (
	// kindTransient: 5xx, 408, a timeout, a network or token failure, the breaker open, a 200 whose
	// body is not the user asked for. Retried later; counts against the breaker.
	kindTransient failKind = iota + 1
	// kindRateLimited: a 429, or the gate closed. Retried after the reset.
	kindRateLimited
	// kindInvalid: another 4xx (400, 409, 413, ...); the request itself is refused and is not
	// retried.
	kindInvalid
	// kindNotFound: 404, the user does not exist.
	kindNotFound
	// kindCanceled: the caller's context was canceled before an answer.
	kindCanceled
	// kindConfig: a 403, or a 401 that a fresh token did not cure: the credentials or the grant's
	// scopes are wrong. Parked (see parkLot) and retried after Config.ConfigRetry.
	kindConfig
)

var (
	errBreakerOpen = errors.New("circuit breaker open")
	// errReadOK marks a read that succeeded, for the breaker to exclude.
	errReadOK = errors.New("read succeeded")
)

// callError is a failed Management API call. It never carries the upstream body. It wraps the
// metadata sentinel of its kind (a *metadata.RateLimitError when rate limited) and the cause.
type callError struct {
	op     string
	kind   failKind
	status int       // HTTP status; 0 when there was no answer
	reset  time.Time // when rate limited: when the gate opens
	noCall bool      // nothing was sent (gate closed, breaker open)
	cause  error
}

func (e *callError) Error() string {
	msg := "management api " + e.op
	switch {
	case e.noCall && e.kind == kindRateLimited:
		msg += ": not sent, rate limited until " + e.reset.UTC().Format(time.RFC3339)
	case e.noCall && e.kind == kindConfig:
		msg += ": not sent, configuration error, retried at " + e.reset.UTC().Format(time.RFC3339)
	case e.kind == kindConfig:
		msg += fmt.Sprintf(": answered %d (configuration error)", e.status)
	case e.noCall:
		msg += ": not sent"
	case e.status != 0:
		msg += fmt.Sprintf(": answered %d", e.status)
	}
	if e.cause != nil {
		msg += ": " + e.cause.Error()
	}
	return msg
}

func (e *callError) Unwrap() []error {
	var sentinel error
	switch e.kind {
	case kindRateLimited:
		sentinel = &metadata.RateLimitError{Reset: e.reset}
	case kindInvalid:
		sentinel = metadata.ErrInvalid
	case kindNotFound:
		sentinel = metadata.ErrNotFound
	default:
		sentinel = metadata.ErrUnavailable
	}
	if e.cause == nil {
		return []error{sentinel}
	}
	return []error{sentinel, e.cause}
}

// retryable reports whether the write should be queued rather than reported as refused.
func (e *callError) retryable() bool { return e.kind != kindInvalid && e.kind != kindNotFound }

func kindOf(err error) failKind {
	var ce *callError
	if errors.As(err, &ce) {
		return ce.kind
	}
	return kindTransient
}

// breakerSuccess: the tenant answered sanely, even if it refused the request.
func breakerSuccess(err error) bool {
	k := kindOf(err)
	return err == nil || k == kindInvalid || k == kindNotFound
}

// breakerExcluded: a 429 says nothing about the tenant's health (the gate handles it), nor does
// a caller giving up, nor a read that succeeded (the breaker counts write failures, and a
// tenant that serves reads may still fail every write).
func breakerExcluded(err error) bool {
	if errors.Is(err, errReadOK) {
		return true
	}
	k := kindOf(err)
	return err != nil && (k == kindRateLimited || k == kindCanceled)
}

// apiCall issues one request through go-auth0 with the given options and returns the answer's
// status and headers on success.
type apiCall func(ctx context.Context, opts ...option.RequestOption) (int, http.Header, error)

// call runs do once: not at all while the budget refuses it (Budget.Wait, with ctx's priority) or
// the breaker is open, otherwise with a cached token, without go-auth0's retrier (whose sleeps
// ignore the context), and bounded by ctx.
// A configuration error parks the calls of its kind: they are not made until it ends, and are
// refused before the budget, so that they neither wait for it nor book a call.
func (w *Writer) call(ctx context.Context, op string, do apiCall) error {
	if parked, until := w.park.blocked(op); parked {
		return &callError{op: op, kind: kindConfig, reset: until, noCall: true}
	}
	if err := w.gate.Wait(ctx, PriorityOf(ctx)); err != nil {
		return notSent(ctx, op, err)
	}
	_, err := w.breaker.Execute(func() (struct{}, error) {
		err := w.attempt(ctx, op, do)
		if err == nil && classOf(op) == classRead {
			return struct{}{}, errReadOK // excluded: a read that succeeds says nothing of writes
		}
		return struct{}{}, err
	})
	switch {
	case errors.Is(err, errReadOK):
		return nil
	case errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests):
		return &callError{op: op, kind: kindTransient, noCall: true, cause: errBreakerOpen}
	}
	return err
}

func (w *Writer) attempt(ctx context.Context, op string, do apiCall) error {
	token, err := w.tokens.Token(ctx)
	if err != nil {
		return w.tokenFailure(ctx, op, err)
	}
	err = w.send(ctx, op, do, token)
	if statusOf(err) == http.StatusUnauthorized && w.tokens.refreshFor(token) {
		if token, err = w.tokens.Token(ctx); err != nil {
			return w.tokenFailure(ctx, op, err)
		}
		err = w.send(ctx, op, do, token)
	}
	switch status := statusOf(err); {
	case err == nil:
		w.park.clear(op)
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		ce := err.(*callError)
		ce.kind, ce.reset = kindConfig, w.park.park(op, status, missingScopes(ce.cause))
		ce.cause = nil // the upstream body stays out of every error string
	}
	return err
}

// tokenFailure sorts a call that got no token. The token endpoint refusing the credentials (401)
// or the grant (403) is a configuration error that parks every call.
func (w *Writer) tokenFailure(ctx context.Context, op string, err error) error {
	w.stats.tokenErrors.Add(1)
	var ans *retryableAnswer
	switch {
	case errors.As(err, &ans) && ans.status == http.StatusTooManyRequests:
		w.gate.observe(ans.status, ans.header)
		_, reset := w.gate.closed()
		return &callError{op: op, kind: kindRateLimited, reset: reset, cause: err}
	case errors.As(err, &ans) && (ans.status == http.StatusUnauthorized || ans.status == http.StatusForbidden):
		until := w.park.park(opToken, ans.status, nil)
		return &callError{op: op, kind: kindConfig, status: ans.status, reset: until, cause: err}
	}
	return &callError{op: op, kind: ctxKind(ctx), cause: err}
}

// send makes one request with token and sorts its failure. A 401 or 403 comes back as kindTransient
// with the upstream error as cause; attempt decides whether it is a configuration error.
func (w *Writer) send(ctx context.Context, op string, do apiCall, token string) error {
	// WithoutRetries must be given per request: go-auth0 v3.4.0 ignores it at client level.
	status, header, err := do(ctx, option.WithToken(token), option.WithoutRetries())
	if err == nil {
		w.stats.count(status)
		w.gate.observe(status, header)
		return nil
	}
	if status, header = StatusOf(err); status == 0 {
		w.stats.count(0)
		return &callError{op: op, kind: ctxKind(ctx), cause: transportError(err)}
	}
	w.stats.count(status)
	w.gate.observe(status, header)
	e := &callError{op: op, status: status}
	switch {
	case status == http.StatusTooManyRequests:
		e.kind = kindRateLimited
		_, e.reset = w.gate.closed()
	case status == http.StatusUnauthorized, status == http.StatusForbidden:
		e.kind, e.cause = kindTransient, err
	case status == http.StatusNotFound:
		e.kind = kindNotFound
	case status >= 400 && status < 500 && status != http.StatusRequestTimeout:
		e.kind = kindInvalid
	default:
		e.kind = kindTransient
	}
	return e
}

// statusOf is the HTTP status of a failed call, 0 when there was none.
func statusOf(err error) int {
	var ce *callError
	if errors.As(err, &ce) {
		return ce.status
	}
	return 0
}

// ctxKind tells a caller that went away from a tenant that did not answer in time.
func ctxKind(ctx context.Context) failKind {
	if errors.Is(ctx.Err(), context.Canceled) {
		return kindCanceled
	}
	return kindTransient
}

// transportError keeps the reason of a failed round trip and drops the URL go-auth0 and net/http
// put in front of it.
func transportError(err error) error {
	var timeout interface{ Timeout() bool }
	switch {
	case errors.Is(err, context.Canceled):
		return context.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		return context.DeadlineExceeded
	case errors.As(err, &timeout) && timeout.Timeout():
		return context.DeadlineExceeded
	}
	if cause := errors.Unwrap(err); cause != nil { // *url.Error → its cause
		return cause
	}
	return err
}

// patchUser sends one PATCH /api/v2/users/{id} carrying only the non-empty metadata objects.
func (w *Writer) patchUser(ctx context.Context, id string, p metadata.Patch) error {
	req := &management.UpdateUserRequestContent{}
	if len(p.AppMetadata) > 0 {
		m := management.AppMetadata(p.AppMetadata)
		req.AppMetadata = &m
	}
	if len(p.UserMetadata) > 0 {
		m := management.UserMetadata(p.UserMetadata)
		req.UserMetadata = &m
	}
	return w.call(ctx, "PATCH user", func(ctx context.Context, opts ...option.RequestOption) (int, http.Header, error) {
		resp, err := w.api.Users.WithRawResponse.Update(ctx, id, req, opts...)
		if err != nil {
			return 0, nil, err
		}
		return resp.StatusCode, resp.Header, nil
	})
}

// getUser reads the user's id and metadata (not the profile: no email crosses this package).
// The answer is decoded with metadata.DecodeUser (exact keys, CONTRACT rule 7); a body that is not
// the user asked for (another or no user_id, metadata that is not an object) is a tenant error:
// retried later, never acted on.
func (w *Writer) getUser(ctx context.Context, id string) (metadata.User, error) {
	fields, include := "user_id,app_metadata,user_metadata", true
	req := &management.GetUserRequestParameters{Fields: &fields, IncludeFields: &include}
	raw := "null"
	err := w.call(ctx, "GET user", func(ctx context.Context, opts ...option.RequestOption) (int, http.Header, error) {
		resp, err := w.api.Users.WithRawResponse.Get(ctx, id, req, opts...)
		if err != nil {
			return 0, nil, err
		}
		if resp.Body != nil {
			raw = resp.Body.String() // go-auth0 keeps the answer's JSON as it came
		}
		return resp.StatusCode, resp.Header, nil
	})
	if err != nil {
		return metadata.User{}, err
	}
	return checkedUser("GET user", id, raw)
}

// checkedUser decodes a user from the JSON of an answer and checks that it is the user asked for
// when want is not "".
func checkedUser(op, want, raw string) (metadata.User, error) {
	u, err := metadata.DecodeUser([]byte(raw))
	switch {
	case err != nil: // the message only: DecodeUser's error wraps ErrInvalid, a caller's fault
		return metadata.User{}, &callError{op: op, kind: kindTransient, status: http.StatusOK, cause: errors.New(err.Error())}
	case want != "" && u.ID != want:
		return metadata.User{}, &callError{op: op, kind: kindTransient, status: http.StatusOK,
			cause: errors.New("the answer is not the user asked for")}
	}
	return u, nil
}

// noRetrySleepTransport hands the answers go-auth0's retrier acts on (408, 429, 5xx) back as an
// *retryableAnswer instead of a response. go-auth0 v3.4.0 sleeps the retry delay before returning
// such an answer even with WithoutRetries (up to 60 s, X-RateLimit-Reset included, ignoring the
// context); an error from the transport is returned at once.
type noRetrySleepTransport struct{ next http.RoundTripper }

// retryableAnswer is an answer that noRetrySleepTransport took away from go-auth0.
type retryableAnswer struct {
	status int
	header http.Header
}

func (e *retryableAnswer) Error() string { return fmt.Sprintf("answered %d", e.status) }

func (t noRetrySleepTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if s := resp.StatusCode; s == http.StatusRequestTimeout || s == http.StatusTooManyRequests || s >= 500 {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
		_ = resp.Body.Close()
		return nil, &retryableAnswer{status: s, header: resp.Header}
	}
	return resp, nil
}
