package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/aibud/aibud/store"
)

// benchTenants runs store.TenantsBench: many tenants in one store under the
// default LRU bound and the memory limit serve would set for it.
func benchTenants(ctx context.Context, e *benchEnv) (string, error) {
	defaults, err := LoadConfig(nil, func(string) string { return "" })
	if err != nil {
		return "", err
	}
	tenantCount := e.flags.Int("tenants", 10_000, "tenants to sign up")
	maxOpen := e.flags.Int("max-open-tenants", defaults.MaxOpenTenants, "LRU bound of open tenant DBs")
	touches := e.flags.Int("touches", 40_000, "skewed touches (80% balance reads, 20% reservations)")
	probes := e.flags.Int("probes", 500, "reopens timed one at a time")
	memLimitMiB := e.flags.Int("memlimit-mib", -1, "Go memory limit in MiB (0 for none; default: as serve sets it)")
	idle := e.flags.Duration("idle", 3*time.Second, "how long idle CPU is sampled at the end (0 skips it)")
	if err := e.parse(); err != nil {
		return "", err
	}
	if *tenantCount < 1 || *maxOpen < 1 || *touches < 0 || *probes < 0 {
		return "", fmt.Errorf("-tenants and -max-open-tenants must be positive")
	}
	limit := int64(*memLimitMiB) << 20
	if *memLimitMiB < 0 {
		limit = serveMemoryLimit(*maxOpen)
	}
	dir, err := e.tempDir()
	if err != nil {
		return "", err
	}
	e.logger.Info("tenants benchmark", "tenants", *tenantCount, "max_open", *maxOpen, "memory_limit_mib", limit>>20, "dir", dir)
	res, err := store.TenantsBench{
		Dir: dir, Tenants: *tenantCount, MaxOpen: *maxOpen, Touches: *touches, Workers: 8, Probes: *probes,
		MemoryLimit: limit, IdleWindow: *idle, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}.Run(ctx)
	if err != nil {
		return "", err
	}
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }
	e.logger.Info("details", "signups_per_s", int(res.SignupsPerSec), "touches_per_s", int(res.TouchesPerSec),
		"load_reopen_p50", ms(res.Load.Reopen.Percentile(50)), "load_reopen_p99", ms(res.Load.Reopen.Percentile(99)),
		"reopen_p50", ms(res.Reopen.Percentile(50)), "hwm_mib", res.HWM>>20, "heap_inuse_mib", res.HeapInuse>>20,
		"goroutines", res.Goroutines, "gc_cpu_pct", fmt.Sprintf("%.1f", res.GCCPUPercent),
		"idle_cpu_pct", fmt.Sprintf("%.1f", res.IdleCPUPercent))
	return fmt.Sprintf("%s tenants, LRU %d: RSS %s (peak %s, memory limit %s), %d open DBs, reopen p99 %s (p50 %s, %d reopens one at a time)",
		count(float64(*tenantCount)), *maxOpen, mib(res.RSS), mib(res.PeakRSS), mib(uint64(limit)),
		res.OpenDBs, ms(res.Reopen.Percentile(99)), ms(res.Reopen.Percentile(50)), len(res.Reopen)), nil
}
