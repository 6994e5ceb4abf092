package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/aibud/aibud/queue"
	"github.com/hibiken/asynq"
)

// BenchmarkCampaign10k sends one poll to 10,000 recipients end to end —
// dispatch, queue, worker, the Evolution simulator over HTTP, its status
// webhooks back into the tenant DB — with pacing off, and in the same run
// measures a no-op Asynq task on the same Redis for the ratio.
//
//	go test -run '^$' -bench Campaign10k -benchtime 1x ./cmd/aibud/
func BenchmarkCampaign10k(b *testing.B) {
	n := 10_000
	if v, err := strconv.Atoi(os.Getenv("AIBUD_BENCH_N")); err == nil && v > 0 {
		n = v // a shorter run, e.g. for profiling
	}
	for range b.N {
		b.StopTimer()
		ce := newCampaignEnv(b, nil)
		tenantID, instanceID := ce.connect()
		if _, err := ce.m.Store.Grant(context.Background(), tenantID, int64(n), "benchmark", ""); err != nil {
			b.Fatal(err)
		}
		csv, _ := leadsCSV(n)
		ce.importCSV(csv)
		b.StartTimer()
		start := time.Now()
		pollID, _ := ce.createAndSend(instanceID)
		dispatched := time.Since(start)
		ce.waitFor(5*time.Minute, "every message sent", func() bool { return len(ce.sim.Sent()) >= n })
		elapsed := time.Since(start)
		b.StopTimer()
		rate := float64(n) / elapsed.Seconds()
		ce.stop() // its worker would take the no-op tasks too
		noop := noopRate(b, redisFor(b, ce), n)
		b.ReportMetric(rate, "msgs/s")
		b.ReportMetric(dispatched.Seconds()*1000, "dispatch-ms")
		b.ReportMetric(noop, "noop-tasks/s")
		b.ReportMetric(rate/noop, "ratio")
		_ = pollID
	}
}

// redisFor connects to the campaign's Redis again after the program closed.
func redisFor(b *testing.B, ce *campaignEnv) *queue.Redis {
	r, err := queue.Connect(context.Background(), queue.RedisConfig{URL: ce.redis.URL}, testLogger(b))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { r.Close() })
	return r
}

// noopRate processes n no-op tasks on a fresh worker and returns tasks/s.
func noopRate(b *testing.B, r *queue.Redis, n int) float64 {
	w := queue.NewWorker(r, queue.WorkerConfig{}, testLogger(b))
	done := make(chan struct{}, n)
	w.Handle("bench:noop", asynq.HandlerFunc(func(context.Context, *asynq.Task) error { done <- struct{}{}; return nil }))
	c := queue.NewClient(r)
	defer c.Close()
	for i := range n {
		if _, err := c.Enqueue(context.Background(), asynq.NewTask("bench:noop", []byte(fmt.Sprint(i))), asynq.Queue(queue.QueueLow)); err != nil {
			b.Fatal(err)
		}
	}
	start := time.Now()
	if err := w.Start(); err != nil {
		b.Fatal(err)
	}
	for range n {
		<-done
	}
	rate := float64(n) / time.Since(start).Seconds()
	w.Shutdown()
	return rate
}
