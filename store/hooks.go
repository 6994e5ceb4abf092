package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/aibud/aibud/tenants"
	"github.com/dgraph-io/badger/v4"
)

// hookLogTTL is how long the delivery log keeps a delivery (and a pending
// one waits): far beyond the queue's retries, long enough to replay a week
// of outage.
const hookLogTTL = 30 * 24 * time.Hour

// AddEndpoint implements tenants.HookStore: the count and the write are one
// transaction, and every creation reads and writes one guard key, so two
// creations at once conflict (Badger does not see phantoms) and cannot
// pass the limit together.
func (s *Store) AddEndpoint(ctx context.Context, tenantID string, ep tenants.Endpoint, limit int) error {
	return wrap("store.AddEndpoint", s.tenantUpdate(ctx, tenantID, func(txn *badger.Txn) error {
		if _, err := exists(txn, keyHookGuard); err != nil {
			return err
		}
		if err := txn.Set([]byte(keyHookGuard), nil); err != nil {
			return err
		}
		n := 0
		if err := scanKeys(txn, keyHookEndpoint, func(string) error { n++; return nil }); err != nil {
			return err
		}
		if n >= limit {
			return tenants.Errorf(tenants.ECONFLICT, "You have %d webhook endpoints, the most allowed. Delete one to add another.", n)
		}
		return setJSON(txn, keyHookEndpoint+ep.ID, ep)
	}))
}

// Endpoints implements tenants.HookStore, oldest first (ids are ULIDs).
func (s *Store) Endpoints(ctx context.Context, tenantID string) ([]tenants.Endpoint, error) {
	var out []tenants.Endpoint
	err := s.tenantView(ctx, tenantID, func(txn *badger.Txn) error {
		return scanJSON(txn, keyHookEndpoint, func(ep tenants.Endpoint) error { out = append(out, ep); return nil })
	})
	return out, wrap("store.Endpoints", err)
}

// Endpoint implements tenants.HookStore.
func (s *Store) Endpoint(ctx context.Context, tenantID, id string) (tenants.Endpoint, error) {
	var ep tenants.Endpoint
	err := s.tenantView(ctx, tenantID, func(txn *badger.Txn) error { return getJSON(txn, keyHookEndpoint+id, &ep) })
	return ep, wrap("store.Endpoint", notFound(err, "Webhook endpoint"))
}

// UpdateEndpoint implements tenants.HookStore.
func (s *Store) UpdateEndpoint(ctx context.Context, tenantID, id string, fn func(*tenants.Endpoint) error) (tenants.Endpoint, error) {
	var ep tenants.Endpoint
	err := s.tenantUpdate(ctx, tenantID, func(txn *badger.Txn) error {
		if err := getJSON(txn, keyHookEndpoint+id, &ep); err != nil {
			return notFound(err, "Webhook endpoint")
		}
		if err := fn(&ep); err != nil {
			return err
		}
		return setJSON(txn, keyHookEndpoint+id, ep)
	})
	return ep, wrap("store.UpdateEndpoint", err)
}

// DeleteEndpoint implements tenants.HookStore. Its deliveries stay in the
// log until they expire; pending ones fail on their next attempt.
func (s *Store) DeleteEndpoint(ctx context.Context, tenantID, id string) error {
	return wrap("store.DeleteEndpoint", s.tenantUpdate(ctx, tenantID, func(txn *badger.Txn) error {
		return txn.Delete([]byte(keyHookEndpoint + id))
	}))
}

// PutDeliveries implements tenants.HookStore.
func (s *Store) PutDeliveries(ctx context.Context, tenantID string, ds []tenants.Delivery) error {
	return wrap("store.PutDeliveries", s.tenantUpdate(ctx, tenantID, func(txn *badger.Txn) error {
		for _, d := range ds {
			if err := putDelivery(txn, d); err != nil {
				return err
			}
			if err := txn.SetEntry(badger.NewEntry([]byte(keyHookByEP+d.EndpointID+"/"+d.ID), nil).WithTTL(hookLogTTL)); err != nil {
				return err
			}
		}
		return nil
	}))
}

// putDelivery writes a delivery with the log's expiry and keeps the pending
// index in step with its status.
func putDelivery(txn *badger.Txn, d tenants.Delivery) error {
	b, err := json.Marshal(d)
	if err != nil {
		return err
	}
	if err := txn.SetEntry(badger.NewEntry([]byte(keyHookDelivery+d.ID), b).WithTTL(hookLogTTL)); err != nil {
		return err
	}
	if d.Status == tenants.DeliveryPending {
		return txn.SetEntry(badger.NewEntry([]byte(keyHookPending+d.ID), nil).WithTTL(hookLogTTL))
	}
	return txn.Delete([]byte(keyHookPending + d.ID))
}

// Delivery implements tenants.HookStore.
func (s *Store) Delivery(ctx context.Context, tenantID, id string) (tenants.Delivery, error) {
	var d tenants.Delivery
	err := s.tenantView(ctx, tenantID, func(txn *badger.Txn) error { return getJSON(txn, keyHookDelivery+id, &d) })
	return d, wrap("store.Delivery", notFound(err, "Delivery"))
}

// UpdateDelivery implements tenants.HookStore.
func (s *Store) UpdateDelivery(ctx context.Context, tenantID, id string, fn func(*tenants.Delivery) error) (tenants.Delivery, error) {
	var d tenants.Delivery
	err := s.tenantUpdate(ctx, tenantID, func(txn *badger.Txn) error {
		if err := getJSON(txn, keyHookDelivery+id, &d); err != nil {
			return notFound(err, "Delivery")
		}
		if err := fn(&d); err != nil {
			return err
		}
		return putDelivery(txn, d)
	})
	return d, wrap("store.UpdateDelivery", err)
}

// Deliveries implements tenants.HookStore: newest first, of one endpoint
// (through its index) or of all.
func (s *Store) Deliveries(ctx context.Context, tenantID, endpointID string, limit int) ([]tenants.Delivery, error) {
	out := []tenants.Delivery{}
	err := s.tenantView(ctx, tenantID, func(txn *badger.Txn) error {
		if endpointID == "" {
			return scanNewest(txn, keyHookDelivery, func(it *badger.Item) (bool, error) {
				var d tenants.Delivery
				err := it.Value(func(b []byte) error { return json.Unmarshal(b, &d) })
				out = append(out, d)
				return len(out) < limit, err
			})
		}
		prefix := keyHookByEP + endpointID + "/"
		return scanNewest(txn, prefix, func(it *badger.Item) (bool, error) {
			var d tenants.Delivery
			if err := getJSON(txn, keyHookDelivery+string(it.Key()[len(prefix):]), &d); err == nil {
				out = append(out, d)
			} else if !errors.Is(err, badger.ErrKeyNotFound) {
				return false, err
			}
			return len(out) < limit, nil
		})
	})
	return out, wrap("store.Deliveries", err)
}

// scanNewest visits the keys under prefix in reverse order until fn says
// to stop.
func scanNewest(txn *badger.Txn, prefix string, fn func(*badger.Item) (more bool, err error)) error {
	it := txn.NewIterator(badger.IteratorOptions{Reverse: true, Prefix: []byte(prefix), PrefetchValues: true, PrefetchSize: 50})
	defer it.Close()
	for it.Seek([]byte(prefix + "\xff")); it.Valid(); it.Next() {
		more, err := fn(it.Item())
		if err != nil || !more {
			return err
		}
	}
	return nil
}

// PendingDeliveries implements tenants.HookStore.
func (s *Store) PendingDeliveries(ctx context.Context, tenantID string) ([]string, error) {
	var ids []string
	err := s.tenantView(ctx, tenantID, func(txn *badger.Txn) error {
		return scanKeys(txn, keyHookPending, func(id string) error { ids = append(ids, id); return nil })
	})
	return ids, wrap("store.PendingDeliveries", err)
}
