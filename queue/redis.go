// Package queue delivers Aibud's background work (sends, classification,
// snapshots) through Asynq on Redis. Redis is only the delivery mechanism: the
// tenant databases are the source of truth, so anything lost from Redis is
// re-enqueued from them.
package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

const (
	// defaultRedisWait is how long Connect keeps retrying PING when
	// RedisConfig.Wait is zero: long enough for a compose stack's Redis to
	// come up next to the app, short enough that a wrong URL fails visibly.
	defaultRedisWait = 30 * time.Second

	// Backoff between PING attempts at start-up.
	firstPingBackoff = 500 * time.Millisecond
	maxPingBackoff   = 5 * time.Second

	// minPingTimeout keeps the last attempt before the deadline meaningful
	// rather than failing at once with "context deadline exceeded".
	minPingTimeout = 200 * time.Millisecond

	// embeddedClockStep is how far, and how often, the embedded miniredis
	// clock is advanced. miniredis only expires keys when told time has
	// passed, and Asynq's unique locks rely on key expiry.
	embeddedClockStep = time.Second

	embeddedWarning = "REDIS_URL is not set: using an in-process Redis; queued work lives in memory and is re-enqueued from the tenant databases on restart"
)

// RedisConfig says where Redis is.
type RedisConfig struct {
	// URL is REDIS_URL: redis://[user:password@]host:port[/db], or rediss://
	// for TLS (managed Redis such as Upstash). Empty starts an in-process
	// Redis so that `aibud serve` works with no configuration.
	URL string
	// Wait bounds how long Connect retries PING while Redis comes up
	// (default 30s). It does not apply to the in-process Redis.
	Wait time.Duration
}

// Redis is a connection to the Redis that Asynq uses, possibly one that it
// runs in-process. It owns the in-process server and the goroutine that
// advances its clock; Close releases both.
type Redis struct {
	opts   *redis.Options // parsed URL; a template for every client
	client *redis.Client  // used for Ping only; Asynq makes its own
	addr   string         // host:port, safe to log (no credentials)
	logger *slog.Logger

	mini      *miniredis.Miniredis // nil unless embedded
	stopClock chan struct{}
	clockDone chan struct{}

	closeOnce sync.Once
	closeErr  error
}

// Connect connects to the Redis named by cfg.URL and checks that it answers
// PING, retrying with backoff for up to cfg.Wait so that start-up tolerates
// a Redis that is still booting but never hangs silently. With an empty URL
// it starts an in-process miniredis instead and says so at Warn.
func Connect(ctx context.Context, cfg RedisConfig, logger *slog.Logger) (*Redis, error) {
	if logger == nil {
		logger = slog.Default()
	}
	if cfg.URL == "" {
		return startEmbedded(ctx, logger)
	}
	opts, err := parseRedisURL(cfg.URL)
	if err != nil {
		return nil, err
	}
	r := &Redis{opts: opts, client: newPingClient(opts), addr: opts.Addr, logger: logger}
	wait := cfg.Wait
	if wait <= 0 {
		wait = defaultRedisWait
	}
	if err := r.waitForPing(ctx, wait); err != nil {
		_ = r.client.Close()
		return nil, err
	}
	logger.Info("connected to redis", "addr", r.addr, "tls", opts.TLSConfig != nil)
	return r, nil
}

// parseRedisURL accepts redis:// and rediss:// only. Errors name REDIS_URL,
// the setting the operator has to fix, and show the URL only with its
// password redacted, because error text ends up in logs.
func parseRedisURL(raw string) (*redis.Options, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errors.New("queue.Connect: REDIS_URL is not a valid URL (expected redis://host:port or rediss://host:port)")
	}
	if u.Scheme != "redis" && u.Scheme != "rediss" {
		return nil, fmt.Errorf("queue.Connect: REDIS_URL has scheme %q; expected redis:// or rediss://", u.Scheme)
	}
	if u.Host == "" {
		return nil, errors.New("queue.Connect: REDIS_URL has no host (expected redis://host:port)")
	}
	opts, err := redis.ParseURL(raw)
	if err != nil {
		msg := strings.ReplaceAll(err.Error(), raw, u.Redacted())
		return nil, fmt.Errorf("queue.Connect: invalid REDIS_URL %s: %s", u.Redacted(), msg)
	}
	return opts, nil
}

// startEmbedded runs miniredis on a loopback port and the goroutine that
// drives its clock.
func startEmbedded(ctx context.Context, logger *slog.Logger) (*Redis, error) {
	m := miniredis.NewMiniRedis()
	if err := m.StartAddr("127.0.0.1:0"); err != nil {
		return nil, fmt.Errorf("queue.Connect: start in-process redis: %w", err)
	}
	opts := &redis.Options{Addr: m.Addr()}
	r := &Redis{
		opts:      opts,
		client:    newPingClient(opts),
		addr:      m.Addr(),
		logger:    logger,
		mini:      m,
		stopClock: make(chan struct{}),
		clockDone: make(chan struct{}),
	}
	go r.advanceEmbeddedClock()
	if err := r.Ping(ctx); err != nil {
		_ = r.Close()
		return nil, fmt.Errorf("queue.Connect: in-process redis: %w", err)
	}
	logger.Warn(embeddedWarning, "addr", r.addr)
	return r, nil
}

// advanceEmbeddedClock moves miniredis's clock forward in step with the wall
// clock so that TTLs (Asynq unique locks, leases) expire. Its wall-clock TTL
// mode would do the same but cuts throughput tenfold (DESIGN §8).
func (r *Redis) advanceEmbeddedClock() {
	defer close(r.clockDone)
	ticker := time.NewTicker(embeddedClockStep)
	defer ticker.Stop()
	for {
		select {
		case <-r.stopClock:
			return
		case <-ticker.C:
			r.mini.FastForward(embeddedClockStep)
		}
	}
}

// waitForPing retries PING with doubling backoff until it succeeds, ctx ends
// or wait elapses. Each failure is logged with the address so an operator
// watching the logs sees what the process is waiting for.
func (r *Redis) waitForPing(ctx context.Context, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	backoff := firstPingBackoff
	for attempt := 1; ; attempt++ {
		timeout := max(time.Until(deadline), minPingTimeout)
		pctx, cancel := context.WithTimeout(ctx, timeout)
		err := r.client.Ping(pctx).Err()
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("queue.Connect: waiting for redis at %s: %w", r.addr, ctx.Err())
		}
		remaining := time.Until(deadline)
		if remaining <= 0 {
			return fmt.Errorf("redis at %s did not answer PING within %s: %w", r.addr, wait, err)
		}
		r.logger.Warn("redis did not answer PING; retrying",
			"addr", r.addr, "attempt", attempt, "retry_in", min(backoff, remaining), "err", err)
		timer := time.NewTimer(min(backoff, remaining))
		select {
		case <-ctx.Done():
			timer.Stop()
			return fmt.Errorf("queue.Connect: waiting for redis at %s: %w", r.addr, ctx.Err())
		case <-timer.C:
		}
		backoff = min(backoff*2, maxPingBackoff)
	}
}

// ClientOpt returns the connection options for Asynq clients, servers,
// inspectors and schedulers; each makes its own connection pool from it.
func (r *Redis) ClientOpt() asynq.RedisConnOpt {
	return connOpt{opts: r.opts}
}

// Ping reports whether Redis answers, for the readiness probe.
func (r *Redis) Ping(ctx context.Context) error {
	if err := r.client.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("queue.Ping: redis at %s: %w", r.addr, err)
	}
	return nil
}

// Embedded reports whether this is the in-process Redis, whose contents do
// not survive a restart.
func (r *Redis) Embedded() bool { return r.mini != nil }

// Addr returns host:port of the Redis server, without credentials.
func (r *Redis) Addr() string { return r.addr }

// Close stops the embedded clock goroutine, closes the PING client and, when
// embedded, the in-process server. Close it last, after the workers and
// clients that use it. Calling Close again returns the first result.
func (r *Redis) Close() error {
	r.closeOnce.Do(func() {
		if r.mini != nil {
			close(r.stopClock)
			<-r.clockDone
		}
		r.closeErr = r.client.Close()
		if r.mini != nil {
			r.mini.Close()
		}
	})
	return r.closeErr
}

// connOpt implements asynq.RedisConnOpt from go-redis options, so that
// everything redis.ParseURL understands (ACL user names, TLS, timeouts in
// the query string) reaches Asynq, which asynq.ParseRedisURI would drop.
type connOpt struct {
	opts *redis.Options
}

// MakeRedisClient returns a new client on its own copy of the options.
func (c connOpt) MakeRedisClient() interface{} {
	return redis.NewClient(cloneOptions(c.opts))
}

// newPingClient returns the client behind Connect and Ping. It makes one
// attempt per call, without go-redis's own dial and command retries, so that
// Connect's loop decides the pacing and /readyz answers promptly.
func newPingClient(opts *redis.Options) *redis.Client {
	o := cloneOptions(opts)
	o.MaxRetries = -1
	o.DialerRetries = 1
	o.PoolSize = 2
	return redis.NewClient(o)
}

// cloneOptions copies opts so that no two clients share mutable state.
func cloneOptions(opts *redis.Options) *redis.Options {
	o := *opts
	if opts.TLSConfig != nil {
		o.TLSConfig = opts.TLSConfig.Clone()
	}
	return &o
}
