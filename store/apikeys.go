package store

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/aibud/aibud/tenants"
	"github.com/dgraph-io/badger/v4"
)

// Tenant API keys live in the catalog: the record under the tenant, so that
// a tenant's scan can only ever see its own keys, and an index from the
// key's hash to the record for authentication. Neither holds the key.

func apiKeyKey(tenantID, id string) string { return keyAPIKey + tenantID + "/" + id }

// CreateAPIKey implements tenants.APIKeyStore.
func (c *Catalog) CreateAPIKey(ctx context.Context, k tenants.APIKey, limit int) error {
	if k.TenantID == "" || k.ID == "" || len(k.Hash) != 64 || strings.Contains(k.TenantID+k.ID, "/") {
		return errors.New("store.CreateAPIKey: record is incomplete")
	}
	err := c.update(func(txn *badger.Txn) error {
		live := 0
		err := scanJSON(txn, keyAPIKey+k.TenantID+"/", func(o tenants.APIKey) error {
			if !o.Revoked {
				live++
			}
			return nil
		})
		if err != nil {
			return err
		}
		if limit > 0 && live >= limit {
			return tenants.Errorf(tenants.ECONFLICT, "You already have %d API keys. Revoke one you no longer use first.", live)
		}
		if taken, err := exists(txn, keyAPIKeyHash+k.Hash); err != nil || taken {
			return errOr(err, tenants.Errorf(tenants.ECONFLICT, "API key already exists."))
		}
		if err := txn.Set([]byte(keyAPIKeyHash+k.Hash), []byte(k.TenantID+"/"+k.ID)); err != nil {
			return err
		}
		return setJSON(txn, apiKeyKey(k.TenantID, k.ID), k)
	})
	return wrap("store.CreateAPIKey "+k.TenantID, err)
}

// APIKeys implements tenants.APIKeyStore: oldest first (ids are ULIDs).
func (c *Catalog) APIKeys(ctx context.Context, tenantID string) ([]tenants.APIKey, error) {
	out := []tenants.APIKey{}
	err := c.db.View(func(txn *badger.Txn) error {
		return scanJSON(txn, keyAPIKey+tenantID+"/", func(k tenants.APIKey) error { out = append(out, k); return nil })
	})
	return out, wrap("store.APIKeys "+tenantID, err)
}

// APIKeyByHash implements tenants.APIKeyStore.
func (c *Catalog) APIKeyByHash(ctx context.Context, hash string) (tenants.APIKey, error) {
	var k tenants.APIKey
	err := c.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get([]byte(keyAPIKeyHash + hash))
		if err != nil {
			return err
		}
		ref, err := item.ValueCopy(nil)
		if err != nil {
			return err
		}
		return getJSON(txn, keyAPIKey+string(ref), &k)
	})
	return k, wrap("store.APIKeyByHash", notFound(err, "API key"))
}

// RevokeAPIKey implements tenants.APIKeyStore. The record stays, marked,
// so that the list can show when a key was revoked; the hash index goes, so
// the key no longer resolves at all.
func (c *Catalog) RevokeAPIKey(ctx context.Context, tenantID, id string, at time.Time) (tenants.APIKey, error) {
	var k tenants.APIKey
	if strings.Contains(tenantID+id, "/") {
		return k, tenants.Errorf(tenants.ENOTFOUND, "API key not found.")
	}
	err := c.update(func(txn *badger.Txn) error {
		if err := getJSON(txn, apiKeyKey(tenantID, id), &k); err != nil {
			return notFound(err, "API key")
		}
		if k.Revoked {
			return nil
		}
		k.Revoked, k.RevokedAt = true, at
		if err := txn.Delete([]byte(keyAPIKeyHash + k.Hash)); err != nil {
			return err
		}
		return setJSON(txn, apiKeyKey(tenantID, id), k)
	})
	return k, wrap("store.RevokeAPIKey "+tenantID, err)
}

// TouchAPIKey implements tenants.APIKeyStore. Two requests touching a key at
// once conflict in Badger; the loser's write is not needed, so a conflict
// is not an error.
func (c *Catalog) TouchAPIKey(ctx context.Context, tenantID, id string, at time.Time) error {
	err := c.db.Update(func(txn *badger.Txn) error {
		var k tenants.APIKey
		if err := getJSON(txn, apiKeyKey(tenantID, id), &k); err != nil {
			return notFound(err, "API key")
		}
		if !at.After(k.LastUsedAt) {
			return nil
		}
		k.LastUsedAt = at
		return setJSON(txn, apiKeyKey(tenantID, id), k)
	})
	if errors.Is(err, badger.ErrConflict) {
		return nil
	}
	return wrap("store.TouchAPIKey "+tenantID, err)
}
