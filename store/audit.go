package store

import (
	"context"
	"errors"
	"strings"

	"github.com/aibud/aibud/tenants"
	"github.com/dgraph-io/badger/v4"
)

// The operator console's catalog records: each tenant's audit log, and the
// platform admins. The audit log lives in the catalog, not in the tenant's
// own DB, so that it is read without opening that DB and does not go away
// with the tenant's data.

// AppendAudit implements tenants.AuditLog. The catalog syncs every write,
// so the entry is on disk when this returns.
func (c *Catalog) AppendAudit(ctx context.Context, e tenants.AuditEntry) error {
	if e.TenantID == "" || e.ID == "" || strings.Contains(e.TenantID, "/") {
		return tenants.Invalid("tenant_id", "An audit entry needs a tenant and an id.")
	}
	return wrap("store.AppendAudit", c.update(func(txn *badger.Txn) error {
		return setJSON(txn, auditKey(e.TenantID, e.ID), e)
	}))
}

func auditKey(tenantID, id string) string { return keyAudit + tenantID + "/" + id }

// maxAuditPage bounds one page of the audit log.
const maxAuditPage = 200

// AuditEntries implements tenants.AuditLog: newest first; the cursor is the
// id of the last entry of the previous page.
func (c *Catalog) AuditEntries(ctx context.Context, tenantID, cursor string, limit int) (tenants.AuditPage, error) {
	if limit <= 0 || limit > maxAuditPage {
		limit = 50
	}
	if strings.ContainsAny(cursor, "/\xff") || len(cursor) > 64 {
		return tenants.AuditPage{}, tenants.Invalid("cursor", "Cursor %q is not valid.", cursor)
	}
	prefix := keyAudit + tenantID + "/"
	start := prefix + "\xff"
	if cursor != "" {
		start = prefix + cursor
	}
	var page tenants.AuditPage
	err := c.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Reverse: true, Prefix: []byte(prefix), PrefetchValues: true, PrefetchSize: limit})
		defer it.Close()
		for it.Seek([]byte(start)); it.Valid(); it.Next() {
			if cursor != "" && string(it.Item().Key()) == start {
				continue // the cursor entry was on the previous page
			}
			var e tenants.AuditEntry
			if err := it.Item().Value(func(b []byte) error { return jsonUnmarshal(b, &e) }); err != nil {
				return err
			}
			if len(page.Entries) == limit {
				page.NextCursor = page.Entries[limit-1].ID
				return nil
			}
			page.Entries = append(page.Entries, e)
		}
		return nil
	})
	return page, wrap("store.AuditEntries "+tenantID, err)
}

// CreateAdmin writes a platform admin: a user with no tenant, and its email
// index, in one transaction; a taken email is ECONFLICT.
func (c *Catalog) CreateAdmin(ctx context.Context, u tenants.User) error {
	if u.Role != tenants.RoleAdmin || u.TenantID != "" || u.Email == "" || u.ID == "" {
		return tenants.Errorf(tenants.EINVALID, "An admin needs an id and an email, and belongs to no tenant.")
	}
	err := c.db.Update(func(txn *badger.Txn) error {
		if taken, err := exists(txn, keyUserEmail+u.Email); err != nil || taken {
			return errOr(err, tenants.Errorf(tenants.ECONFLICT, "A user with this email already exists."))
		}
		if err := txn.Set([]byte(keyUserEmail+u.Email), []byte(u.ID)); err != nil {
			return err
		}
		return setJSON(txn, keyUser+u.ID, u)
	})
	if errors.Is(err, badger.ErrConflict) {
		return tenants.Errorf(tenants.ECONFLICT, "A user with this email already exists.")
	}
	return wrap("store.CreateAdmin", err)
}

// ListUsers returns every user (tenant owners and admins) in id order.
func (c *Catalog) ListUsers(ctx context.Context) ([]tenants.User, error) {
	var out []tenants.User
	err := c.db.View(func(txn *badger.Txn) error {
		return scanJSON(txn, keyUser, func(u tenants.User) error { out = append(out, u); return nil })
	})
	return out, wrap("store.ListUsers", err)
}
