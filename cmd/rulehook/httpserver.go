package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// listener is one HTTP server rulehook runs: the main port, and /metrics when METRICS_ADDR is set.
type listener struct {
	name string
	ln   net.Listener
	srv  *http.Server
}

// newListener listens on addr, or serves on ln when it is not nil (dev opens its port first).
func newListener(name, addr string, ln net.Listener, h http.Handler, logger *slog.Logger) (*listener, error) {
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", addr); err != nil {
			return nil, fmt.Errorf("listen on %s for %s: %w", addr, name, err)
		}
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      15 * time.Second,
		IdleTimeout:       90 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	return &listener{name: name, ln: ln, srv: srv}, nil
}

// serveUntil serves every listener until ctx ends, then calls drain (readiness goes 503 first)
// and shuts the servers down gracefully within timeout, letting in-flight requests finish.
// It returns nil after a clean shutdown.
func serveUntil(ctx context.Context, logger *slog.Logger, timeout time.Duration, drain func(), ls ...*listener) error {
	errc := make(chan error, len(ls))
	for _, l := range ls {
		go func() {
			logger.Info("listening", "server", l.name, "addr", l.ln.Addr().String())
			if err := l.srv.Serve(l.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("%s server: %w", l.name, err)
			}
		}()
	}
	var serveErr error
	select {
	case <-ctx.Done():
		logger.Info("shutting down: readiness now fails, finishing in-flight requests", "timeout", timeout.String())
	case serveErr = <-errc:
		logger.Error("server failed, shutting down", "error", serveErr)
	}
	drain()
	sctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var shutdownErr error
	for _, l := range ls {
		if err := l.srv.Shutdown(sctx); err != nil {
			l.srv.Close() // cut what is left rather than leave it to the process exit
			shutdownErr = errors.Join(shutdownErr, fmt.Errorf("%s server shutdown: %w", l.name, err))
		}
	}
	if shutdownErr == nil && serveErr == nil {
		logger.Info("shutdown complete")
	}
	return errors.Join(serveErr, shutdownErr)
}
