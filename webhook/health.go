package webhook

import (
	"context"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
)

// readyTimeout bounds the Redis ping of /readyz.
const readyTimeout = time.Second

// healthz answers 200 while the process serves; it checks nothing else.
func (s *Server) healthz(c echo.Context) error {
	return c.String(http.StatusOK, "ok")
}

// readyz answers 200 when Redis answers, 503 when it does not or when the server is draining. It
// never depends on Auth0.
func (s *Server) readyz(c echo.Context) error {
	if s.drain.Load() {
		return newError(http.StatusServiceUnavailable, "draining", "the server is shutting down", nil)
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), min(readyTimeout, s.cfg.CalloutDeadline))
	defer cancel()
	if err := s.deps.Pinger.Ping(ctx); err != nil {
		s.m.redisErrors.Inc()
		return unavailable("redis does not answer", err)
	}
	return c.String(http.StatusOK, "ok")
}
