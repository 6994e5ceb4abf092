package store

import (
	"context"
	"time"

	"github.com/aibud/aibud/tenants"
	"github.com/dgraph-io/badger/v4"
)

// dedupeTTL bounds how long webhook dedupe markers are kept: gateways retry
// for minutes (Evolution: up to 10 attempts, 5 s doubling to 300 s), so a
// week is far beyond any redelivery.
const dedupeTTL = 7 * 24 * time.Hour

// PutInstance stores an instance in its tenant's DB.
func (s *Store) PutInstance(ctx context.Context, in tenants.Instance) error {
	return wrap("store.PutInstance", s.tenantUpdate(ctx, in.TenantID, func(txn *badger.Txn) error {
		return setJSON(txn, keyInstance+in.ID, in)
	}))
}

// Instance returns one instance of a tenant.
func (s *Store) Instance(ctx context.Context, tenantID, id string) (tenants.Instance, error) {
	var in tenants.Instance
	err := s.tenantView(ctx, tenantID, func(txn *badger.Txn) error { return getJSON(txn, keyInstance+id, &in) })
	return in, wrap("store.Instance", notFound(err, "WhatsApp number"))
}

// Instances returns a tenant's instances, oldest first.
func (s *Store) Instances(ctx context.Context, tenantID string) ([]tenants.Instance, error) {
	var out []tenants.Instance
	err := s.tenantView(ctx, tenantID, func(txn *badger.Txn) error {
		return scanJSON(txn, keyInstance, func(in tenants.Instance) error { out = append(out, in); return nil })
	})
	return out, wrap("store.Instances", err)
}

// UpdateInstance reads, changes and writes an instance in one transaction.
func (s *Store) UpdateInstance(ctx context.Context, tenantID, id string, fn func(*tenants.Instance) error) (tenants.Instance, error) {
	var in tenants.Instance
	err := s.tenantUpdate(ctx, tenantID, func(txn *badger.Txn) error {
		if err := getJSON(txn, keyInstance+id, &in); err != nil {
			return notFound(err, "WhatsApp number")
		}
		if err := fn(&in); err != nil {
			return err
		}
		return setJSON(txn, keyInstance+id, in)
	})
	return in, wrap("store.UpdateInstance", err)
}

// DeleteInstance removes an instance record.
func (s *Store) DeleteInstance(ctx context.Context, tenantID, id string) error {
	return wrap("store.DeleteInstance", s.tenantUpdate(ctx, tenantID, func(txn *badger.Txn) error {
		return txn.Delete([]byte(keyInstance + id))
	}))
}

// ApplyEvents implements tenants.InstanceStore: each event not seen before
// updates the instance (connection, QR) or the campaign records (message
// statuses, votes, replies), all in one durable commit.
func (s *Store) ApplyEvents(ctx context.Context, tenantID, instanceID string, events []tenants.GatewayEvent, now time.Time) (tenants.Applied, error) {
	var out tenants.Applied
	err := s.tenantUpdate(ctx, tenantID, func(txn *badger.Txn) error {
		out = tenants.Applied{}
		// The instance record is read only for the events that change it;
		// most events are statuses, votes and replies.
		var in *tenants.Instance
		changed := false
		for _, ev := range events {
			if ev.DedupeKey != "" {
				seen, err := exists(txn, keyDedupe+ev.DedupeKey)
				if err != nil {
					return err
				}
				if seen {
					continue
				}
				if err := txn.SetEntry(badger.NewEntry([]byte(keyDedupe+ev.DedupeKey), nil).WithTTL(dedupeTTL)); err != nil {
					return err
				}
			}
			out.Fresh++
			if ev.Kind == tenants.EventConnection || ev.Kind == tenants.EventQR {
				if in == nil {
					in = new(tenants.Instance)
					if err := getJSON(txn, keyInstance+instanceID, in); err != nil {
						return notFound(err, "WhatsApp number")
					}
				}
				changed = in.ApplyEvent(ev, now) || changed
			}
			if err := receive(txn, instanceID, ev, now, &out); err != nil {
				return err
			}
		}
		if changed {
			return setJSON(txn, keyInstance+instanceID, in)
		}
		return nil
	})
	return out, wrap("store.ApplyEvents", err)
}

// storedEvent is one entry of a tenant's gateway event log.
type storedEvent struct {
	InstanceID string               `json:"instance_id"`
	At         time.Time            `json:"at"`
	Event      tenants.GatewayEvent `json:"event"`
}

func (s *Store) tenantView(ctx context.Context, tenantID string, fn func(*badger.Txn) error) error {
	return s.WithTenant(ctx, tenantID, func(h *TenantDB) error { return h.DB.View(fn) })
}

// tenantUpdate runs fn in a read-write transaction on the tenant's DB,
// group-committed with concurrent updates (updateBatcher) and retried on
// conflicts with other writers. fn may run more than once.
func (s *Store) tenantUpdate(ctx context.Context, tenantID string, fn func(*badger.Txn) error) error {
	return s.WithTenant(ctx, tenantID, func(h *TenantDB) error {
		return h.entry.updates.update(fn)
	})
}
