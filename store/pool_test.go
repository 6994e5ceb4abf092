package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// newTestPool returns a pool bounded to max open DBs over n tenant
// directories, closed at the end of the test.
func newTestPool(tb testing.TB, max, n int) (*Pool, []string) {
	tb.Helper()
	dir := tb.TempDir()
	p := NewPool(dir, max, slog.New(slog.NewTextHandler(io.Discard, nil)))
	tb.Cleanup(func() { _ = p.Close() })
	ids := make([]string, n)
	for i := range ids {
		ids[i] = NewID()
		if err := os.Mkdir(p.Dir(ids[i]), 0o700); err != nil {
			tb.Fatal(err)
		}
	}
	return p, ids
}

func mustAcquire(tb testing.TB, p *Pool, id string) *TenantDB {
	tb.Helper()
	h, err := p.Acquire(context.Background(), id)
	if err != nil {
		tb.Fatalf("Acquire %s: %v", id, err)
	}
	return h
}

func putString(db *badger.DB, key, val string) error {
	return db.Update(func(txn *badger.Txn) error { return txn.Set([]byte(key), []byte(val)) })
}

func getString(db *badger.DB, key string) (string, error) {
	var val string
	err := db.View(func(txn *badger.Txn) error {
		item, err := txn.Get([]byte(key))
		if err != nil {
			return err
		}
		b, err := item.ValueCopy(nil)
		val = string(b)
		return err
	})
	return val, err
}

// dirNames lists a directory, sorted.
func dirNames(tb testing.TB, dir string) []string {
	tb.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		tb.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// TestPoolChurnNeverUsesClosedDB runs many more tenants than the bound from
// many goroutines. Every write on a held handle must succeed and read back
// what this goroutine wrote before (so evicted DBs were closed cleanly and
// reopened with their data), and the pool stays within its bound plus the
// handles held.
func TestPoolChurnNeverUsesClosedDB(t *testing.T) {
	const (
		bound      = 4
		tenants    = 40
		goroutines = 16
		minIters   = 3 // even on a slow machine
		maxIters   = 400
	)
	p, ids := newTestPool(t, bound, tenants)
	deadline := time.Now().Add(time.Second)

	var (
		gate   sync.RWMutex // workers hold it shared from Acquire to Release
		active atomic.Int64 // workers between Acquire and Release
		ops    atomic.Int64
		wg     sync.WaitGroup
	)
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 1))
			counts := map[string]int{} // what this goroutine last wrote per tenant
			for i := 0; i < maxIters && (i < minIters || time.Now().Before(deadline)); i++ {
				id := ids[rng.IntN(tenants)]
				gate.RLock()
				active.Add(1)
				err := churnOnce(p, id, fmt.Sprintf("g%d", g), counts)
				active.Add(-1)
				gate.RUnlock()
				if err != nil {
					t.Errorf("goroutine %d, tenant %s: %v", g, id, err)
					return
				}
				ops.Add(1)
			}
		}()
	}

	// Sample the open count while the workers run, and at quiet points
	// (nobody between Acquire and Release) check the bound itself.
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	maxSeen := 0
sample:
	for i := 0; ; i++ {
		select {
		case <-done:
			break sample
		case <-tick.C:
		}
		n := p.OpenCount()
		maxSeen = max(maxSeen, n)
		if n > bound+goroutines {
			t.Errorf("OpenCount = %d with at most %d handles held, bound %d", n, goroutines, bound)
		}
		if i%10 == 0 {
			gate.Lock()
			if n, a := p.OpenCount(), active.Load(); a != 0 || n > bound {
				t.Errorf("at a quiet point OpenCount = %d, active = %d; want ≤ %d and 0", n, a, bound)
			}
			gate.Unlock()
		}
	}
	if n := p.OpenCount(); n > bound {
		t.Errorf("after all releases OpenCount = %d, want ≤ %d", n, bound)
	}
	if ops.Load() < goroutines*minIters {
		t.Errorf("only %d operations ran", ops.Load())
	}
	t.Logf("%d acquire/write/read/release cycles over %d tenants, bound %d, max open seen %d", ops.Load(), tenants, bound, maxSeen)
}

// churnOnce acquires a tenant, checks this goroutine's last write survived,
// writes the next value and releases.
func churnOnce(p *Pool, id, key string, counts map[string]int) error {
	h, err := p.Acquire(context.Background(), id)
	if err != nil {
		return fmt.Errorf("acquire: %w", err)
	}
	defer h.Release()
	want := counts[id]
	got, err := getString(h.DB, key)
	switch {
	case errors.Is(err, badger.ErrKeyNotFound) && want == 0:
	case err != nil:
		return fmt.Errorf("read: %w", err)
	case got != fmt.Sprint(want):
		return fmt.Errorf("read %q = %q, want %d", key, got, want)
	}
	if err := putString(h.DB, key, fmt.Sprint(want+1)); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	counts[id] = want + 1
	return nil
}

func TestPoolNeverClosesHeldDB(t *testing.T) {
	p, ids := newTestPool(t, 2, 12)
	held := mustAcquire(t, p, ids[0])
	defer held.Release()
	if err := putString(held.DB, "k", "before"); err != nil {
		t.Fatal(err)
	}
	for round := range 3 {
		for _, id := range ids[1:] {
			h := mustAcquire(t, p, id)
			if err := putString(h.DB, "k", id); err != nil {
				t.Fatal(err)
			}
			h.Release()
		}
		if err := putString(held.DB, "k", fmt.Sprint("round", round)); err != nil {
			t.Fatalf("held DB after churn round %d: %v", round, err)
		}
		if n := p.OpenCount(); n > 2 {
			t.Fatalf("OpenCount = %d after churn with one handle held, bound 2", n)
		}
	}
	if got, err := getString(held.DB, "k"); err != nil || got != "round2" {
		t.Fatalf("held DB read = %q, %v; want round2", got, err)
	}
}

func TestPoolGoesOverBoundWhenAllHeld(t *testing.T) {
	p, ids := newTestPool(t, 2, 4)
	var hs []*TenantDB
	for _, id := range ids {
		hs = append(hs, mustAcquire(t, p, id))
	}
	if n := p.OpenCount(); n != 4 {
		t.Fatalf("OpenCount with 4 held = %d, want 4 (over the bound, never blocking)", n)
	}
	for _, h := range hs {
		if err := putString(h.DB, "k", "v"); err != nil {
			t.Fatal(err)
		}
		h.Release()
		h.Release() // a second Release is a no-op
	}
	if n := p.OpenCount(); n != 2 {
		t.Fatalf("OpenCount after releasing all = %d, want 2", n)
	}
}

func TestPoolReopenAfterEvictionSeesWrites(t *testing.T) {
	p, ids := newTestPool(t, 1, 3)
	first := mustAcquire(t, p, ids[0])
	if err := putString(first.DB, "greeting", "hello"); err != nil {
		t.Fatal(err)
	}
	firstDB := first.DB
	first.Release()

	for _, id := range ids[1:] { // evicts ids[0], then ids[1]
		mustAcquire(t, p, id).Release()
	}
	if n := p.OpenCount(); n != 1 {
		t.Fatalf("OpenCount = %d, want 1", n)
	}
	again := mustAcquire(t, p, ids[0])
	defer again.Release()
	if again.DB == firstDB {
		t.Fatal("tenant DB was not closed and reopened after eviction")
	}
	if got, err := getString(again.DB, "greeting"); err != nil || got != "hello" {
		t.Fatalf("after reopen greeting = %q, %v; want hello", got, err)
	}
}

func TestPoolAcquireMissingTenant(t *testing.T) {
	p, ids := newTestPool(t, 2, 1)
	before := dirNames(t, p.dir)
	for _, id := range []string{NewID(), "../" + NewID(), NewID() + "/x"} {
		for range 2 { // a failed open is not cached: the second try fails the same way
			h, err := p.Acquire(context.Background(), id)
			if !errors.Is(err, errTenantMissing) {
				if h != nil {
					h.Release()
				}
				t.Fatalf("Acquire %q err = %v, want errTenantMissing", id, err)
			}
		}
		if _, err := os.Stat(p.Dir(id)); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("Acquire %q left %s behind (stat err %v)", id, p.Dir(id), err)
		}
	}
	if after := dirNames(t, p.dir); !slices.Equal(before, after) {
		t.Fatalf("tenants dir was %v, now %v", before, after)
	}
	if n := p.OpenCount(); n != 0 {
		t.Fatalf("OpenCount after failed opens = %d, want 0", n)
	}
	mustAcquire(t, p, ids[0]).Release() // the pool still works
}

// TestPoolRejectsIDsOutsideTenantsDir: an id that is not one path element
// must not open (or, for Remove, delete) anything but a tenant directory.
func TestPoolRejectsIDsOutsideTenantsDir(t *testing.T) {
	p, _ := newTestPool(t, 2, 1)
	before := dirNames(t, p.dir)
	for _, id := range []string{"", ".", ".."} {
		if h, err := p.Acquire(context.Background(), id); err == nil {
			h.Release()
			t.Errorf("Acquire %q succeeded", id)
		}
		if err := p.Remove(id); err == nil {
			t.Errorf("Remove %q succeeded", id)
		}
	}
	if after := dirNames(t, p.dir); !slices.Equal(before, after) {
		t.Fatalf("tenants dir was %v, now %v", before, after)
	}
}

func TestPoolAcquireAfterClose(t *testing.T) {
	p, ids := newTestPool(t, 2, 1)
	h := mustAcquire(t, p, ids[0])
	h.Release()
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Acquire(context.Background(), ids[0]); !errors.Is(err, ErrPoolClosed) {
		t.Fatalf("Acquire after Close err = %v, want ErrPoolClosed", err)
	}
	if n := p.OpenCount(); n != 0 {
		t.Fatalf("OpenCount after Close = %d", n)
	}
}

func TestPoolRemove(t *testing.T) {
	p, ids := newTestPool(t, 1, 3)
	ctx := context.Background()

	// Open and idle: Remove closes the DB and deletes the directory.
	mustAcquire(t, p, ids[0]).Release()
	if err := p.Remove(ids[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p.Dir(ids[0])); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("directory still there after Remove: %v", err)
	}
	if _, err := p.Acquire(ctx, ids[0]); !errors.Is(err, errTenantMissing) {
		t.Fatalf("Acquire after Remove err = %v, want errTenantMissing", err)
	}

	// Held: Remove refuses and the data stays.
	h := mustAcquire(t, p, ids[1])
	if err := p.Remove(ids[1]); err == nil {
		t.Fatal("Remove of a held tenant succeeded")
	}
	if err := putString(h.DB, "k", "v"); err != nil {
		t.Fatalf("held DB after refused Remove: %v", err)
	}
	h.Release()

	// Just evicted (its Close may still run in the background): Remove waits.
	mustAcquire(t, p, ids[2]).Release() // evicts ids[1]
	if err := p.Remove(ids[1]); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p.Dir(ids[1])); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("evicted tenant directory still there after Remove: %v", err)
	}

	// Never opened: Remove just deletes the directory.
	cold := NewID()
	if err := os.Mkdir(p.Dir(cold), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := p.Remove(cold); err != nil {
		t.Fatal(err)
	}
	if got := dirNames(t, p.dir); !slices.Equal(got, []string{ids[2]}) {
		t.Fatalf("tenants dir = %v, want only %s", got, ids[2])
	}
}

// TestPoolCancelWhileWaiting cancels Acquire calls that wait for a DB to be
// ready, for another caller's open, or for an evicted DB's close. A cancelled
// wait must not leak a reference: afterwards every DB can still be evicted.
func TestPoolCancelWhileWaiting(t *testing.T) {
	p, ids := newTestPool(t, 1, 2)
	a, b := ids[0], ids[1]
	cctx := canceledContext()

	// a is open and idle: Acquire either takes it or sees the cancellation
	// (Go picks at random between ready channels).
	mustAcquire(t, p, a).Release()
	cancelled := 0
	for range 20 {
		h, err := p.Acquire(cctx, a)
		switch {
		case errors.Is(err, context.Canceled):
			cancelled++
		case err != nil:
			t.Fatal(err)
		default:
			h.Release()
		}
	}
	if cancelled == 0 {
		t.Fatal("no Acquire of an open DB observed its cancelled context")
	}
	if h := mustAcquire(t, p, b); p.OpenCount() != 1 { // evicts a unless a reference leaked
		t.Fatalf("OpenCount = %d holding b after cancelled acquires of a, want 1", p.OpenCount())
	} else {
		h.Release()
	}

	// b's open runs in another goroutine and evicts a, whose close runs in
	// the background; acquires with a cancelled context race both.
	for attempt := range 20 {
		a, b := ids[attempt%2], ids[(attempt+1)%2]
		opened := make(chan *TenantDB)
		go func() {
			h, err := p.Acquire(context.Background(), b)
			if err != nil {
				t.Error(err)
			}
			opened <- h
		}()
		for _, id := range []string{b, a} {
			if h, err := p.Acquire(cctx, id); err == nil {
				h.Release()
			} else if !errors.Is(err, context.Canceled) {
				t.Fatalf("Acquire %s with cancelled context: %v", id, err)
			}
		}
		if h := <-opened; h != nil {
			h.Release()
		}
	}
	for _, id := range ids { // holding one, the other is evicted
		h := mustAcquire(t, p, id)
		if err := putString(h.DB, "k", "v"); err != nil {
			t.Fatal(err)
		}
		n := p.OpenCount()
		h.Release()
		if n != 1 {
			t.Fatalf("OpenCount = %d holding %s after cancelled waits, want 1 (a reference leaked)", n, id)
		}
	}
}

func canceledContext() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}
