package queue

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hibiken/asynq"
)

// TypeBenchNoop is the no-op task of NoopRate.
const TypeBenchNoop = "bench:noop"

// NoopRates are NoopRate's figures, in tasks per second.
type NoopRates struct {
	Enqueued  float64 // by 8 producers
	Processed float64 // by a default Worker, from its start to the last task
}

// NoopRate enqueues n no-op tasks on the default queue from 8 producers,
// then starts a default Worker and times how fast it drains them: the
// baseline that campaign throughput is compared with (the queue's own cost,
// no work in the handler). Nothing else may take TypeBenchNoop from r.
func NoopRate(ctx context.Context, r *Redis, n int, logger *slog.Logger) (NoopRates, error) {
	var rates NoopRates
	if n < 1 {
		return rates, fmt.Errorf("no-op tasks: n = %d, want at least 1", n)
	}
	c := NewClient(r)
	defer c.Close()
	const producers = 8
	start := time.Now()
	errs := make([]error, producers)
	var wg sync.WaitGroup
	for p := range producers {
		wg.Go(func() {
			for i := p; i < n && errs[p] == nil; i += producers {
				_, errs[p] = c.Enqueue(ctx, asynq.NewTask(TypeBenchNoop, []byte(strconv.Itoa(i))))
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return rates, err
		}
	}
	rates.Enqueued = float64(n) / time.Since(start).Seconds()

	var processed atomic.Int64
	all := make(chan struct{})
	w := NewWorker(r, WorkerConfig{}, logger)
	w.Handle(TypeBenchNoop, asynq.HandlerFunc(func(context.Context, *asynq.Task) error {
		if processed.Add(1) == int64(n) {
			close(all)
		}
		return nil
	}))
	start = time.Now()
	if err := w.Start(); err != nil {
		return rates, err
	}
	defer w.Shutdown()
	select {
	case <-all:
		rates.Processed = float64(n) / time.Since(start).Seconds()
		return rates, nil
	case <-ctx.Done():
		return rates, fmt.Errorf("no-op tasks: %d of %d processed: %w", processed.Load(), n, ctx.Err())
	}
}
