package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/dgraph-io/badger/v4"
)

// TestUpdateBatcherSerialAndIsolated: concurrent read-modify-write updates
// of one key, group-committed, lose no increment; an update that fails gets
// its own error and writes nothing, a panicking one becomes an error, and
// neither touches the updates batched with them.
func TestUpdateBatcherSerialAndIsolated(t *testing.T) {
	ctx := context.Background()
	s := mustOpen(t, 4)
	tid := mustTenant(t, s, 0)
	increment := func(key string) func(*badger.Txn) error {
		return func(txn *badger.Txn) error {
			var n uint64
			if item, err := txn.Get([]byte(key)); err == nil {
				v, err := item.ValueCopy(nil)
				if err != nil {
					return err
				}
				n = binary.BigEndian.Uint64(v)
			} else if !errors.Is(err, badger.ErrKeyNotFound) {
				return err
			}
			return txn.Set([]byte(key), binary.BigEndian.AppendUint64(nil, n+1))
		}
	}
	errRefused := errors.New("refused")
	const callers, each = 32, 50
	var wg sync.WaitGroup
	errs := make(chan error, callers*each)
	for c := range callers {
		wg.Go(func() {
			for i := range each {
				var err error
				switch {
				case c == 0 && i%10 == 0: // fails after writing: none of it may land
					err = s.tenantUpdate(ctx, tid, func(txn *badger.Txn) error {
						if err := increment("test/counter")(txn); err != nil {
							return err
						}
						return fmt.Errorf("update %d: %w", i, errRefused)
					})
					if !errors.Is(err, errRefused) {
						errs <- fmt.Errorf("failing update returned %v", err)
					}
					continue
				case c == 1 && i == 7:
					err = s.tenantUpdate(ctx, tid, func(txn *badger.Txn) error { panic("boom") })
					if err == nil || !strings.Contains(err.Error(), "boom") {
						errs <- fmt.Errorf("panicking update returned %v", err)
					}
					continue
				}
				if err = s.tenantUpdate(ctx, tid, increment("test/counter")); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	want := uint64(callers*each - each/10 - 1)
	var got uint64
	if err := s.tenantView(ctx, tid, func(txn *badger.Txn) error {
		item, err := txn.Get([]byte("test/counter"))
		if err != nil {
			return err
		}
		v, err := item.ValueCopy(nil)
		got = binary.BigEndian.Uint64(v)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("counter = %d, want %d: an increment was lost or a failed one landed", got, want)
	}
}
