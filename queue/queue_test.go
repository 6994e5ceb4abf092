package queue_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aibud/aibud/queue"
	"github.com/aibud/aibud/queue/redistest"
	"github.com/hibiken/asynq"
)

const typeTest = "test:task"

// logBuffer collects log output from any goroutine for assertions.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newLogger(w *logBuffer) *slog.Logger {
	if w == nil {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// MustConnect connects to url (empty: embedded) and closes it in Cleanup.
func MustConnect(tb testing.TB, url string) *queue.Redis {
	tb.Helper()
	r, err := queue.Connect(context.Background(), queue.RedisConfig{URL: url, Wait: 5 * time.Second}, newLogger(nil))
	if err != nil {
		tb.Fatalf("Connect: %v", err)
	}
	tb.Cleanup(func() {
		if err := r.Close(); err != nil {
			tb.Errorf("Redis.Close: %v", err)
		}
	})
	return r
}

// MustClient returns a queue client closed in Cleanup.
func MustClient(tb testing.TB, r *queue.Redis) *queue.Client {
	tb.Helper()
	c := queue.NewClient(r)
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// MustStartWorker starts a worker with h on typeTest, shut down in Cleanup.
func MustStartWorker(tb testing.TB, r *queue.Redis, cfg queue.WorkerConfig, h asynq.HandlerFunc) *queue.Worker {
	tb.Helper()
	w := queue.NewWorker(r, cfg, newLogger(nil))
	w.Handle(typeTest, h)
	if err := w.Start(); err != nil {
		tb.Fatalf("Worker.Start: %v", err)
	}
	tb.Cleanup(w.Shutdown)
	return w
}

func receive[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		var zero T
		return zero
	}
}

func TestEnqueueOnEachQueue(t *testing.T) {
	r := MustConnect(t, redistest.Start(t))
	c := MustClient(t, r)
	got := make(chan string, 3)
	MustStartWorker(t, r, queue.WorkerConfig{}, func(ctx context.Context, task *asynq.Task) error {
		q, _ := asynq.GetQueueName(ctx)
		got <- q + "/" + string(task.Payload())
		return nil
	})
	for _, q := range []string{queue.QueueCritical, queue.QueueDefault, queue.QueueLow} {
		info, err := c.Enqueue(context.Background(), asynq.NewTask(typeTest, []byte(q)), asynq.Queue(q))
		if err != nil {
			t.Fatalf("Enqueue on %s: %v", q, err)
		}
		if info.Queue != q {
			t.Errorf("TaskInfo.Queue = %q, want %q", info.Queue, q)
		}
	}
	seen := map[string]bool{}
	for range 3 {
		seen[receive(t, got, "a task")] = true
	}
	for _, q := range []string{queue.QueueCritical, queue.QueueDefault, queue.QueueLow} {
		if !seen[q+"/"+q] {
			t.Errorf("no task received from queue %s; got %v", q, seen)
		}
	}
}

func TestEnqueueTaskIDConflict(t *testing.T) {
	r := MustConnect(t, redistest.Start(t))
	c := MustClient(t, r)
	ctx := context.Background()
	task := asynq.NewTask(typeTest, nil)
	if _, err := c.Enqueue(ctx, task, asynq.TaskID("msg-1")); err != nil {
		t.Fatalf("first Enqueue: %v", err)
	}
	_, err := c.Enqueue(ctx, task, asynq.TaskID("msg-1"))
	if !errors.Is(err, asynq.ErrTaskIDConflict) {
		t.Fatalf("second Enqueue with the same TaskID: err = %v, want asynq.ErrTaskIDConflict", err)
	}
	if _, err := c.Enqueue(ctx, task, asynq.TaskID("msg-2")); err != nil {
		t.Fatalf("Enqueue with another TaskID: %v", err)
	}
}

func TestRetryThenSuccess(t *testing.T) {
	r := MustConnect(t, redistest.Start(t))
	c := MustClient(t, r)
	var attempts atomic.Int32
	succeeded := make(chan int, 1)
	cfg := queue.WorkerConfig{
		DelayedTaskCheckInterval: 100 * time.Millisecond,
		RetryDelay:               func(int, error, *asynq.Task) time.Duration { return 0 },
	}
	MustStartWorker(t, r, cfg, func(ctx context.Context, _ *asynq.Task) error {
		if attempts.Add(1) == 1 {
			return errors.New("transient: gateway timed out")
		}
		retried, _ := asynq.GetRetryCount(ctx)
		succeeded <- retried
		return nil
	})
	if _, err := c.Enqueue(context.Background(), asynq.NewTask(typeTest, nil), asynq.MaxRetry(3)); err != nil {
		t.Fatalf("Enqueue: %v", err)
	}
	if retried := receive(t, succeeded, "the retried task to succeed"); retried != 1 {
		t.Errorf("succeeded on retry %d, want 1", retried)
	}
	if n := attempts.Load(); n != 2 {
		t.Errorf("handler ran %d times, want 2", n)
	}
}

func TestShutdownDrainsInFlightTask(t *testing.T) {
	r := MustConnect(t, redistest.Start(t))
	c := MustClient(t, r)
	started, release := make(chan struct{}), make(chan struct{})
	var finished atomic.Bool
	w := queue.NewWorker(r, queue.WorkerConfig{ShutdownTimeout: 10 * time.Second}, newLogger(nil))
	w.Handle(typeTest, asynq.HandlerFunc(func(ctx context.Context, _ *asynq.Task) error {
		close(started)
		<-release
		if ctx.Err() != nil {
			return ctx.Err() // cancelled rather than drained
		}
		finished.Store(true)
		return nil
	}))
	if err := w.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
	if _, err := c.Enqueue(context.Background(), asynq.NewTask(typeTest, nil)); err != nil {
		t.Fatalf("Enqueue: %v", err)
	}
	receive(t, started, "the handler to start")

	stopped := make(chan struct{})
	go func() {
		w.Shutdown()
		close(stopped)
	}()
	select {
	case <-stopped:
		t.Fatal("Shutdown returned while a task was still running")
	case <-time.After(300 * time.Millisecond):
	}
	close(release)
	receive(t, stopped, "Shutdown to return")
	if !finished.Load() {
		t.Fatal("in-flight task did not complete before Shutdown returned")
	}
}

// TestWorkerSurvivesRedisRestart kills Redis under a running worker and
// client, as a crash would, and checks both carry on once it is back.
func TestWorkerSurvivesRedisRestart(t *testing.T) {
	srv := redistest.StartServer(t)
	r := MustConnect(t, srv.URL)
	c := MustClient(t, r)
	done := make(chan string, 2)
	MustStartWorker(t, r, queue.WorkerConfig{}, func(_ context.Context, task *asynq.Task) error {
		done <- string(task.Payload())
		return nil
	})
	ctx := context.Background()
	if _, err := c.Enqueue(ctx, asynq.NewTask(typeTest, []byte("before"))); err != nil {
		t.Fatalf("Enqueue: %v", err)
	}
	receive(t, done, "the task before the restart")

	srv.Kill()
	if err := r.Ping(ctx); err == nil {
		t.Fatal("Ping succeeded with Redis killed")
	}
	srv.Restart()
	var err error
	for range 5 { // the first use of a pooled connection may meet the old socket
		if _, err = c.Enqueue(ctx, asynq.NewTask(typeTest, []byte("after"))); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("Enqueue after the restart: %v", err)
	}
	if got := receive(t, done, "the task after the restart"); got != "after" {
		t.Errorf("payload = %q, want after", got)
	}
	if err := r.Ping(ctx); err != nil {
		t.Errorf("Ping after the restart: %v", err)
	}
}

// BenchmarkNoopTask measures how fast a default Worker drains no-op tasks
// from a real Redis (tasks/s, the baseline that campaign benchmarks are
// compared with) and, as a side figure, how fast 8 goroutines enqueue them.
func BenchmarkNoopTask(b *testing.B) {
	r := MustConnect(b, redistest.Start(b))
	ctx, cancel := context.WithTimeout(b.Context(), time.Minute)
	defer cancel()
	b.ResetTimer()
	rates, err := queue.NoopRate(ctx, r, b.N, newLogger(nil))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(rates.Processed, "tasks/s")
	b.ReportMetric(rates.Enqueued, "enqueued/s")
}

// TestSlowBackgroundWorkNeverHoldsSends: with every background slot taken
// by tasks that hang (a Gemini call, a customer's webhook endpoint that
// does not answer), a send on the default queue still runs at once,
// because sends have a worker of their own.
func TestSlowBackgroundWorkNeverHoldsSends(t *testing.T) {
	r := MustConnect(t, redistest.Start(t))
	c := MustClient(t, r)
	release := make(chan struct{})
	var hanging atomic.Int32
	sent := make(chan struct{}, 1)
	handler := func(ctx context.Context, task *asynq.Task) error {
		if q, _ := asynq.GetQueueName(ctx); q == queue.QueueDefault {
			sent <- struct{}{}
			return nil
		}
		hanging.Add(1)
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil
	}
	MustStartWorker(t, r, queue.WorkerConfig{Queues: queue.SendQueues(), Concurrency: 2, ShutdownTimeout: 5 * time.Second}, handler)
	MustStartWorker(t, r, queue.WorkerConfig{Queues: queue.BackgroundQueues(), Concurrency: 3, ShutdownTimeout: 5 * time.Second}, handler)
	defer close(release)
	ctx := context.Background()
	for i := range 6 {
		q := queue.QueueLow
		if i%2 == 0 {
			q = queue.QueueHooks
		}
		if _, err := c.Enqueue(ctx, asynq.NewTask(typeTest, nil), asynq.Queue(q)); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for hanging.Load() < 3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := hanging.Load(); n != 3 {
		t.Fatalf("%d background tasks hanging, want the background worker's 3 slots full", n)
	}
	if _, err := c.Enqueue(ctx, asynq.NewTask(typeTest, nil), asynq.Queue(queue.QueueDefault)); err != nil {
		t.Fatal(err)
	}
	receive(t, sent, "the send while background work hangs")
	if n := hanging.Load(); n != 3 {
		t.Errorf("%d background tasks started: the send worker took background work", n)
	}
}
