package store

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
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
// (default 768, 0 for none), as the server's GOMEMLIMIT would.

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
	const (
		tenantCount = 10_000
		bound       = 256
		touches     = 40_000
		workers     = 8
	)
	limitMiB := envInt(b, "AIBUD_BENCH_MEMLIMIT_MIB", 768)
	if limitMiB > 0 {
		defer debug.SetMemoryLimit(debug.SetMemoryLimit(int64(limitMiB) << 20))
	}
	s := mustOpen(b, bound)
	ctx := context.Background()

	start := time.Now()
	ids := signUpTenants(b, s, tenantCount, workers)
	b.ReportMetric(float64(tenantCount)/time.Since(start).Seconds(), "signups/s")

	peak := startPeakSampler()
	st := touchSkewed(b, s, ids, touches, workers)
	b.ReportMetric(st.percentile(st.reopen, 50), "load-reopen-p50-ms")
	b.ReportMetric(st.percentile(st.reopen, 99), "load-reopen-p99-ms")
	b.ReportMetric(st.percentile(st.hit, 99), "load-hit-p99-ms")
	b.ReportMetric(float64(len(st.reopen))/float64(touches), "reopen-ratio")
	b.ReportMetric(float64(st.waitedClose)/float64(max(1, len(st.reopen))), "reopen-after-close-ratio")
	b.ReportMetric(float64(touches)/st.elapsed.Seconds(), "touches/s")

	probe := probeReopen(b, s, ids, 500)
	b.ReportMetric(probe.percentile(probe.reopen, 50), "reopen-p50-ms")
	b.ReportMetric(probe.percentile(probe.reopen, 99), "reopen-p99-ms")

	b.ReportMetric(float64(s.Pool.OpenCount()), "open-dbs")
	b.ReportMetric(float64(runtime.NumGoroutine()), "goroutines")
	b.ReportMetric(float64(peak.stop())/(1<<20), "peak-rss-MiB")
	b.ReportMetric(float64(mustProcStatus(b, "VmRSS"))/(1<<20), "rss-MiB")
	b.ReportMetric(float64(mustProcStatus(b, "VmHWM"))/(1<<20), "hwm-MiB")
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-inuse-MiB")
	b.ReportMetric(ms.GCCPUFraction*100, "gc-cpu-%")
	b.ReportMetric(idleCPU(3*time.Second)*100, "idle-cpu-%")

	if _, err := s.Balance(ctx, ids[0]); err != nil { // the store still works
		b.Fatal(err)
	}
}

// signUpTenants creates n tenants from workers goroutines, each with a
// signup grant, and returns their ids in creation order.
func signUpTenants(b *testing.B, s *Store, n, workers int) []string {
	ctx := context.Background()
	ids := make([]string, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)) - 1; i < n && !b.Failed(); i = int(next.Add(1)) - 1 {
				ids[i] = NewID()
				err := s.CreateTenantDB(ctx, ids[i])
				if err == nil { // the busiest tenants reserve thousands
					_, err = s.Grant(ctx, ids[i], 1_000_000, "signup", "signup:"+ids[i])
				}
				if err != nil {
					b.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	if b.Failed() {
		b.FailNow()
	}
	return ids
}

// touchStats are per-Acquire latencies, split by whether the tenant DB was
// open before (hit) or had to be opened again (reopen).
type touchStats struct {
	mu          sync.Mutex
	hit, reopen []time.Duration
	waitedClose int // reopens that found the DB still closing after eviction
	elapsed     time.Duration
}

func (st *touchStats) percentile(ds []time.Duration, p int) float64 {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	return float64(ds[(len(ds)-1)*p/100]) / float64(time.Millisecond)
}

// touchSkewed runs touches Acquire → read or reserve → Release over ids with
// Zipf-distributed popularity (a few tenants busy, a long tail rarely seen).
func touchSkewed(b *testing.B, s *Store, ids []string, touches, workers int) *touchStats {
	ctx := context.Background()
	rank := rand.New(rand.NewPCG(1, 2)).Perm(len(ids)) // popularity order unrelated to creation
	st := &touchStats{}
	var left atomic.Int64
	left.Store(int64(touches))
	var wg sync.WaitGroup
	start := time.Now()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 3))
			zipf := rand.NewZipf(rng, 1.1, 1, uint64(len(ids)-1))
			for i := 0; left.Add(-1) >= 0 && !b.Failed(); i++ {
				id := ids[rank[zipf.Uint64()]]
				wasOpen, wasClosing := s.Pool.state(id)
				t0 := time.Now()
				h, err := s.Pool.Acquire(ctx, id)
				d := time.Since(t0)
				if err != nil {
					b.Error(err)
					return
				}
				if rng.IntN(5) == 0 {
					_, err = s.Reserve(ctx, id, fmt.Sprint("t", w, "-", i), 1)
				} else {
					_, err = s.Balance(ctx, id)
				}
				h.Release()
				if err != nil {
					b.Error(err)
					return
				}
				st.mu.Lock()
				switch {
				case wasOpen:
					st.hit = append(st.hit, d)
				case wasClosing:
					st.waitedClose++
					fallthrough
				default:
					st.reopen = append(st.reopen, d)
				}
				st.mu.Unlock()
			}
		}()
	}
	wg.Wait()
	st.elapsed = time.Since(start)
	return st
}

// probeReopen acquires n evicted tenants one at a time, 10 ms apart, while
// the store is otherwise idle: the reopen latency without queueing behind
// other opens, closes and commits.
func probeReopen(b *testing.B, s *Store, ids []string, n int) *touchStats {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(5, 6))
	st := &touchStats{}
	for len(st.reopen) < n && !b.Failed() {
		id := ids[rng.IntN(len(ids))]
		if open, closing := s.Pool.state(id); open || closing {
			continue
		}
		t0 := time.Now()
		h, err := s.Pool.Acquire(ctx, id)
		st.reopen = append(st.reopen, time.Since(t0))
		if err != nil {
			b.Fatal(err)
		}
		h.Release()
		time.Sleep(10 * time.Millisecond)
	}
	return st
}

// state reports whether the tenant's DB is open (or opening) now, and
// whether its close after an eviction is still running.
func (p *Pool) state(id string) (open, closing bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, open = p.open[id]
	_, closing = p.closing[id]
	return open, closing
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

// idleCPU returns the process's CPU time over d divided by d (1 = one core).
func idleCPU(d time.Duration) float64 {
	cpu := func() time.Duration {
		var ru syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	c0, t0 := cpu(), time.Now()
	time.Sleep(d)
	return float64(cpu()-c0) / float64(time.Since(t0))
}

// procStatus returns a "kB" field of /proc/self/status in bytes.
func procStatus(field string) (uint64, error) {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(data)) {
		if name, rest, ok := strings.Cut(line, ":"); ok && name == field {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no %s in /proc/self/status", field)
}

func mustProcStatus(tb testing.TB, field string) uint64 {
	n, err := procStatus(field)
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

// peakSampler tracks the highest RSS seen while it runs (VmHWM also counts
// the sign-up phase).
type peakSampler struct {
	stopc chan struct{}
	peak  chan uint64
}

func startPeakSampler() *peakSampler {
	p := &peakSampler{stopc: make(chan struct{}), peak: make(chan uint64)}
	go func() {
		var peak uint64
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			if rss, _ := procStatus("VmRSS"); rss > peak {
				peak = rss
			}
			select {
			case <-tick.C:
			case <-p.stopc:
				p.peak <- peak
				return
			}
		}
	}()
	return p
}

func (p *peakSampler) stop() uint64 {
	close(p.stopc)
	return <-p.peak
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
