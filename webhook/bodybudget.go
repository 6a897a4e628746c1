package webhook

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
)

// bodyBudget bounds the bytes of request bodies the process holds in memory at once. A callout
// reserves its body's declared length (MaxBodyBytes when the length is unknown) before it reads a
// byte, and gives it back once the event is decoded. When the budget is spent the callout is
// answered 503 at once: a flood of slow bodies costs a few MiB and a fast answer, never an OOM.
// Bodies larger than largeBody may fill only half of the budget, so that the Action's usual
// half-kilobyte events always find room, even while large bodies hold theirs.
type bodyBudget struct {
	limit int64
	used  atomic.Int64
}

// largeBody is the size above which a body counts against half of the budget only.
const largeBody = 64 << 10

// take reserves n bytes; false when they would exceed the budget.
func (b *bodyBudget) take(n int64) bool {
	limit := b.limit
	if n > largeBody {
		limit /= 2
	}
	if b.used.Add(n) > limit {
		b.used.Add(-n)
		return false
	}
	return true
}

func (b *bodyBudget) give(n int64) { b.used.Add(-n) }

type readDeadliner interface{ SetReadDeadline(time.Time) error }

var errBodyBudget = &apiError{status: http.StatusServiceUnavailable, code: "unavailable",
	message: "too many callout bodies in flight; retry"}

var bodyPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledBody keeps one huge body from pinning memory in the pool.
const maxPooledBody = 64 << 10

// calloutBody is one callout's body, read within the budget. release gives back both the
// reservation and the buffer; the bytes must not be used after it.
type calloutBody struct {
	buf      *bytes.Buffer
	reserved int64
	budget   *bodyBudget
}

func (b *calloutBody) bytes() []byte { return b.buf.Bytes() }

func (b *calloutBody) release() {
	if b.buf == nil {
		return
	}
	b.budget.give(b.reserved)
	if b.buf.Cap() <= maxPooledBody {
		bodyPool.Put(b.buf)
	}
	b.buf = nil
}

// readBody reads the request body within the budget and by ctx's deadline (a body that dribbles
// in is cut there). It returns the metrics reason and the error to answer on failure.
func (s *Server) readBody(ctx context.Context, c echo.Context) (calloutBody, string, error) {
	req := c.Request()
	n := req.ContentLength
	if n < 0 {
		n = s.cfg.MaxBodyBytes
	}
	if !s.bodies.take(n) {
		c.Response().Header().Set("Retry-After", "1")
		return calloutBody{}, reasonOverloaded, errBodyBudget
	}
	body := calloutBody{buf: bodyPool.Get().(*bytes.Buffer), reserved: n, budget: &s.bodies}
	body.buf.Reset()
	body.buf.Grow(int(n) + bytes.MinRead) // ReadFrom then never grows past the reservation
	// net/http's ResponseWriter, under echo's, sets the connection's read deadline; httptest's
	// cannot (the server's own ReadTimeout still applies then).
	if rd, ok := c.Response().Writer.(readDeadliner); ok {
		if deadline, ok := ctx.Deadline(); ok {
			_ = rd.SetReadDeadline(deadline.Add(-time.Millisecond))
		}
	}
	if _, err := body.buf.ReadFrom(req.Body); err != nil {
		body.release()
		switch {
		case tooLarge(err):
			return calloutBody{}, reasonTooLarge, errTooLarge
		case errors.Is(err, os.ErrDeadlineExceeded):
			return calloutBody{}, reasonBadEvent, badRequest("the request body did not arrive in time", err)
		}
		return calloutBody{}, reasonBadEvent, badRequest("the request body could not be read", err)
	}
	return body, "", nil
}
