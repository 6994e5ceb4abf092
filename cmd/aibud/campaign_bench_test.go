package main

import (
	"context"
	"fmt"
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
	const n = 10_000
	for range b.N {
		b.StopTimer()
		ce := newCampaignEnv(b, nil)
		tenantID, instanceID := ce.connect()
		if _, err := ce.m.Store.Grant(context.Background(), tenantID, n, "benchmark", ""); err != nil {
			b.Fatal(err)
		}
		csv, _ := leadsCSV(n)
		ce.importCSV(csv)
		b.StartTimer()
		start := time.Now()
		pollID, _ := ce.createAndSend(instanceID)
		dispatched := time.Since(start)
		ce.waitFor(5*time.Minute, "10,000 sent", func() bool { return len(ce.sim.Sent()) >= n })
		elapsed := time.Since(start)
		b.StopTimer()
		rate := float64(n) / elapsed.Seconds()
		noop := noopRate(b, ce.m.Redis, n)
		b.ReportMetric(rate, "msgs/s")
		b.ReportMetric(dispatched.Seconds()*1000, "dispatch-ms")
		b.ReportMetric(noop, "noop-tasks/s")
		b.ReportMetric(rate/noop, "ratio")
		_ = pollID
		ce.stop()
	}
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
