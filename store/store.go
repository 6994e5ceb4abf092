package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/aibud/aibud/tenants"
	"github.com/dgraph-io/badger/v4"
	"github.com/oklog/ulid/v2"
)

// Store is Aibud's storage: the catalog plus the pool of tenant DBs. It
// implements the domain's storage ports.
type Store struct {
	*Catalog
	Pool *Pool
	Now  func() time.Time
	dir  string
}

// Options configure Open.
type Options struct {
	Dir            string // data directory: catalog/ and tenants/<id>/ live here
	MaxOpenTenants int    // LRU bound of the tenant DB pool
	Logger         *slog.Logger
	Now            func() time.Time
}

// Open opens the catalog and prepares the tenant pool under opts.Dir.
func Open(opts Options) (*Store, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if err := os.MkdirAll(filepath.Join(opts.Dir, "tenants"), 0o700); err != nil {
		return nil, fmt.Errorf("store: data dir: %w", err)
	}
	cat, err := OpenCatalog(filepath.Join(opts.Dir, "catalog"), opts.Logger)
	if err != nil {
		return nil, err
	}
	pool := NewPool(filepath.Join(opts.Dir, "tenants"), opts.MaxOpenTenants, opts.Logger)
	return &Store{Catalog: cat, Pool: pool, Now: opts.Now, dir: opts.Dir}, nil
}

// Close closes the tenant DBs, then the catalog.
func (s *Store) Close() error {
	return errors.Join(s.Pool.Close(), s.Catalog.Close())
}

// NewID returns a new sortable unique id (ULID).
func NewID() string { return ulid.Make().String() }

// CreateTenantDB makes the directory of a new tenant DB and opens it once so
// that Badger lays out its files.
func (s *Store) CreateTenantDB(ctx context.Context, id string) error {
	if err := checkTenantID(id); err != nil {
		return err
	}
	if err := os.Mkdir(s.Pool.Dir(id), 0o700); err != nil {
		return fmt.Errorf("store.CreateTenantDB %s: %w", id, err)
	}
	return s.WithTenant(ctx, id, func(*TenantDB) error { return nil })
}

// DeleteTenantDB closes and removes a tenant DB.
func (s *Store) DeleteTenantDB(ctx context.Context, id string) error {
	return s.Pool.Remove(id)
}

// WithTenant runs fn with the tenant's DB held.
func (s *Store) WithTenant(ctx context.Context, id string, fn func(*TenantDB) error) error {
	h, err := s.Pool.Acquire(ctx, id)
	if errors.Is(err, errTenantMissing) {
		return tenants.Errorf(tenants.ENOTFOUND, "Tenant not found.")
	} else if err != nil {
		return err
	}
	defer h.Release()
	return fn(h)
}

// Balance returns the tenant's credit balance.
func (s *Store) Balance(ctx context.Context, tenantID string) (int64, error) {
	var n int64
	err := s.WithTenant(ctx, tenantID, func(h *TenantDB) error {
		return h.DB.View(func(txn *badger.Txn) error {
			var err error
			n, err = getInt(txn, keyBalance)
			return err
		})
	})
	return n, wrap("store.Balance "+tenantID, err)
}

// Reserve implements tenants.Credits.
func (s *Store) Reserve(ctx context.Context, tenantID, ref string, n int64) (tenants.LedgerEntry, error) {
	if n <= 0 {
		return tenants.LedgerEntry{}, tenants.Invalid("amount", "Amount to reserve must be positive.")
	}
	if err := tenants.ValidateRef(ref); err != nil {
		return tenants.LedgerEntry{}, err
	}
	op := &creditOp{kind: opReserve, n: n, ref: ref}
	err := s.credit(ctx, tenantID, op)
	return op.entry, wrap("store.Reserve "+tenantID, err)
}

// Refund implements tenants.Credits.
func (s *Store) Refund(ctx context.Context, tenantID, reservationRef, refundRef string, n int64) (tenants.LedgerEntry, bool, error) {
	if n <= 0 {
		return tenants.LedgerEntry{}, false, tenants.Invalid("amount", "Amount to refund must be positive.")
	}
	for _, r := range []string{reservationRef, refundRef} {
		if err := tenants.ValidateRef(r); err != nil {
			return tenants.LedgerEntry{}, false, err
		}
	}
	op := &creditOp{kind: opRefund, n: n, ref: refundRef, reserveRef: reservationRef}
	err := s.credit(ctx, tenantID, op)
	return op.entry, op.applied, wrap("store.Refund "+tenantID, err)
}

// Grant implements tenants.Credits.
func (s *Store) Grant(ctx context.Context, tenantID string, n int64, reason, ref string) (tenants.LedgerEntry, error) {
	if n == 0 {
		return tenants.LedgerEntry{}, tenants.Invalid("delta", "Amount must not be zero.")
	}
	if reason == "" || len(reason) > 200 {
		return tenants.LedgerEntry{}, tenants.Invalid("reason", "A reason of 1 to 200 characters is required.")
	}
	if ref != "" {
		if err := tenants.ValidateRef(ref); err != nil {
			return tenants.LedgerEntry{}, err
		}
	}
	op := &creditOp{kind: opGrant, n: n, ref: ref, reason: reason}
	err := s.credit(ctx, tenantID, op)
	return op.entry, wrap("store.Grant "+tenantID, err)
}

func (s *Store) credit(ctx context.Context, tenantID string, op *creditOp) error {
	op.now = s.Now().UTC()
	return s.WithTenant(ctx, tenantID, func(h *TenantDB) error {
		if err := h.entry.credits.submit(op); err != nil {
			return err
		}
		return op.err
	})
}

// Ledger implements tenants.Credits: newest first, cursor = the sequence
// number to continue from.
func (s *Store) Ledger(ctx context.Context, tenantID, cursor string, limit int) (tenants.LedgerPage, error) {
	if limit <= 0 || limit > 200 {
		limit = 50
	}
	start := []byte(keyLedger + "\xff")
	if cursor != "" {
		seq, err := decodeCursor(cursor)
		if err != nil {
			return tenants.LedgerPage{}, err
		}
		start = []byte(ledgerKey(seq))
	}
	var page tenants.LedgerPage
	err := s.WithTenant(ctx, tenantID, func(h *TenantDB) error {
		return h.DB.View(func(txn *badger.Txn) error {
			it := txn.NewIterator(badger.IteratorOptions{Reverse: true, Prefix: []byte(keyLedger), PrefetchValues: true, PrefetchSize: limit})
			defer it.Close()
			for it.Seek(start); it.Valid(); it.Next() {
				if len(page.Entries) == limit {
					page.NextCursor = encodeCursor(it.Item().Key())
					return nil
				}
				var e tenants.LedgerEntry
				if err := it.Item().Value(func(b []byte) error { return jsonUnmarshal(b, &e) }); err != nil {
					return err
				}
				page.Entries = append(page.Entries, e)
			}
			return nil
		})
	})
	return page, wrap("store.Ledger "+tenantID, err)
}
