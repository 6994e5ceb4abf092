package queue_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"strings"
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

func TestConnectEmbedded(t *testing.T) {
	var logs logBuffer
	r, err := queue.Connect(context.Background(), queue.RedisConfig{}, newLogger(&logs))
	if err != nil {
		t.Fatalf("Connect with empty URL: %v", err)
	}
	t.Cleanup(func() { _ = r.Close() })
	if !r.Embedded() {
		t.Error("Embedded() = false with an empty URL")
	}
	if !strings.Contains(logs.String(), "REDIS_URL is not set: using an in-process Redis") {
		t.Errorf("no warning about the in-process Redis; logs:\n%s", logs.String())
	}
	if err := r.Ping(context.Background()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	done := make(chan string, 1)
	MustStartWorker(t, r, queue.WorkerConfig{}, func(_ context.Context, task *asynq.Task) error {
		done <- string(task.Payload())
		return nil
	})
	c := MustClient(t, r)
	if _, err := c.Enqueue(context.Background(), asynq.NewTask(typeTest, []byte("hello")), asynq.Queue(queue.QueueCritical)); err != nil {
		t.Fatalf("Enqueue: %v", err)
	}
	if got := receive(t, done, "the task on the embedded Redis"); got != "hello" {
		t.Errorf("payload = %q, want hello", got)
	}
}

// TestEmbeddedClockExpiresUniqueLocks checks why the clock goroutine exists:
// without it a Unique lock on miniredis would never expire.
func TestEmbeddedClockExpiresUniqueLocks(t *testing.T) {
	r := MustConnect(t, "")
	c := MustClient(t, r)
	ctx := context.Background()
	task := asynq.NewTask(typeTest, []byte("snapshot"))
	if _, err := c.Enqueue(ctx, task, asynq.Unique(time.Second), asynq.Queue(queue.QueueLow)); err != nil {
		t.Fatalf("first Enqueue: %v", err)
	}
	if _, err := c.Enqueue(ctx, task, asynq.Unique(time.Second), asynq.Queue(queue.QueueLow)); !errors.Is(err, asynq.ErrDuplicateTask) {
		t.Fatalf("second Enqueue within the TTL: err = %v, want asynq.ErrDuplicateTask", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := c.Enqueue(ctx, task, asynq.Unique(time.Second), asynq.Queue(queue.QueueLow))
		if err == nil {
			return
		}
		if !errors.Is(err, asynq.ErrDuplicateTask) || time.Now().After(deadline) {
			t.Fatalf("unique lock never expired on the embedded Redis: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestConnectBadURL(t *testing.T) {
	for _, url := range []string{
		"http://localhost:6379",
		"localhost:6379",
		"redis://",
		"redis://:s3cret@localhost:6379/notanumber",
		"redis://:s3cret@local host:6379",
	} {
		t.Run(url, func(t *testing.T) {
			_, err := queue.Connect(context.Background(), queue.RedisConfig{URL: url}, newLogger(nil))
			if err == nil {
				t.Fatal("Connect succeeded")
			}
			if !strings.Contains(err.Error(), "REDIS_URL") {
				t.Errorf("error does not name REDIS_URL: %v", err)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error reveals the password: %v", err)
			}
		})
	}
}

func TestConnectUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now

	var logs logBuffer
	start := time.Now()
	_, err = queue.Connect(context.Background(),
		queue.RedisConfig{URL: "redis://:s3cret@" + addr, Wait: time.Second}, newLogger(&logs))
	elapsed := time.Since(start)
	if err == nil {
		t.Fatal("Connect to a closed port succeeded")
	}
	want := fmt.Sprintf("redis at %s did not answer PING within 1s", addr)
	if !strings.Contains(err.Error(), want) {
		t.Errorf("err = %v, want it to contain %q", err, want)
	}
	if elapsed > 5*time.Second {
		t.Errorf("Connect took %s with Wait 1s", elapsed)
	}
	if !strings.Contains(logs.String(), "addr="+addr) {
		t.Errorf("failed attempts not logged with the address; logs:\n%s", logs.String())
	}
	if strings.Contains(logs.String()+err.Error(), "s3cret") {
		t.Errorf("password leaked; err = %v; logs:\n%s", err, logs.String())
	}
	t.Logf("failed after %s", elapsed.Round(time.Millisecond))
}

func TestCloseStopsEmbeddedClock(t *testing.T) {
	before := runtime.NumGoroutine()
	r, err := queue.Connect(context.Background(), queue.RedisConfig{}, newLogger(nil))
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	if !clockRunning() {
		t.Fatal("no clock goroutine while the embedded Redis is open")
	}
	if err := r.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if clockRunning() {
		t.Error("clock goroutine still running after Close")
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if after := runtime.NumGoroutine(); after > before {
		t.Errorf("goroutines: %d before Connect, %d after Close", before, after)
	}
}

func clockRunning() bool {
	buf := make([]byte, 1<<20)
	return bytes.Contains(buf[:runtime.Stack(buf, true)], []byte("advanceEmbeddedClock"))
}

// BenchmarkNoopTask measures end-to-end throughput of no-op tasks on a real
// Redis: the baseline that campaign benchmarks are compared with.
func BenchmarkNoopTask(b *testing.B) {
	r := MustConnect(b, redistest.Start(b))
	c := MustClient(b, r)
	var processed atomic.Int64
	all := make(chan struct{})
	target := int64(b.N)
	MustStartWorker(b, r, queue.WorkerConfig{}, func(context.Context, *asynq.Task) error {
		if processed.Add(1) == target {
			close(all)
		}
		return nil
	})
	const producers = 8
	task := asynq.NewTask(typeTest, nil)
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for p := range producers {
		wg.Go(func() {
			for i := p; i < b.N; i += producers {
				if _, err := c.Enqueue(context.Background(), task); err != nil {
					b.Errorf("Enqueue: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	select {
	case <-all:
	case <-time.After(time.Minute):
		b.Fatalf("processed %d of %d tasks", processed.Load(), b.N)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "tasks/s")
}
