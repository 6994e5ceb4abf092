package queue

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/aibud/aibud/queue/redistest"
	"github.com/aibud/aibud/store"
	"github.com/aibud/aibud/tenants"
)

// TestUsageSnapshotsOncePerDay runs two schedulers (two cron nodes) on one
// Redis with an injected clock: each tenant gets one snapshot task a day,
// and a run after missed days fills them.
func TestUsageSnapshotsOncePerDay(t *testing.T) {
	ctx := context.Background()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	clock := time.Date(2026, 5, 10, 0, 20, 0, 0, time.UTC)
	now := func() time.Time { return clock }
	st, err := store.Open(store.Options{Dir: t.TempDir(), MaxOpenTenants: 8, Logger: logger, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var ids []string
	for range 3 {
		id := store.NewID()
		if err := st.CreateTenantDB(ctx, id); err != nil {
			t.Fatal(err)
		}
		tn := tenants.Tenant{ID: id, Name: "t", Plan: tenants.PlanStarter, Status: tenants.TenantActive, TimeZone: "UTC",
			CreatedAt: clock.AddDate(0, 0, -3)}
		if err := st.CreateAccount(ctx, tn, tenants.User{ID: store.NewID(), Email: id + "@example.com", TenantID: id}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	r, err := Connect(ctx, RedisConfig{URL: redistest.Start(t)}, logger)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	client := NewClient(r)
	defer client.Close()
	a := &UsageScheduler{Client: client, Tenants: st, Now: now, Logger: logger}
	b := &UsageScheduler{Client: client, Tenants: st, Now: now, Logger: logger}
	if n, err := a.EnqueueAll(ctx); err != nil || n != 3 {
		t.Fatalf("first scheduler queued %d (%v), want 3", n, err)
	}
	if n, err := b.EnqueueAll(ctx); err != nil || n != 0 {
		t.Fatalf("second scheduler queued %d (%v), want 0", n, err)
	}

	usage := &tenants.Usage{Catalog: st, Counter: st, Snapshots: st, Now: now, Logger: logger}
	w := NewWorker(r, WorkerConfig{}, logger)
	(&UsageHandler{Usage: usage}).Register(w)
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Shutdown()
	waitUntil(t, 10*time.Second, func() bool {
		for _, id := range ids {
			if last, _ := st.LastUsageDay(ctx, id); last != "2026-05-09" {
				return false
			}
		}
		return true
	})
	// Created three days ago: the 7th, 8th and 9th are written, once each.
	days, err := st.Usage(ctx, ids[0], "2026-05-01", "2026-05-31")
	if err != nil || len(days) != 3 || days[0].Day != "2026-05-07" {
		t.Fatalf("snapshots = %+v (%v)", days, err)
	}
	// Two days pass with no scheduler; the next run fills both.
	clock = clock.AddDate(0, 0, 2)
	if n, err := b.EnqueueAll(ctx); err != nil || n != 3 {
		t.Fatalf("after two days queued %d (%v)", n, err)
	}
	waitUntil(t, 10*time.Second, func() bool {
		last, _ := st.LastUsageDay(ctx, ids[2])
		return last == "2026-05-11"
	})
	if days, _ := st.Usage(ctx, ids[2], "2026-05-01", "2026-05-31"); len(days) != 5 {
		t.Fatalf("after the gap %d snapshots, want 5", len(days))
	}
}

func waitUntil(t *testing.T, d time.Duration, fn func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !fn() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
