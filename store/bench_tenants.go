package store

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// TenantsBench is the many-tenants scenario: Tenants sign up in one store
// (CreateTenantDB and a grant each) under an LRU bound of MaxOpen, then
// Touches skewed touches from Workers goroutines reopen evicted DBs, then
// Probes reopens are timed one at a time. Memory and open DBs are read at
// the end. It measures the whole process, so run one at a time.
type TenantsBench struct {
	Dir         string // an empty directory for the store
	Tenants     int
	MaxOpen     int
	Touches     int
	Workers     int
	Probes      int
	MemoryLimit int64         // Go soft memory limit in bytes, as the server sets it; 0 for none
	IdleWindow  time.Duration // how long idle CPU is sampled at the end; 0 skips it
	Logger      *slog.Logger
}

// TenantsResult is what TenantsBench measured.
type TenantsResult struct {
	SignupsPerSec     float64
	Load              *TouchStats // the skewed touches
	TouchesPerSec     float64
	Reopen            Latencies // one at a time, store idle
	OpenDBs           int
	Goroutines        int
	RSS, PeakRSS, HWM uint64 // bytes; PeakRSS is sampled during the touches
	HeapInuse         uint64
	GCCPUPercent      float64
	IdleCPUPercent    float64 // of one core
}

// Run opens the store, runs the scenario and closes the store.
func (c TenantsBench) Run(ctx context.Context) (res TenantsResult, err error) {
	if c.MemoryLimit > 0 {
		defer debug.SetMemoryLimit(debug.SetMemoryLimit(c.MemoryLimit))
	}
	s, err := Open(Options{Dir: c.Dir, MaxOpenTenants: c.MaxOpen, Logger: c.Logger})
	if err != nil {
		return res, err
	}
	defer func() {
		if cerr := s.Close(); err == nil {
			err = cerr
		}
	}()
	start := time.Now()
	ids, err := SignUpTenants(ctx, s, c.Tenants, c.Workers, 1_000_000) // the busiest reserve thousands
	if err != nil {
		return res, fmt.Errorf("sign up: %w", err)
	}
	res.SignupsPerSec = float64(c.Tenants) / time.Since(start).Seconds()
	c.Logger.Info("tenants signed up", "tenants", c.Tenants, "per_s", int(res.SignupsPerSec))

	peak := startPeakSampler()
	res.Load, err = TouchSkewed(ctx, s, ids, c.Touches, c.Workers)
	if err == nil {
		res.TouchesPerSec = float64(c.Touches) / res.Load.Elapsed.Seconds()
		c.Logger.Info("skewed touches done", "touches", c.Touches, "reopens", len(res.Load.Reopen))
		res.Reopen, err = ProbeReopen(ctx, s, ids, c.Probes)
	}
	res.PeakRSS = peak.stop()
	if err != nil {
		return res, err
	}
	return res, res.readProcess(s, c.IdleWindow)
}

// readProcess fills in the open DBs, memory and CPU figures.
func (res *TenantsResult) readProcess(s *Store, idleWindow time.Duration) (err error) {
	res.OpenDBs = s.Pool.OpenCount()
	res.Goroutines = runtime.NumGoroutine()
	if res.RSS, err = procStatus("VmRSS"); err != nil {
		return err
	}
	res.PeakRSS = max(res.PeakRSS, res.RSS)
	if res.HWM, err = procStatus("VmHWM"); err != nil {
		return err
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	res.HeapInuse, res.GCCPUPercent = ms.HeapInuse, ms.GCCPUFraction*100
	if idleWindow > 0 {
		res.IdleCPUPercent = idleCPU(idleWindow) * 100
	}
	return nil
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
