package store

import (
	"context"
	"fmt"
	"testing"
)

func BenchmarkScratchReserveSerial(b *testing.B) {
	s := mustOpen(b, 16)
	ctx := context.Background()
	id := mustTenant(b, s, int64(b.N)+1)
	b.ResetTimer()
	for i := range b.N {
		if _, err := s.Reserve(ctx, id, fmt.Sprint("b", i), 1); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "reservations/s")
}

func BenchmarkScratchDbg(b *testing.B) {
	DbgBatches.Store(0); DbgOps.Store(0); DbgApply.Store(0); DbgCommit.Store(0)
	BenchmarkReserveParallel(b)
	n := float64(DbgBatches.Load())
	b.ReportMetric(float64(DbgOps.Load())/n, "ops/batch")
	b.ReportMetric(float64(DbgApply.Load())/n/1e3, "apply-us")
	b.ReportMetric(float64(DbgCommit.Load())/n/1e3, "commit-us")
}
