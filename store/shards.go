package store

import (
	"context"
	"errors"

	"github.com/aibud/aibud/tenants"
	"github.com/dgraph-io/badger/v4"
)

// PutShard adds or replaces a gateway shard, keeping its in-use count when
// it already exists (the count is only changed by placement).
func (c *Catalog) PutShard(ctx context.Context, s tenants.Shard) error {
	return wrap("store.PutShard", c.update(func(txn *badger.Txn) error {
		var old tenants.Shard
		if err := getJSON(txn, keyShard+s.ID, &old); err == nil {
			s.InUse = old.InUse
			if s.CreatedAt.IsZero() {
				s.CreatedAt = old.CreatedAt
			}
		} else if !errors.Is(err, badger.ErrKeyNotFound) {
			return err
		}
		return setJSON(txn, keyShard+s.ID, s)
	}))
}

// Shard returns one shard.
func (c *Catalog) Shard(ctx context.Context, id string) (tenants.Shard, error) {
	var s tenants.Shard
	return s, c.get(keyShard+id, &s, "Gateway shard")
}

// Shards returns every shard, in id order.
func (c *Catalog) Shards(ctx context.Context) ([]tenants.Shard, error) {
	var out []tenants.Shard
	err := c.db.View(func(txn *badger.Txn) error {
		return scanJSON(txn, keyShard, func(s tenants.Shard) error { out = append(out, s); return nil })
	})
	return out, wrap("store.Shards", err)
}

// PlaceInstance implements tenants.ShardCatalog: choose, count and route in
// one transaction, retried on conflict so concurrent placements never both
// take the last slot unseen.
func (c *Catalog) PlaceInstance(ctx context.Context, token string, route tenants.InstanceRoute) (tenants.Shard, bool, error) {
	var placed tenants.Shard
	var overloaded bool
	err := c.update(func(txn *badger.Txn) error {
		var shards []tenants.Shard
		if err := scanJSON(txn, keyShard, func(s tenants.Shard) error { shards = append(shards, s); return nil }); err != nil {
			return err
		}
		s, over, ok := tenants.PickShard(shards)
		if !ok {
			return tenants.Errorf(tenants.EUNAVAILABLE, "No WhatsApp gateway server is available. Ask the operator to add one.")
		}
		s.InUse++
		placed, overloaded = s, over
		if err := setJSON(txn, keyShard+s.ID, s); err != nil {
			return err
		}
		return setJSON(txn, keyRoute+token, route)
	})
	return placed, overloaded, wrap("store.PlaceInstance", err)
}

// ReleaseInstance implements tenants.ShardCatalog.
func (c *Catalog) ReleaseInstance(ctx context.Context, shardID, token string) error {
	return wrap("store.ReleaseInstance", c.update(func(txn *badger.Txn) error {
		var s tenants.Shard
		if err := getJSON(txn, keyShard+shardID, &s); err == nil && s.InUse > 0 {
			s.InUse--
			if err := setJSON(txn, keyShard+shardID, s); err != nil {
				return err
			}
		} else if err != nil && !errors.Is(err, badger.ErrKeyNotFound) {
			return err
		}
		return txn.Delete([]byte(keyRoute + token))
	}))
}

// Route implements tenants.ShardCatalog.
func (c *Catalog) Route(ctx context.Context, token string) (tenants.InstanceRoute, error) {
	var r tenants.InstanceRoute
	return r, c.get(keyRoute+token, &r, "Webhook route")
}

// update runs fn in a read-write transaction, retrying Badger conflicts
// (another writer changed what fn read) a few times.
func (c *Catalog) update(fn func(*badger.Txn) error) error {
	var err error
	for range 10 {
		if err = c.db.Update(fn); !errors.Is(err, badger.ErrConflict) {
			return err
		}
	}
	return err
}
