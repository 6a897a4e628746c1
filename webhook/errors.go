package webhook

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"
)

// apiError is an error with its HTTP answer. Its code and message reach the client; its cause is
// logged once by the edge and never sent.
type apiError struct {
	status    int
	code      string
	message   string
	cause     error
	challenge string // WWW-Authenticate value on a 401
}

func (e *apiError) Error() string {
	if e.cause != nil {
		return e.code + ": " + e.message + ": " + e.cause.Error()
	}
	return e.code + ": " + e.message
}

func (e *apiError) Unwrap() error { return e.cause }

// errorBody is the contract's error shape.
type errorBody struct {
	Error   string `json:"error"`
	Message string `json:"message"`
}

func newError(status int, code, message string, cause error) *apiError {
	return &apiError{status: status, code: code, message: message, cause: cause}
}

func badRequest(message string, cause error) *apiError {
	return newError(http.StatusBadRequest, "bad_request", message, cause)
}

func unavailable(message string, cause error) *apiError {
	return newError(http.StatusServiceUnavailable, "unavailable", message, cause)
}

var (
	errTooLarge = newError(http.StatusRequestEntityTooLarge, "too_large",
		"the request body is larger than allowed", nil)
	errNotJSON = newError(http.StatusUnsupportedMediaType, "unsupported_media_type",
		"the request body must be application/json", nil)
)

// tooLarge reports whether err is a body read past its http.MaxBytesReader limit.
func tooLarge(err error) bool {
	var mbe *http.MaxBytesError
	return errors.As(err, &mbe)
}

// tokenError answers 401 with a Bearer challenge. An empty challenge error means no token was
// presented (RFC 6750 section 3.1: no error code then).
func tokenError(message string, cause error, missing bool) *apiError {
	e := newError(http.StatusUnauthorized, "invalid_token", message, cause)
	e.challenge = `Bearer error="invalid_token"`
	if missing {
		e.code = "missing_token"
		e.challenge = "Bearer"
	}
	return e
}

// httpErrorCodes names the errors echo itself returns (routing, mostly).
var httpErrorCodes = map[int]errorBody{
	http.StatusNotFound:              {"not_found", "no such route"},
	http.StatusMethodNotAllowed:      {"method_not_allowed", "method not allowed on this route"},
	http.StatusRequestEntityTooLarge: {"too_large", "the request body is larger than allowed"},
	http.StatusUnsupportedMediaType:  {"unsupported_media_type", "unsupported media type"},
	http.StatusBadRequest:            {"bad_request", "bad request"},
	http.StatusUnauthorized:          {"invalid_token", "unauthorized"},
}

// handleError is the one error mapper: every error becomes the contract's JSON shape. Internal
// detail goes to the request's log line only.
func (s *Server) handleError(err error, c echo.Context) {
	st := stateOf(c)
	ae := toAPIError(err)
	if st != nil && ae.cause != nil {
		st.err = ae.cause
	}
	if c.Response().Committed {
		return
	}
	if ae.challenge != "" {
		c.Response().Header().Set(echo.HeaderWWWAuthenticate, ae.challenge)
	}
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(ae.status)
		return
	}
	_ = c.JSON(ae.status, errorBody{Error: ae.code, Message: ae.message})
}

func toAPIError(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	if tooLarge(err) {
		return errTooLarge
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		body, ok := httpErrorCodes[he.Code]
		if !ok {
			body = errorBody{"error", http.StatusText(he.Code)}
		}
		return &apiError{status: he.Code, code: body.Error, message: body.Message, cause: he.Internal}
	}
	return newError(http.StatusInternalServerError, "internal", "internal error", err)
}
