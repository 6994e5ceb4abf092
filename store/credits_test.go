package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aibud/aibud/tenants"
)

// ledgerSum pages through the whole ledger and adds up the deltas.
func ledgerSum(t *testing.T, s *Store, id string) (sum int64, n int) {
	t.Helper()
	cursor := ""
	for {
		page, err := s.Ledger(context.Background(), id, cursor, 7)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page.Entries {
			sum += e.Delta
			n++
		}
		if page.NextCursor == "" {
			return sum, n
		}
		cursor = page.NextCursor
	}
}

func TestReserveConcurrentNeverNegative(t *testing.T) {
	dir := t.TempDir()
	s := mustOpenDir(t, dir, 4)
	ctx := context.Background()
	id := mustTenant(t, s, 1000)

	var ok, refused atomic.Int64
	var wg sync.WaitGroup
	for g := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 40 {
				_, err := s.Reserve(ctx, id, fmt.Sprintf("r-%d-%d", g, i), 1)
				switch {
				case err == nil:
					ok.Add(1)
				case errors.Is(err, tenants.ErrInsufficientCredits):
					refused.Add(1)
				default:
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 1000 || refused.Load() != 64*40-1000 {
		t.Fatalf("reserved %d, refused %d; want 1000 and %d", ok.Load(), refused.Load(), 64*40-1000)
	}
	bal, _ := s.Balance(ctx, id)
	if bal != 0 {
		t.Fatalf("balance = %d, want 0", bal)
	}
	sum, n := ledgerSum(t, s, id)
	if sum != bal || n != 1001 {
		t.Fatalf("ledger sum %d over %d entries, balance %d", sum, n, bal)
	}

	// Refund once per reference, concurrently, and never beyond the reservation.
	var applied atomic.Int64
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 10 {
				_, did, err := s.Refund(ctx, id, fmt.Sprintf("r-0-%d", i), fmt.Sprintf("refund-%d", i), 1)
				if err != nil {
					t.Error(err)
				}
				if did {
					applied.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if applied.Load() != 10 {
		t.Fatalf("refunds applied = %d, want 10", applied.Load())
	}
	if _, _, err := s.Refund(ctx, id, "r-0-0", "refund-extra", 1); tenants.ErrorCode(err) != tenants.ECONFLICT {
		t.Fatalf("refund beyond reservation: err = %v, want conflict", err)
	}

	// Everything survives a close and reopen.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := mustOpenDir(t, dir, 4)
	bal2, err := s2.Balance(ctx, id)
	if err != nil || bal2 != 10 {
		t.Fatalf("after reopen balance = %d (%v), want 10", bal2, err)
	}
	if sum, _ := ledgerSum(t, s2, id); sum != 10 {
		t.Fatalf("after reopen ledger sum = %d, want 10", sum)
	}
}

func TestReserveIdempotentAndAllOrNothing(t *testing.T) {
	s := mustOpen(t, 4)
	ctx := context.Background()
	id := mustTenant(t, s, 400)

	first, err := s.Reserve(ctx, id, "poll-1", 150)
	if err != nil {
		t.Fatal(err)
	}
	again, err := s.Reserve(ctx, id, "poll-1", 150)
	if err != nil || again.ID != first.ID {
		t.Fatalf("repeat reserve = %+v, %v; want the first entry", again, err)
	}
	_, err = s.Reserve(ctx, id, "poll-2", 251)
	var ic *tenants.InsufficientCreditsError
	if !errors.As(err, &ic) || ic.Balance != 250 || ic.Need != 251 {
		t.Fatalf("short reserve err = %v, want balance 250 need 251", err)
	}
	if bal, _ := s.Balance(ctx, id); bal != 250 {
		t.Fatalf("balance = %d, want 250", bal)
	}
	if _, err := s.Grant(ctx, id, -251, "admin deduct", ""); !errors.Is(err, tenants.ErrInsufficientCredits) {
		t.Fatalf("deduct below zero err = %v", err)
	}
	if _, _, err := s.Refund(ctx, id, "nope", "x", 1); tenants.ErrorCode(err) != tenants.ENOTFOUND {
		t.Fatalf("refund of unknown reservation err = %v", err)
	}
	for _, bad := range []string{"", "has space"} {
		if _, err := s.Reserve(ctx, id, bad, 1); tenants.ErrorCode(err) != tenants.EINVALID {
			t.Fatalf("reserve ref %q err = %v, want invalid", bad, err)
		}
	}
	if _, err := s.Reserve(ctx, NewID(), "x", 1); tenants.ErrorCode(err) != tenants.ENOTFOUND {
		t.Fatalf("unknown tenant err = %v", err)
	}
}

func TestLedgerPagination(t *testing.T) {
	s := mustOpen(t, 4)
	ctx := context.Background()
	id := mustTenant(t, s, 400)
	for i := range 9 {
		if _, err := s.Reserve(ctx, id, fmt.Sprint("p", i), int64(i+1)); err != nil {
			t.Fatal(err)
		}
	}
	var got []int64
	cursor := ""
	for {
		page, err := s.Ledger(ctx, id, cursor, 4)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page.Entries {
			got = append(got, e.Delta)
		}
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	want := []int64{-9, -8, -7, -6, -5, -4, -3, -2, -1, 400}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("ledger deltas newest first = %v, want %v", got, want)
	}
	if _, err := s.Ledger(ctx, id, "garbage", 4); tenants.ErrorCode(err) != tenants.EINVALID {
		t.Fatalf("bad cursor err = %v", err)
	}
}

// BenchmarkReserveParallel measures durable single-credit reservations on one
// tenant from 64 concurrent callers (the group-commit path).
func BenchmarkReserveParallel(b *testing.B) {
	s := mustOpen(b, 16)
	id := mustTenant(b, s, int64(b.N)+1)
	b.ResetTimer()
	rate, err := ReserveLoad(b.Context(), s, []string{id}, b.N, 64)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(rate, "reservations/s")
}
