package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"

	"github.com/rulehook/rulehook/metadata/mgmt"
	"github.com/rulehook/rulehook/metadata/redisstore"
	"github.com/rulehook/rulehook/webhook"
)

func runServe(ctx context.Context, args []string, env *environment) error {
	if err := parseFlags(newFlagSet(env, "serve", serveEnvTable()), args); err != nil {
		return err
	}
	cfg, err := loadConfig(env.getenv)
	if err != nil {
		return err
	}
	return serve(ctx, cfg, newLogger(env.stderr, cfg.LogLevel, cfg.LogFormat), nil)
}

// newLogger logs to w at level, as JSON lines unless format is "text".
func newLogger(w io.Writer, level slog.Level, format string) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// stack is one running rulehook: its Redis client, its Management API writer and its HTTP edge.
type stack struct {
	rdb    redis.UniversalClient
	store  *redisstore.Store
	writer *mgmt.Writer // nil without M2M credentials (possible in WRITE_MODE=action)
	edge   *webhook.Server
}

// newStack connects the adapters described by cfg and builds the edge. Nothing is dialled yet:
// a Redis that is down makes the service unready, not unable to start.
func newStack(ctx context.Context, cfg config, logger *slog.Logger) (_ *stack, err error) {
	redisstore.SetLogger(logger)
	rdb, err := cfg.openRedis()
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			rdb.Close()
		}
	}()
	s := &stack{rdb: rdb, store: redisstore.New(rdb)}

	deps := webhook.Deps{Logins: s.store, Plays: s.store, App: s.store, Pinger: s.store, Shadow: s.store}
	if cfg.Auth0ClientID != "" && cfg.Auth0ClientSecret != "" {
		if s.writer, err = cfg.newWriter(s.store, logger, cfg.managementTimeout()); err != nil {
			return nil, err
		}
		// The app API's displayName PUT writes through the Management API in both modes. In
		// action mode the Action is the only writer of what the rules decide, so plays that cross
		// the threshold do not queue a rule re-run.
		deps.Writer, deps.Users = s.writer, s.writer
		if cfg.WriteMode == writeModeManagement {
			deps.Rerunner = s.writer
		}
	}

	wcfg := webhook.Config{
		Policy:             cfg.Policy,
		WriteMode:          cfg.WriteMode,
		FailOpen:           cfg.FailOpen,
		CalloutSecrets:     cfg.calloutSecrets(),
		CalloutAudience:    cfg.CalloutAudience,
		CalloutIssuer:      cfg.CalloutIssuer,
		CalloutDeadline:    cfg.CalloutDeadline,
		MaxBodyBytes:       cfg.MaxBodyBytes,
		MaxBodyMemoryBytes: cfg.MaxBodyMemory,
		LegacySecret:       cfg.LegacySecret,
		LegacyAudience:     cfg.LegacyAudience,
		LegacyIssuer:       cfg.LegacyIssuer,
		Logger:             logger,
		Registry:           prometheus.NewRegistry(),
		Version:            buildVersion(),
	}
	if cfg.APIAudience != "" {
		kf, err := webhook.JWKSKeyfunc(ctx, cfg.Auth0ManagementURL+"/.well-known/jwks.json", &http.Client{Timeout: 5 * time.Second})
		if err != nil {
			return nil, fmt.Errorf("jwks: %w", err)
		}
		wcfg.APIKeyfunc, wcfg.APIAudience, wcfg.APIIssuer = kf, cfg.APIAudience, cfg.APIIssuer
	}
	if s.edge, err = webhook.New(wcfg, deps); err != nil {
		return nil, fmt.Errorf("http edge: %w", err)
	}
	registerServeMetrics(wcfg.Registry, cfg)
	registerMgmtMetrics(wcfg.Registry, s.writer)
	return s, nil
}

// openRedis returns a client for the configured topology; it does not dial yet.
func (c config) openRedis() (redis.UniversalClient, error) {
	rdb, err := redisstore.Open(redisstore.Options{
		URL:            c.RedisURL,
		ClusterAddrs:   c.RedisClusterAddrs,
		SentinelAddrs:  c.RedisSentinelAddrs,
		SentinelMaster: c.RedisSentinelMaster,
		Username:       c.RedisUsername,
		Password:       c.RedisPassword,
		Timeout:        c.RedisTimeout,
	})
	if err != nil {
		return nil, fmt.Errorf("redis: %w", err)
	}
	return rdb, nil
}

// newWriter builds the Management API writer on store's retry queue, audit trail and play counts.
// timeout bounds each Management API call.
func (c config) newWriter(store *redisstore.Store, logger *slog.Logger, timeout time.Duration) (*mgmt.Writer, error) {
	w, err := mgmt.New(mgmt.Config{
		BaseURL:      c.Auth0ManagementURL,
		ClientID:     c.Auth0ClientID,
		ClientSecret: c.Auth0ClientSecret,
		Audience:     "https://" + c.Auth0Domain + "/api/v2/",
		Timeout:      timeout,
		Policy:       c.Policy,
		Logger:       logger.With("component", "mgmt"),
		Auditor:      store,
	}, store, store)
	if err != nil {
		return nil, fmt.Errorf("management api: %w", err)
	}
	return w, nil
}

// managementTimeout is the per-call timeout of the Management API: well inside the callout
// deadline, so that a failed PATCH still leaves time to queue the write and answer.
func (c config) managementTimeout() time.Duration {
	return c.CalloutDeadline * 6 / 10
}

// serve runs a stack until ctx ends. ready, when not nil, receives the address the HTTP server
// listens on once it accepts connections (tests and `dev` use it).
func serve(ctx context.Context, cfg config, logger *slog.Logger, ready func(addr string)) error {
	s, err := newStack(ctx, cfg, logger)
	if err != nil {
		return err
	}
	return s.serve(ctx, cfg, logger, s.edge.Handler(), ready)
}

// serve runs the stack's listeners and workers until ctx ends, with main on LISTEN_ADDR (the
// edge's handler, or dev's console in front of it), and closes the stack.
func (s *stack) serve(ctx context.Context, cfg config, logger *slog.Logger, main http.Handler, ready func(addr string)) error {
	defer s.rdb.Close()
	checked := make(chan struct{})
	go func() { defer close(checked); warnEviction(ctx, s.store, logger) }()
	defer func() { <-checked }()

	metricsHandler := http.Handler(nil)
	if cfg.MetricsAddr != "" {
		metricsHandler = promhttp.HandlerFor(s.edge.Registry(), promhttp.HandlerOpts{})
	}
	ls := []*listener{}
	l, err := newListener("http", cfg.ListenAddr, cfg.listener, main, logger)
	if err != nil {
		return err
	}
	ls = append(ls, l)
	if metricsHandler != nil {
		ml, err := newListener("metrics", cfg.MetricsAddr, nil, metricsHandler, logger)
		if err != nil {
			l.ln.Close()
			return err
		}
		ls = append(ls, ml)
	}

	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	var workers sync.WaitGroup
	if s.writer != nil {
		// Outside management mode rulehook writes only the app API's own writes: the Action, or
		// the old Rules in shadow mode, write what the rules decide.
		opts := mgmt.WorkerOptions{ExplicitOnly: cfg.WriteMode != writeModeManagement}
		for i := range cfg.QueueWorkers {
			workers.Go(func() {
				err := s.writer.RunWorker(workCtx, workerName(i), opts)
				if err != nil && workCtx.Err() == nil {
					logger.Error("retry-queue worker stopped", "error", err)
				}
			})
		}
	}
	if ready != nil {
		ready(l.ln.Addr().String())
	}
	err = serveUntil(ctx, logger, cfg.ShutdownTimeout, s.edge.Drain, ls...)
	stopWork()
	workers.Wait()
	return err
}

// evictionCheckTimeout bounds the start-up check of Redis's maxmemory-policy.
const evictionCheckTimeout = 2 * time.Second

// warnEviction logs a warning when Redis may evict play counts (maxmemory-policy other than
// noeviction). A Redis that is down or refuses CONFIG GET is not checked: /readyz reports the
// first, and the second is common on managed Redis.
func warnEviction(ctx context.Context, store *redisstore.Store, logger *slog.Logger) {
	ctx, cancel := context.WithTimeout(ctx, evictionCheckTimeout)
	defer cancel()
	policy, err := store.MaxmemoryPolicy(ctx)
	switch {
	case err != nil:
		logger.Debug("redis maxmemory-policy not checked at start", "error", err.Error())
	case policy == "":
		logger.Info("redis refuses CONFIG GET: maxmemory-policy not checked (it should be noeviction)")
	case webhook.EvictionWarning(policy) != "":
		logger.Warn(webhook.EvictionWarning(policy), "maxmemory_policy", policy)
	}
}

func workerName(i int) string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s-%d-%d", host, os.Getpid(), i)
}
