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
