package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"time"

	"github.com/hibiken/asynq"
)

// Queue names. The campaign reconciler goes to critical; campaign sends to
// default; outgoing webhooks to customers' servers to hooks; replies to
// classify and usage snapshots to low.
const (
	QueueCritical = "critical"
	QueueDefault  = "default"
	QueueHooks    = "hooks"
	QueueLow      = "low"
)

// SendQueues are the queues of campaign sends, with their weights. A worker
// of their own keeps sends on pace whatever the slower work does.
func SendQueues() map[string]int { return map[string]int{QueueCritical: 6, QueueDefault: 3} }

// BackgroundQueues hold work that may take seconds a task: a Gemini call, a
// customer's slow webhook endpoint. Weighted, not strict, so that a storm of
// replies delays webhooks but never starves them.
func BackgroundQueues() map[string]int { return map[string]int{QueueHooks: 2, QueueLow: 1} }

// AllQueues is every queue, for a worker that does everything.
func AllQueues() map[string]int {
	all := SendQueues()
	maps.Copy(all, BackgroundQueues())
	return all
}

// Worker defaults; DESIGN §8 has the measurements behind them.
const (
	// defaultConcurrency suits handlers that mostly wait on the network:
	// size it as throughput × handler time.
	defaultConcurrency = 20
	// defaultTaskCheckInterval makes an idle worker pick new work up in
	// ~60 ms instead of ~0.8 s with Asynq's 1 s default.
	defaultTaskCheckInterval = 100 * time.Millisecond
	// defaultDelayedTaskCheckInterval bounds how late a retry or a task
	// scheduled with ProcessIn starts: ~1 s instead of Asynq's ~5 s.
	defaultDelayedTaskCheckInterval = time.Second
	// defaultShutdownTimeout leaves in-flight tasks most of the 30 s that
	// Docker and systemd give a stopping process before SIGKILL.
	defaultShutdownTimeout = 25 * time.Second
)

// Client enqueues tasks. It is safe for concurrent use.
type Client struct {
	c *asynq.Client
}

// NewClient returns a Client with its own connection pool to r.
func NewClient(r *Redis) *Client {
	return &Client{c: asynq.NewClient(r.ClientOpt())}
}

// Enqueue puts task on a queue (QueueDefault unless opts say otherwise).
// Errors wrap Asynq's, so callers can test for asynq.ErrTaskIDConflict (the
// task is already queued: nothing to do) and asynq.ErrDuplicateTask.
func (c *Client) Enqueue(ctx context.Context, task *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error) {
	info, err := c.c.EnqueueContext(ctx, task, opts...)
	if err != nil {
		return nil, fmt.Errorf("queue.Enqueue %s: %w", task.Type(), err)
	}
	return info, nil
}

// Close closes the Client's connections.
func (c *Client) Close() error {
	return c.c.Close()
}

// NewInspector returns an Asynq inspector on r, for the reconciler that
// compares queued messages in the tenant databases with what Redis holds.
// The caller closes it.
func NewInspector(r *Redis) *asynq.Inspector {
	return asynq.NewInspector(r.ClientOpt())
}

// WorkerConfig tunes a Worker. Zero values take the defaults.
type WorkerConfig struct {
	// Queues are the queues this worker takes tasks from, with their weights
	// (default AllQueues).
	Queues map[string]int
	// Concurrency is how many tasks run at once (default 20).
	Concurrency int
	// TaskCheckInterval is how often an idle worker polls the queues
	// (default 100ms).
	TaskCheckInterval time.Duration
	// DelayedTaskCheckInterval is how often due retries and scheduled tasks
	// are moved to their queues (default 1s).
	DelayedTaskCheckInterval time.Duration
	// ShutdownTimeout is how long Shutdown waits for in-flight tasks before
	// handing them back to Redis for another attempt (default 25s).
	ShutdownTimeout time.Duration
	// RetryDelay decides the wait before retry n of a failed task; nil uses
	// Asynq's exponential backoff.
	RetryDelay func(n int, err error, task *asynq.Task) time.Duration
}

func (c WorkerConfig) withDefaults() WorkerConfig {
	if len(c.Queues) == 0 {
		c.Queues = AllQueues()
	}
	if c.Concurrency <= 0 {
		c.Concurrency = defaultConcurrency
	}
	if c.TaskCheckInterval <= 0 {
		c.TaskCheckInterval = defaultTaskCheckInterval
	}
	if c.DelayedTaskCheckInterval <= 0 {
		c.DelayedTaskCheckInterval = defaultDelayedTaskCheckInterval
	}
	if c.ShutdownTimeout <= 0 {
		c.ShutdownTimeout = defaultShutdownTimeout
	}
	return c
}

// Worker runs task handlers on its queues. Register handlers with
// Handle before Start; stop with Shutdown.
type Worker struct {
	srv    *asynq.Server
	mux    *asynq.ServeMux
	cfg    WorkerConfig
	logger *slog.Logger
}

// NewWorker returns a Worker on r; it does not take work until Start.
func NewWorker(r *Redis, cfg WorkerConfig, logger *slog.Logger) *Worker {
	if logger == nil {
		logger = slog.Default()
	}
	cfg = cfg.withDefaults()
	logger = logger.With("component", "queue")
	level := asynq.InfoLevel
	if logger.Enabled(context.Background(), slog.LevelDebug) {
		level = asynq.DebugLevel
	}
	acfg := asynq.Config{
		Concurrency:              cfg.Concurrency,
		TaskCheckInterval:        cfg.TaskCheckInterval,
		DelayedTaskCheckInterval: cfg.DelayedTaskCheckInterval,
		ShutdownTimeout:          cfg.ShutdownTimeout,
		Queues:                   cfg.Queues,
		StrictPriority:           false,
		ErrorHandler:             asynq.ErrorHandlerFunc(errorLogger(logger)),
		Logger:                   asynqLogger{l: logger.With("lib", "asynq")},
		LogLevel:                 level,
	}
	if cfg.RetryDelay != nil {
		acfg.RetryDelayFunc = cfg.RetryDelay
	}
	return &Worker{
		srv:    asynq.NewServer(r.ClientOpt(), acfg),
		mux:    asynq.NewServeMux(),
		cfg:    cfg,
		logger: logger,
	}
}

// Handle registers h for task types matching pattern (a type, or a prefix
// such as "poll:"; the longest match wins). Call it before Start.
func (w *Worker) Handle(pattern string, h asynq.Handler) {
	w.mux.Handle(pattern, h)
}

// Start begins taking tasks in the background and returns at once.
func (w *Worker) Start() error {
	if err := w.srv.Start(w.mux); err != nil {
		return fmt.Errorf("queue.Worker.Start: %w", err)
	}
	w.logger.Info("queue worker started", "concurrency", w.cfg.Concurrency, "queues", fmt.Sprint(w.cfg.Queues))
	return nil
}

// Shutdown drains the worker: it stops taking tasks, waits up to
// ShutdownTimeout for those in flight, hands any still running back to Redis
// for a later attempt, and closes the worker's connections. Handlers must be
// idempotent because of that hand-back.
func (w *Worker) Shutdown() {
	start := time.Now()
	w.logger.Info("queue worker draining", "timeout", w.cfg.ShutdownTimeout)
	w.srv.Shutdown()
	w.logger.Info("queue worker stopped", "took", time.Since(start).Round(time.Millisecond))
}

// errorLogger logs each failed attempt: at Warn while Asynq will retry, at
// Error when the task has given up (retries exhausted or asynq.SkipRetry),
// which is when an operator may need to look.
func errorLogger(logger *slog.Logger) func(ctx context.Context, task *asynq.Task, err error) {
	return func(ctx context.Context, task *asynq.Task, err error) {
		id, _ := asynq.GetTaskID(ctx)
		queue, _ := asynq.GetQueueName(ctx)
		retried, _ := asynq.GetRetryCount(ctx)
		maxRetry, _ := asynq.GetMaxRetry(ctx)
		attrs := []any{"type", task.Type(), "id", id, "queue", queue,
			"retry", retried, "max_retry", maxRetry, "err", err}
		if retried >= maxRetry || errors.Is(err, asynq.SkipRetry) {
			logger.Error("task failed for good", attrs...)
			return
		}
		logger.Warn("task failed; will retry", attrs...)
	}
}

// asynqLogger adapts Asynq's logger to slog.
type asynqLogger struct {
	l *slog.Logger
}

func (a asynqLogger) Debug(args ...interface{}) { a.log(slog.LevelDebug, args) }
func (a asynqLogger) Info(args ...interface{})  { a.log(slog.LevelInfo, args) }
func (a asynqLogger) Warn(args ...interface{})  { a.log(slog.LevelWarn, args) }
func (a asynqLogger) Error(args ...interface{}) { a.log(slog.LevelError, args) }

// Fatal logs at Error and returns: the process's lifetime belongs to main,
// not to a library. (Asynq's own wrapper may still exit after calling it.)
func (a asynqLogger) Fatal(args ...interface{}) {
	a.log(slog.LevelError, append([]interface{}{"fatal: "}, args...))
}

func (a asynqLogger) log(level slog.Level, args []interface{}) {
	a.l.Log(context.Background(), level, fmt.Sprint(args...))
}
