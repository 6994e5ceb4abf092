package store

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// The workloads behind the store's benchmarks, shared by the Go benchmarks
// of this package and `aibud bench` (cmd/aibud), so that both measure the
// same thing.

// SignUpTenants creates n tenants from workers goroutines, each with a
// signup grant of credits, and returns their ids in creation order.
func SignUpTenants(ctx context.Context, s *Store, n, workers int, credits int64) ([]string, error) {
	ids := make([]string, n)
	var next atomic.Int64
	err := parallel(workers, func(_ int, failed func() bool) error {
		for i := int(next.Add(1)) - 1; i < n && !failed(); i = int(next.Add(1)) - 1 {
			ids[i] = NewID()
			if err := s.CreateTenantDB(ctx, ids[i]); err != nil {
				return err
			}
			if _, err := s.Grant(ctx, ids[i], credits, "signup", "signup:"+ids[i]); err != nil {
				return err
			}
		}
		return nil
	})
	return ids, err
}

// ReserveLoad makes n durable single-credit reservations from callers
// goroutines, round robin over ids, and returns reservations per second.
func ReserveLoad(ctx context.Context, s *Store, ids []string, n, callers int) (float64, error) {
	var seq atomic.Int64
	start := time.Now()
	err := parallel(callers, func(_ int, failed func() bool) error {
		for i := seq.Add(1) - 1; i < int64(n) && !failed(); i = seq.Add(1) - 1 {
			if _, err := s.Reserve(ctx, ids[i%int64(len(ids))], fmt.Sprint("bench-", i), 1); err != nil {
				return err
			}
		}
		return nil
	})
	return float64(n) / time.Since(start).Seconds(), err
}

// parallel runs fn on workers goroutines and joins their errors; failed
// tells each that another has failed, so that it stops early.
func parallel(workers int, fn func(worker int, failed func() bool) error) error {
	var bad atomic.Bool
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			if errs[w] = fn(w, bad.Load); errs[w] != nil {
				bad.Store(true)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Latencies are durations of one kind of operation.
type Latencies []time.Duration

// Percentile returns the p-th percentile (0 when empty); it sorts l.
func (l Latencies) Percentile(p int) time.Duration {
	if len(l) == 0 {
		return 0
	}
	slices.Sort(l)
	return l[(len(l)-1)*p/100]
}

// TouchStats are per-Acquire latencies, split by whether the tenant DB was
// open before (Hit) or had to be opened again (Reopen).
type TouchStats struct {
	mu          sync.Mutex
	Hit, Reopen Latencies
	WaitedClose int // reopens that found the DB still closing after eviction
	Elapsed     time.Duration
}

func (st *TouchStats) add(d time.Duration, wasOpen, wasClosing bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	switch {
	case wasOpen:
		st.Hit = append(st.Hit, d)
	case wasClosing:
		st.WaitedClose++
		fallthrough
	default:
		st.Reopen = append(st.Reopen, d)
	}
}

// TouchSkewed runs touches Acquire → read or reserve → Release over ids
// from workers goroutines, with Zipf-distributed popularity (a few tenants
// busy, a long tail rarely seen), 80% balance reads and 20% reservations.
func TouchSkewed(ctx context.Context, s *Store, ids []string, touches, workers int) (*TouchStats, error) {
	rank := rand.New(rand.NewPCG(1, 2)).Perm(len(ids)) // popularity order unrelated to creation
	st := &TouchStats{}
	var left atomic.Int64
	left.Store(int64(touches))
	start := time.Now()
	err := parallel(workers, func(w int, failed func() bool) error {
		rng := rand.New(rand.NewPCG(uint64(w), 3))
		zipf := rand.NewZipf(rng, 1.1, 1, uint64(len(ids)-1))
		for i := 0; left.Add(-1) >= 0 && !failed(); i++ {
			id := ids[rank[zipf.Uint64()]]
			wasOpen, wasClosing := s.Pool.state(id)
			t0 := time.Now()
			h, err := s.Pool.Acquire(ctx, id)
			if err != nil {
				return err
			}
			st.add(time.Since(t0), wasOpen, wasClosing)
			if rng.IntN(5) == 0 {
				_, err = s.Reserve(ctx, id, fmt.Sprint("t", w, "-", i), 1)
			} else {
				_, err = s.Balance(ctx, id)
			}
			h.Release()
			if err != nil {
				return err
			}
		}
		return nil
	})
	st.Elapsed = time.Since(start)
	return st, err
}

// ProbeReopen acquires n evicted tenants one at a time, 10 ms apart, while
// the store is otherwise idle: the reopen latency without queueing behind
// other opens, closes and commits. It returns fewer when few are evicted.
func ProbeReopen(ctx context.Context, s *Store, ids []string, n int) (Latencies, error) {
	rng := rand.New(rand.NewPCG(5, 6))
	var out Latencies
	for tries := 0; len(out) < n && tries < 100*n; tries++ {
		id := ids[rng.IntN(len(ids))]
		if open, closing := s.Pool.state(id); open || closing {
			continue
		}
		t0 := time.Now()
		h, err := s.Pool.Acquire(ctx, id)
		if err != nil {
			return out, err
		}
		out = append(out, time.Since(t0))
		h.Release()
		if err := sleepCtx(ctx, 10*time.Millisecond); err != nil {
			return out, err
		}
	}
	return out, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
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
