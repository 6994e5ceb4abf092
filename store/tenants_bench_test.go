package store

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// Benchmarks of Aibud at the scale of many tenants. The long ones are off
// unless asked for, so that `make test` stays fast:
//
//	AIBUD_BENCH_TENANTS=1 go test -run XXX -bench Tenants10k -benchtime 1x -timeout 30m ./store/
//	AIBUD_BENCH_FOOTPRINT=1 go test -run XXX -bench BadgerFootprint -benchtime 1x -timeout 10m ./store/
//	go test -run XXX -bench ReopenTenant ./store/
//
// AIBUD_BENCH_MEMLIMIT_MIB sets the Go memory limit of the tenants run
// (default 768, 0 for none), as the server's GOMEMLIMIT would. The scenario
// itself is TenantsBench (bench_tenants.go), which `aibud bench tenants`
// runs too.

// BenchmarkTenants10k signs up 10,000 tenants in one store (CreateTenantDB
// and a grant each) with the default LRU bound of 256, then touches them from
// 8 goroutines with a skewed (Zipf) access pattern, 80% balance reads and 20%
// reservations, which reopens an evicted DB on about a third of the touches
// (load-* figures). It then times 500 reopens one at a time (reopen-*), and
// reports memory, open DBs and goroutines. It runs once whatever b.N is: use
// -benchtime 1x.
func BenchmarkTenants10k(b *testing.B) {
	if os.Getenv("AIBUD_BENCH_TENANTS") == "" {
		b.Skip("set AIBUD_BENCH_TENANTS=1 to run (3-4 minutes, ~300 MB of disk)")
	}
	res, err := TenantsBench{
		Dir: b.TempDir(), Tenants: 10_000, MaxOpen: 256, Touches: 40_000, Workers: 8, Probes: 500,
		MemoryLimit: int64(envInt(b, "AIBUD_BENCH_MEMLIMIT_MIB", 768)) << 20,
		IdleWindow:  3 * time.Second, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}.Run(b.Context())
	if err != nil {
		b.Fatal(err)
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	st := res.Load
	b.ReportMetric(res.SignupsPerSec, "signups/s")
	b.ReportMetric(ms(st.Reopen.Percentile(50)), "load-reopen-p50-ms")
	b.ReportMetric(ms(st.Reopen.Percentile(99)), "load-reopen-p99-ms")
	b.ReportMetric(ms(st.Hit.Percentile(99)), "load-hit-p99-ms")
	b.ReportMetric(float64(len(st.Reopen))/float64(len(st.Reopen)+len(st.Hit)), "reopen-ratio")
	b.ReportMetric(float64(st.WaitedClose)/float64(max(1, len(st.Reopen))), "reopen-after-close-ratio")
	b.ReportMetric(res.TouchesPerSec, "touches/s")
	b.ReportMetric(ms(res.Reopen.Percentile(50)), "reopen-p50-ms")
	b.ReportMetric(ms(res.Reopen.Percentile(99)), "reopen-p99-ms")
	b.ReportMetric(float64(res.OpenDBs), "open-dbs")
	b.ReportMetric(float64(res.Goroutines), "goroutines")
	b.ReportMetric(float64(res.PeakRSS)/(1<<20), "peak-rss-MiB")
	b.ReportMetric(float64(res.RSS)/(1<<20), "rss-MiB")
	b.ReportMetric(float64(res.HWM)/(1<<20), "hwm-MiB")
	b.ReportMetric(float64(res.HeapInuse)/(1<<20), "heap-inuse-MiB")
	b.ReportMetric(res.GCCPUPercent, "gc-cpu-%")
	b.ReportMetric(res.IdleCPUPercent, "idle-cpu-%")
}

// BenchmarkReopenTenant measures Acquire of an evicted tenant DB: a pool
// bounded to one open DB cycles through 16 tenants with a little data each,
// so every Acquire opens a DB (whose last close finished long before).
func BenchmarkReopenTenant(b *testing.B) {
	s := mustOpen(b, 1)
	ctx := context.Background()
	ids := make([]string, 16)
	for i := range ids {
		ids[i] = mustTenant(b, s, 100)
		for j := range 10 {
			if _, err := s.Reserve(ctx, ids[i], fmt.Sprint("r", j), 1); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ResetTimer()
	for i := range b.N {
		h, err := s.Pool.Acquire(ctx, ids[i%len(ids)])
		if err != nil {
			b.Fatal(err)
		}
		h.Release()
	}
	b.ReportMetric(float64(b.Elapsed())/float64(time.Millisecond)/float64(b.N), "ms/reopen")
}

// BenchmarkBadgerFootprint opens 1,000 tenant DBs with tenantOptions (each
// with a few durable writes, as after sign-up) and reports what one open DB
// costs: Go heap, RSS, goroutines and file descriptors, and the CPU the
// thousand use while idle. It runs once whatever b.N is: use -benchtime 1x.
func BenchmarkBadgerFootprint(b *testing.B) {
	if os.Getenv("AIBUD_BENCH_FOOTPRINT") == "" {
		b.Skip("set AIBUD_BENCH_FOOTPRINT=1 to run (about a minute)")
	}
	const n = 1000
	dir := b.TempDir()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	before := footprintNow(b)
	dbs := make([]*badger.DB, 0, n)
	defer func() {
		for _, db := range dbs {
			_ = db.Close()
		}
	}()
	for i := range n {
		db, err := badger.Open(tenantOptions(filepath.Join(dir, strconv.Itoa(i)), logger))
		if err != nil {
			b.Fatal(err)
		}
		dbs = append(dbs, db)
		for j := range 3 {
			if err := putString(db, fmt.Sprint("k", j), strings.Repeat("v", 200)); err != nil {
				b.Fatal(err)
			}
		}
	}
	time.Sleep(2 * time.Second) // let the open settle (first compactor ticks)
	after := footprintNow(b)
	per := func(now, then uint64) float64 { return (float64(now) - float64(then)) / n }
	b.ReportMetric(per(after.heap, before.heap)/(1<<20), "heap-MiB/db")
	b.ReportMetric(per(after.rss, before.rss)/(1<<20), "rss-MiB/db")
	b.ReportMetric(per(after.goroutines, before.goroutines), "goroutines/db")
	b.ReportMetric(per(after.fds, before.fds), "fds/db")
	b.ReportMetric(idleCPU(10*time.Second)*100, "idle-cpu-%-1000-dbs")
}

type footprint struct{ heap, rss, goroutines, fds uint64 }

func footprintNow(tb testing.TB) footprint {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		tb.Fatal(err)
	}
	return footprint{
		heap: ms.HeapInuse, rss: mustProcStatus(tb, "VmRSS"),
		goroutines: uint64(runtime.NumGoroutine()), fds: uint64(len(fds)),
	}
}

func mustProcStatus(tb testing.TB, field string) uint64 {
	n, err := procStatus(field)
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

func envInt(tb testing.TB, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		tb.Fatalf("%s=%q: %v", name, v, err)
	}
	return n
}
