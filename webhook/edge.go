package webhook

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/labstack/echo/v4"
)

// MaxRequestIDBytes bounds an X-Request-Id accepted from a client.
const MaxRequestIDBytes = 128

// reqState is what the edge knows about one request: its id, and what the handler wants on the
// request's single log line.
type reqState struct {
	id     string
	caller string // the app API's authenticated caller (requireAppToken)
	user   string // the callout's user; with caller, redacted from the logged error
	attrs  []slog.Attr
	err    error // internal cause of a failure, logged once
	quiet  bool  // a routine success (a login that changed nothing): logged at debug
	buf    [8]slog.Attr
}

func (st *reqState) add(attrs ...slog.Attr) { st.attrs = append(st.attrs, attrs...) }

// edgeContext carries the request's state with its echo.Context, so that the edge neither
// allocates echo's per-request store map nor a state of its own: both come from a pool.
type edgeContext struct {
	echo.Context
	st reqState
}

var edgePool = sync.Pool{New: func() any { return new(edgeContext) }}

func stateOf(c echo.Context) *reqState {
	if ec, ok := c.(*edgeContext); ok {
		return &ec.st
	}
	return nil
}

// setRequestID takes the client's X-Request-Id when it is well formed, else makes a new one,
// and sets it on the response.
func (st *reqState) setRequestID(given string, h http.Header) {
	if validRequestID(given) {
		st.id = given
		h[echo.HeaderXRequestID] = []string{given}
		return
	}
	box := newRequestID()
	st.id = box.vals[0]
	h[echo.HeaderXRequestID] = box.vals[:]
}

// Request ids are a random per-process prefix and a counter: unique, 26 characters like
// rand.Text, without a call into the kernel's random source per request.
var (
	requestIDPrefix = rand.Text()[:13]
	requestIDSeq    atomic.Uint64
)

// requestIDBox holds a new request id's bytes and the header value slice that carries it, so
// that both cost one allocation. The bytes are written once, before the string is made, and
// never changed: the string is immutable as Go requires.
type requestIDBox struct {
	vals [1]string
	b    [26]byte
}

func newRequestID() *requestIDBox {
	const digits = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567" // base32, as rand.Text
	box := new(requestIDBox)
	copy(box.b[:], requestIDPrefix)
	n := requestIDSeq.Add(1)
	for i := len(box.b) - 1; i >= 13; i-- {
		box.b[i] = digits[n&31]
		n >>= 5
	}
	box.vals[0] = unsafe.String(&box.b[0], len(box.b))
	return box
}

func validRequestID(id string) bool {
	if id == "" || len(id) > MaxRequestIDBytes {
		return false
	}
	for i := 0; i < len(id); i++ {
		b := id[i]
		switch {
		case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9', b == '.', b == '_', b == '-':
		default:
			return false
		}
	}
	return true
}

// edge wraps every route: request id, body limit, panic recovery, the error mapper, the
// request's log line and its metrics.
func (s *Server) edge(next echo.HandlerFunc) echo.HandlerFunc {
	return func(ec echo.Context) error {
		start := time.Now()
		c := edgePool.Get().(*edgeContext)
		c.Context = ec
		c.st = reqState{}
		st := &c.st
		st.attrs = st.buf[:0]
		st.setRequestID(ec.Request().Header.Get(echo.HeaderXRequestID), c.Response().Header())

		err := s.limitBody(c)
		if err == nil {
			err = runSafely(next, c)
		}
		if err != nil {
			s.handleError(err, c)
		}
		s.finish(c, st, start)
		*c = edgeContext{}
		edgePool.Put(c)
		return nil
	}
}

// limitBody answers 413 from Content-Length before any other work, and caps what a handler can
// read when the length is unknown.
func (s *Server) limitBody(c echo.Context) error {
	req := c.Request()
	if req.ContentLength > s.cfg.MaxBodyBytes {
		return errTooLarge
	}
	// A known length is already enforced by net/http's body reader (never more than
	// Content-Length), and was checked above.
	if req.ContentLength < 0 && req.Body != nil && req.Body != http.NoBody {
		req.Body = http.MaxBytesReader(c.Response(), req.Body, s.cfg.MaxBodyBytes)
	}
	return nil
}

func runSafely(next echo.HandlerFunc, c echo.Context) (err error) {
	defer func() {
		if r := recover(); r != nil {
			if r == http.ErrAbortHandler {
				panic(r)
			}
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return next(c)
}

// finish counts the request and writes its one log line.
func (s *Server) finish(c echo.Context, st *reqState, start time.Time) {
	status := c.Response().Status
	route := c.Path()
	if !s.routes[route] {
		route = routeOther
	}
	s.m.apiRequest(route, c.Request().Method, status, start)

	level := slog.LevelInfo
	switch {
	case route == routeHealthz || route == routeReadyz || route == routeMetrics:
		level = slog.LevelDebug
		if status >= 500 {
			level = slog.LevelWarn
		}
	case status >= 500:
		level = slog.LevelError
	case st.quiet, status < 400 && (c.Request().Method == http.MethodGet || c.Request().Method == http.MethodHead):
		// A login that changed nothing, or a read: routine, counted in the metrics either way.
		level = slog.LevelDebug
	}
	ctx := c.Request().Context()
	if !s.cfg.Logger.Enabled(ctx, level) {
		return
	}
	attrs := make([]slog.Attr, 0, 8+len(st.attrs))
	attrs = append(attrs,
		slog.String("request_id", st.id),
		slog.String("method", c.Request().Method),
		slog.String("route", route),
		slog.Int("status", status),
		slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
	)
	attrs = append(attrs, st.attrs...)
	if st.err != nil {
		attrs = append(attrs, errAttr(st.err, st.caller, st.user))
	}
	s.cfg.Logger.LogAttrs(ctx, level, "request", attrs...)
}

// logWarn writes an extra log line for the request (a failure that does not fail the request).
func (s *Server) logWarn(c echo.Context, msg string, attrs ...slog.Attr) {
	if st := stateOf(c); st != nil {
		attrs = append(attrs, slog.String("request_id", st.id))
	}
	s.cfg.Logger.LogAttrs(context.WithoutCancel(c.Request().Context()), slog.LevelWarn, msg, attrs...)
}

func statusLabel(code int) string {
	switch code {
	case http.StatusOK:
		return "200"
	case http.StatusCreated:
		return "201"
	case http.StatusBadRequest:
		return "400"
	case http.StatusUnauthorized:
		return "401"
	case http.StatusNotFound:
		return "404"
	case http.StatusServiceUnavailable:
		return "503"
	}
	return strconv.Itoa(code)
}
