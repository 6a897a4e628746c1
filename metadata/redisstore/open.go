package redisstore

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rulehook/rulehook/metadata"
)

// DefaultTimeout bounds each dial, read and write (and the wait for a pooled connection) when
// Options.Timeout is zero. Redis answers in well under a millisecond; anything slower than this
// is an outage that the login path must not wait for.
const DefaultTimeout = 300 * time.Millisecond

// DefaultMaxRetries is how many times a command that is safe to repeat is re-sent after a
// network failure when Options.MaxRetries is zero.
const DefaultMaxRetries = 1

// Options says which Redis to use: exactly one of URL, ClusterAddrs or SentinelAddrs.
type Options struct {
	// URL of a single Redis: redis://[[user]:password@]host[:port][/db] or rediss:// for TLS
	// (REDIS_URL). Query parameters go-redis understands (dial_timeout, pool_size, ...) are honoured.
	URL string
	// ClusterAddrs are seed nodes of a Redis Cluster, host:port (REDIS_CLUSTER_ADDRS).
	ClusterAddrs []string
	// SentinelAddrs are Sentinels, host:port, monitoring SentinelMaster
	// (REDIS_SENTINEL_ADDRS, REDIS_SENTINEL_MASTER).
	SentinelAddrs  []string
	SentinelMaster string

	// Username, Password and TLSConfig apply to Cluster nodes and to the Sentinels' master; a URL
	// carries its own.
	Username, Password string
	TLSConfig          *tls.Config

	// Timeout bounds every dial, read, write and pool wait; DefaultTimeout when zero. Context
	// deadlines are honoured as well, so a caller's shorter deadline wins.
	Timeout time.Duration
	// MaxRetries is how often an idempotent command is re-sent after a network failure:
	// DefaultMaxRetries when zero, none when negative. Non-idempotent commands are never re-sent.
	MaxRetries int
	// PoolSize is the number of connections per node; go-redis's default (10 per CPU) when zero.
	PoolSize int
}

// Open returns a client for the Redis that opts names. It does not connect: the first command
// does, so a process can start (and report not ready) while Redis is down. The client returned
// is a *redis.Client for a URL or Sentinel and a *redis.ClusterClient for a Cluster; the caller
// closes it. Open returns an error wrapping metadata.ErrInvalid when opts is incomplete or
// contradictory; the error never repeats a password.
func Open(opts Options) (redis.UniversalClient, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	timeout := cmp.Or(opts.Timeout, DefaultTimeout)
	retries := opts.MaxRetries
	switch {
	case retries == 0:
		retries = DefaultMaxRetries
	case retries < 0:
		retries = -1 // go-redis: -1 disables retries
	}
	// One set of options for every topology: NewUniversalClient makes a failover client when
	// MasterName is set and a cluster client when IsClusterMode is.
	u := &redis.UniversalOptions{
		Dialer:        dialerFor(timeout, opts.TLSConfig),
		Addrs:         append(slices.Clone(opts.ClusterAddrs), opts.SentinelAddrs...),
		IsClusterMode: len(opts.ClusterAddrs) > 0,
		MasterName:    opts.SentinelMaster,
		Username:      opts.Username, Password: opts.Password, TLSConfig: opts.TLSConfig,
		DialTimeout: timeout, ReadTimeout: timeout, WriteTimeout: timeout, PoolTimeout: timeout,
		ContextTimeoutEnabled: true,
		DialerRetries:         1,
		MaxRetries:            retries,
		MinRetryBackoff:       5 * time.Millisecond, MaxRetryBackoff: 50 * time.Millisecond,
		PoolSize:       opts.PoolSize,
		Protocol:       protocol,
		ReadBufferSize: bufferSize, WriteBufferSize: bufferSize,
		PipelineReadBufferSize: bufferSize, PipelineWriteBufferSize: bufferSize,
	}
	if opts.URL == "" {
		return redis.NewUniversalClient(u), nil
	}
	// A single Redis: the URL carries its address and credentials, and its own query settings
	// win over the ones above.
	o, err := redis.ParseURL(opts.URL)
	if err != nil {
		return nil, fmt.Errorf("%w: redis URL: %v", metadata.ErrInvalid, scrub(err))
	}
	o.DialTimeout, o.ReadTimeout = cmp.Or(o.DialTimeout, u.DialTimeout), cmp.Or(o.ReadTimeout, u.ReadTimeout)
	o.WriteTimeout, o.PoolTimeout = cmp.Or(o.WriteTimeout, u.WriteTimeout), cmp.Or(o.PoolTimeout, u.PoolTimeout)
	o.MaxRetries, o.PoolSize = cmp.Or(o.MaxRetries, u.MaxRetries), cmp.Or(o.PoolSize, u.PoolSize)
	o.ContextTimeoutEnabled, o.DialerRetries = u.ContextTimeoutEnabled, u.DialerRetries
	o.MinRetryBackoff, o.MaxRetryBackoff = u.MinRetryBackoff, u.MaxRetryBackoff
	if o.Dialer == nil {
		o.Dialer = dialerFor(o.DialTimeout, o.TLSConfig)
	}
	o.Protocol = cmp.Or(o.Protocol, u.Protocol)
	for _, n := range []*int{&o.ReadBufferSize, &o.WriteBufferSize, &o.PipelineReadBufferSize, &o.PipelineWriteBufferSize} {
		*n = cmp.Or(*n, bufferSize)
	}
	return redis.NewClient(o), nil
}

// protocol is the Redis protocol version spoken, RESP2, and why: rulehook uses none of RESP3's
// additions (push notifications, client-side caching, maintenance notifications), and under
// RESP3 go-redis drains pending push notifications before reading every reply, on the login's
// hot path. The replies rulehook reads (strings, integers, arrays) are the same in both. A URL's
// protocol=3 is honoured.
const protocol = 2

// bufferSize sizes each connection's read and write buffers, regular and pipelined, and why:
// go-redis's defaults are 32 KiB (128 KiB for its pipeline pool) per direction and connection,
// about 4 MiB resident for the pools under load, while rulehook's commands and replies are a
// few hundred bytes. A longer reply or batch still works: go-redis reads a line longer than
// the buffer in pieces and reads bulk strings straight into their own slice, and a batch longer
// than the buffer is written in several writes. A URL's pipeline_read_buffer_size and
// pipeline_write_buffer_size are honoured.
const bufferSize = 8 << 10

// dialerFor returns a dialer for plain TCP whose connections go-redis does not probe each time
// it takes one from the pool, and why: go-redis v9.23 has no option to turn that probe off, and
// it is a recvfrom(MSG_PEEK) system call on every command of the login's hot path. go-redis
// probes only connections that expose their file descriptor (syscall.Conn); these hide it, as
// TLS connections always do. What changes: a connection Redis closed while it sat in the pool
// (a restart, a failover, a client timeout) is found when it is used, not when it is taken, and
// the command fails over to a new connection through go-redis's retry (MaxRetries, on by
// default for commands that are safe to repeat). Nil for TLS, where go-redis's own dialer
// already behaves so.
func dialerFor(timeout time.Duration, tlsConfig *tls.Config) func(context.Context, string, string) (net.Conn, error) {
	if tlsConfig != nil {
		return nil
	}
	d := &net.Dialer{Timeout: timeout, KeepAlive: 5 * time.Minute} // go-redis's own settings
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return unprobed{c}, nil
	}
}

// unprobed hides its connection's file descriptor from go-redis's pool health probe.
type unprobed struct{ net.Conn }

func (o Options) validate() error {
	var set int
	for _, b := range []bool{o.URL != "", len(o.ClusterAddrs) > 0, len(o.SentinelAddrs) > 0} {
		if b {
			set++
		}
	}
	switch {
	case set == 0:
		return fmt.Errorf("%w: no Redis given: set a URL, Cluster addresses or Sentinel addresses", metadata.ErrInvalid)
	case set > 1:
		return fmt.Errorf("%w: give only one of a Redis URL, Cluster addresses or Sentinel addresses", metadata.ErrInvalid)
	case o.Timeout < 0:
		return fmt.Errorf("%w: Redis timeout is negative", metadata.ErrInvalid)
	case len(o.SentinelAddrs) > 0 && o.SentinelMaster == "":
		return fmt.Errorf("%w: Sentinel addresses need the master name", metadata.ErrInvalid)
	case len(o.SentinelAddrs) == 0 && o.SentinelMaster != "":
		return fmt.Errorf("%w: a Sentinel master name needs Sentinel addresses", metadata.ErrInvalid)
	}
	for _, addr := range append(o.ClusterAddrs, o.SentinelAddrs...) {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return fmt.Errorf("%w: Redis address %q is not host:port", metadata.ErrInvalid, addr)
		}
	}
	if o.URL == "" {
		return nil
	}
	u, err := url.Parse(o.URL)
	if err != nil {
		return fmt.Errorf("%w: Redis URL: %v", metadata.ErrInvalid, scrub(err))
	}
	if u.Scheme != "redis" && u.Scheme != "rediss" {
		return fmt.Errorf("%w: Redis URL scheme must be redis or rediss", metadata.ErrInvalid)
	}
	if u.Host == "" {
		return fmt.Errorf("%w: Redis URL has no host", metadata.ErrInvalid)
	}
	return nil
}

// scrub drops the URL (which may hold a password) from a URL parsing error.
func scrub(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
