package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/aibud/aibud/tenants"
	"github.com/dgraph-io/badger/v4"
)

// A tenant's catalog records: what an export carries, an import restores
// and an erase removes. A record belongs to a tenant when
//   - its key names the tenant: tenant/<id>, active/<id>, usage/<id>/…,
//     audit/<id>/…, apikey/<id>/…;
//   - its value names the tenant (tenant_id): user/, route/, stripecus/
//     (and session/, which is erased but never exported);
//   - it indexes one of those: email/ and extid/ of the tenant's users,
//     apikeyh/ whose value is "<id>/<key id>".
// A new catalog prefix tied to a tenant must be added here.

// Kinds of records by prefix, as counted in a manifest.
var recordKinds = map[string]string{
	keyTenant: "tenant", keyUser: "users", keyUserEmail: "email_index", keyUserExtID: "extid_index",
	keyRoute: "routes", keyUsage: "usage", keyActive: "active", keyStripeCustomer: "stripe_customers",
	keyAudit: "audit", keyAPIKey: "api_keys", keyAPIKeyHash: "api_key_index",
}

// Prefixes whose keys carry the tenant id: exactly, or followed by "/".
var (
	keyIsTenant    = []string{keyTenant, keyActive}
	keyUnderTenant = []string{keyUsage, keyAudit, keyAPIKey}
)

// ownerRef is the part of a record that says whose it is.
type ownerRef struct {
	TenantID   string       `json:"tenant_id"`
	Email      string       `json:"email"`
	ExternalID string       `json:"external_id"`
	Role       tenants.Role `json:"role"`
}

// tenantRecords returns the tenant's catalog records sorted by key, with its
// users' sessions when sessions is set; ENOTFOUND without a tenant record.
func (c *Catalog) tenantRecords(tenantID string, sessions bool) ([]tenants.ExportRecord, error) {
	var out []tenants.ExportRecord
	add := func(item *badger.Item) error {
		v, err := item.ValueCopy(nil)
		out = append(out, tenants.ExportRecord{Key: string(item.KeyCopy(nil)), Value: v, ExpiresAt: item.ExpiresAt()})
		return err
	}
	err := c.db.View(func(txn *badger.Txn) error {
		for _, p := range keyIsTenant {
			if item, err := txn.Get([]byte(p + tenantID)); err == nil {
				if err := add(item); err != nil {
					return err
				}
			} else if !errors.Is(err, badger.ErrKeyNotFound) {
				return err
			}
		}
		if len(out) == 0 || out[0].Key != keyTenant+tenantID {
			return tenants.Errorf(tenants.ENOTFOUND, "Tenant not found.")
		}
		for _, p := range keyUnderTenant {
			if err := scanItems(txn, p+tenantID+"/", add); err != nil {
				return err
			}
		}
		owned := []string{keyUser, keyRoute, keyStripeCustomer}
		if sessions {
			owned = append(owned, keySession)
		}
		mark := []byte(`"tenant_id":"` + tenantID + `"`)
		for _, p := range owned {
			err := scanItems(txn, p, func(item *badger.Item) error {
				var ref ownerRef
				err := item.Value(func(v []byte) error {
					if !bytes.Contains(v, mark) {
						return nil
					}
					return json.Unmarshal(v, &ref)
				})
				if err != nil || ref.TenantID != tenantID {
					return err
				}
				if p == keyUser {
					if err := addUserIndexes(txn, string(item.Key()[len(keyUser):]), ref, add); err != nil {
						return err
					}
				}
				return add(item)
			})
			if err != nil {
				return err
			}
		}
		return scanItems(txn, keyAPIKeyHash, func(item *badger.Item) error {
			var ours bool
			if err := item.Value(func(v []byte) error { ours = bytes.HasPrefix(v, []byte(tenantID+"/")); return nil }); err != nil || !ours {
				return err
			}
			return add(item)
		})
	})
	slices.SortFunc(out, func(a, b tenants.ExportRecord) int { return strings.Compare(a.Key, b.Key) })
	return out, err
}

// addUserIndexes adds the email and external-id entries that point at a user.
func addUserIndexes(txn *badger.Txn, userID string, u ownerRef, add func(*badger.Item) error) error {
	for _, key := range []string{keyUserEmail + u.Email, keyUserExtID + u.ExternalID} {
		if key == keyUserEmail || key == keyUserExtID {
			continue
		}
		item, err := txn.Get([]byte(key))
		if errors.Is(err, badger.ErrKeyNotFound) {
			continue
		} else if err != nil {
			return err
		}
		if err := item.Value(func(v []byte) error {
			if string(v) == userID {
				return add(item)
			}
			return nil
		}); err != nil {
			return err
		}
	}
	return nil
}

// scanItems calls fn for every item under prefix.
func scanItems(txn *badger.Txn, prefix string, fn func(*badger.Item) error) error {
	it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(prefix), PrefetchValues: true, PrefetchSize: 64})
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		if err := fn(it.Item()); err != nil {
			return err
		}
	}
	return nil
}

// countRecords counts records by kind for a manifest.
func countRecords(recs []tenants.ExportRecord) map[string]int {
	out := map[string]int{}
	for _, r := range recs {
		p, _, _ := strings.Cut(r.Key, "/")
		out[recordKinds[p+"/"]]++
	}
	return out
}

// rewriteTenantID moves records to another tenant id: keys that carry the
// id, "tenant_id" fields in values, the tenant record's own id and API key
// index entries.
func rewriteTenantID(recs []tenants.ExportRecord, from, to string) {
	oldField, newField := []byte(`"tenant_id":"`+from+`"`), []byte(`"tenant_id":"`+to+`"`)
	for i := range recs {
		r := &recs[i]
		for _, p := range keyIsTenant {
			if r.Key == p+from {
				r.Key = p + to
			}
		}
		for _, p := range keyUnderTenant {
			if rest, ok := strings.CutPrefix(r.Key, p+from+"/"); ok {
				r.Key = p + to + "/" + rest
			}
		}
		r.Value = bytes.ReplaceAll(r.Value, oldField, newField)
		switch {
		case r.Key == keyTenant+to:
			r.Value = bytes.Replace(r.Value, []byte(`{"id":"`+from+`"`), []byte(`{"id":"`+to+`"`), 1)
		case strings.HasPrefix(r.Key, keyAPIKeyHash):
			if rest, ok := bytes.CutPrefix(r.Value, []byte(from+"/")); ok {
				r.Value = append([]byte(to+"/"), rest...)
			}
		}
	}
}

// checkRecords refuses records that are not the tenant's: an export file
// is checksummed, not signed, so an edited file must not be able to write
// a platform admin, a gateway shard or another tenant's data.
func checkRecords(recs []tenants.ExportRecord, tenantID string) error {
	users := map[string]ownerRef{}
	for _, r := range recs {
		if strings.HasPrefix(r.Key, keyUser) {
			var u ownerRef
			if json.Unmarshal(r.Value, &u) == nil && u.TenantID == tenantID && u.Role != tenants.RoleAdmin {
				users[r.Key[len(keyUser):]] = u
			}
		}
	}
	hasTenant := false
	for _, r := range recs {
		if !recordBelongs(r, tenantID, users) {
			return tenants.Invalid("file", "The export holds a record %q that is not tenant %s's; nothing was imported.", clip(r.Key), tenantID)
		}
		if r.Key == keyTenant+tenantID {
			var t tenants.Tenant
			if err := json.Unmarshal(r.Value, &t); err != nil || t.ID != tenantID {
				return tenants.Invalid("file", "The export's tenant record does not describe tenant %s.", tenantID)
			}
			hasTenant = true
		}
	}
	if !hasTenant {
		return tenants.Invalid("file", "The export holds no tenant record for %s.", tenantID)
	}
	return nil
}

func recordBelongs(r tenants.ExportRecord, tenantID string, users map[string]ownerRef) bool {
	prefix, rest, _ := strings.Cut(r.Key, "/")
	prefix += "/"
	var ref ownerRef
	switch prefix {
	case keyTenant, keyActive:
		return rest == tenantID
	case keyUsage, keyAudit, keyAPIKey:
		return strings.HasPrefix(rest, tenantID+"/")
	case keyUser:
		_, ok := users[rest]
		return ok
	case keyUserEmail, keyUserExtID:
		u, ok := users[string(r.Value)]
		return ok && (prefix == keyUserEmail && u.Email == rest || prefix == keyUserExtID && u.ExternalID == rest)
	case keyRoute, keyStripeCustomer:
		return json.Unmarshal(r.Value, &ref) == nil && ref.TenantID == tenantID
	case keyAPIKeyHash:
		return bytes.HasPrefix(r.Value, []byte(tenantID+"/"))
	}
	return false
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

// EraseTenantData implements tenants.TenantData. Access goes first (users,
// sessions, API keys, routes), the tenant record last, then the database;
// the tenant's audit log stays. It can be repeated after a failure.
func (s *Store) EraseTenantData(ctx context.Context, tenantID string) error {
	notFound := tenants.Errorf(tenants.ENOTFOUND, "Tenant not found.")
	if checkTenantID(tenantID) != nil {
		return notFound
	}
	recs, err := s.Catalog.tenantRecords(tenantID, true)
	if err != nil && tenants.ErrorCode(err) != tenants.ENOTFOUND {
		return wrap("store.EraseTenantData "+tenantID, err)
	}
	var keys [][]byte
	for _, r := range recs {
		if !strings.HasPrefix(r.Key, keyAudit) && r.Key != keyTenant+tenantID {
			keys = append(keys, []byte(r.Key))
		}
	}
	if len(recs) > 0 {
		keys = append(keys, []byte(keyTenant+tenantID))
	}
	_, statErr := os.Stat(s.Pool.Dir(tenantID))
	if len(keys) == 0 && errors.Is(statErr, fs.ErrNotExist) {
		return notFound
	}
	if err := s.Catalog.deleteKeys(keys); err != nil {
		return wrap("store.EraseTenantData "+tenantID, err)
	}
	return wrap("store.EraseTenantData "+tenantID, s.removeTenantDB(ctx, tenantID))
}

// deleteKeys deletes keys in order, a thousand per transaction.
func (c *Catalog) deleteKeys(keys [][]byte) error {
	for start := 0; start < len(keys); start += 1000 {
		chunk := keys[start:min(start+1000, len(keys))]
		err := c.update(func(txn *badger.Txn) error {
			for _, k := range chunk {
				if err := txn.Delete(k); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// removeTenantDB closes and deletes a tenant DB, waiting (up to ten
// seconds) for requests that still hold it to let go.
func (s *Store) removeTenantDB(ctx context.Context, tenantID string) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := s.Pool.Remove(tenantID)
		if err == nil {
			if _, serr := os.Stat(s.Pool.Dir(tenantID)); errors.Is(serr, fs.ErrNotExist) {
				return nil
			}
			err = fmt.Errorf("store: tenant %s was reopened while being removed", tenantID)
		}
		if time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(25 * time.Millisecond):
		}
	}
}
