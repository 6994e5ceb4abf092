package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aibud/aibud/tenants"
	"github.com/dgraph-io/badger/v4"
)

// TestCreditsMixedConcurrent runs reserves, refunds and grants with
// colliding refs from many goroutines and checks the invariants: every
// repeat of a ref returns the first entry, refunds never exceed their
// reservation, balance ≥ 0 and balance == sum of the ledger, also after a
// reopen.
func TestCreditsMixedConcurrent(t *testing.T) {
	dir := t.TempDir()
	s := mustOpenDir(t, dir, 4)
	ctx := context.Background()
	id := mustTenant(t, s, 500)

	var mu sync.Mutex
	first := map[string]string{}   // kind/ref → id of the entry it made
	reserved := map[string]int64{} // reservation ref → amount
	refunded := map[string]int64{} // reservation ref → refunds applied
	seen := func(kind, ref string, e tenants.LedgerEntry) {
		mu.Lock()
		defer mu.Unlock()
		if prev, ok := first[kind+"/"+ref]; ok && prev != e.ID {
			t.Errorf("%s %s: entry %s, first %s", kind, ref, e.ID, prev)
		}
		first[kind+"/"+ref] = e.ID
	}
	var wg sync.WaitGroup
	for g := range 48 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 7))
			for range 150 {
				switch x := rng.IntN(10); {
				case x < 6:
					ref := fmt.Sprint("r", rng.IntN(400))
					e, err := s.Reserve(ctx, id, ref, int64(1+rng.IntN(3)))
					if err == nil {
						seen("reserve", ref, e)
						mu.Lock()
						reserved[ref] = -e.Delta
						mu.Unlock()
					} else if tenants.ErrorCode(err) != tenants.EPAYMENT {
						t.Error(err)
					}
				case x < 9:
					rref, fref := fmt.Sprint("r", rng.IntN(400)), fmt.Sprint("f", rng.IntN(300))
					e, applied, err := s.Refund(ctx, id, rref, fref, 1)
					if err == nil {
						seen("refund", fref, e)
						if applied {
							mu.Lock()
							refunded[rref]++
							mu.Unlock()
						}
					} else if c := tenants.ErrorCode(err); c != tenants.ENOTFOUND && c != tenants.ECONFLICT {
						t.Error(err)
					}
				default:
					ref := fmt.Sprint("g", rng.IntN(100))
					e, err := s.Grant(ctx, id, int64(rng.IntN(20)-4), `adjust <&> "é"`, ref)
					if err == nil {
						seen("grant", ref, e)
					} else if c := tenants.ErrorCode(err); c != tenants.EPAYMENT && c != tenants.EINVALID {
						t.Error(err)
					}
				}
			}
		}()
	}
	wg.Wait()

	check := func(s *Store) {
		t.Helper()
		bal, err := s.Balance(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		sum, n := ledgerSum(t, s, id)
		if bal < 0 || sum != bal || n != len(first)+1 {
			t.Fatalf("balance %d, ledger sum %d over %d entries; want ≥ 0, equal, %d entries", bal, sum, n, len(first)+1)
		}
		err = s.WithTenant(ctx, id, func(h *TenantDB) error {
			return h.DB.View(func(txn *badger.Txn) error {
				for ref, amount := range reserved {
					item, err := txn.Get(appendRefKey(nil, opReserve, ref))
					if err != nil {
						return err
					}
					v, _ := item.ValueCopy(nil)
					a, r := int64(binary.BigEndian.Uint64(v[8:])), int64(binary.BigEndian.Uint64(v[16:]))
					if a != amount || r != refunded[ref] || r > a {
						t.Errorf("reservation %s holds amount %d refunded %d; want %d and %d", ref, a, r, amount, refunded[ref])
					}
				}
				return nil
			})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	check(s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	check(mustOpenDir(t, dir, 4))
}

// TestCreditsCommitFailure fails every fifth commit. The failed batch's ops
// get the error (callers retry: reserve is idempotent per ref), the batch
// applied on top of it starts over, and in the end every ref applied once.
func TestCreditsCommitFailure(t *testing.T) {
	s := mustOpen(t, 4)
	ctx := context.Background()
	const start, callers, each = 1_000_000, 32, 100
	id := mustTenant(t, s, start)
	h, err := s.Pool.Acquire(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Release()
	errInjected := errors.New("injected")
	var commits, retried atomic.Int64
	h.entry.credits.commit = func(txn *badger.Txn) error {
		if commits.Add(1)%5 == 0 {
			txn.Discard()
			time.Sleep(time.Millisecond) // the next batch applies on top meanwhile
			return errInjected
		}
		return txn.Commit()
	}
	var wg sync.WaitGroup
	for g := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				for {
					e, err := s.Reserve(ctx, id, fmt.Sprint(g, "-", i), 1)
					if errors.Is(err, errInjected) {
						retried.Add(1)
						continue
					}
					if err != nil || e.Delta != -1 {
						t.Errorf("reserve: %+v, %v", e, err)
					}
					break
				}
			}
		}()
	}
	wg.Wait()
	bal, _ := s.Balance(ctx, id)
	sum, n := ledgerSum(t, s, id)
	if want := int64(start - callers*each); bal != want || sum != bal || n != callers*each+1 {
		t.Fatalf("balance %d, ledger sum %d over %d entries; want %d over %d", bal, sum, n, want, callers*each+1)
	}
	if retried.Load() == 0 {
		t.Fatal("no commit failed")
	}
}
