package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/aibud/aibud/tenants"
	"github.com/dgraph-io/badger/v4"
)

// Catalog is the platform-wide database: users, tenants, sessions, gateway
// shards and webhook routes. It implements tenants.Catalog.
type Catalog struct {
	db *badger.DB
}

// OpenCatalog opens (creating if needed) the catalog DB in dir.
func OpenCatalog(dir string, logger *slog.Logger) (*Catalog, error) {
	db, err := badger.Open(catalogOptions(dir, logger.With("db", "catalog")))
	if err != nil {
		return nil, fmt.Errorf("store: open catalog %s: %w", dir, err)
	}
	return &Catalog{db: db}, nil
}

// DB exposes the catalog's Badger DB to this package's tools (backup, export).
func (c *Catalog) DB() *badger.DB { return c.db }

// Close closes the catalog DB.
func (c *Catalog) Close() error { return c.db.Close() }

// Ping checks that the catalog answers reads.
func (c *Catalog) Ping(ctx context.Context) error {
	return c.db.View(func(txn *badger.Txn) error {
		_, err := txn.Get([]byte(keyTenant))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		return err
	})
}

// CreateAccount writes a tenant, its first user and the user's indexes in one
// transaction, refusing a taken email or external id.
func (c *Catalog) CreateAccount(ctx context.Context, t tenants.Tenant, u tenants.User) error {
	err := c.db.Update(func(txn *badger.Txn) error {
		if u.Email != "" {
			if taken, err := exists(txn, keyUserEmail+u.Email); err != nil || taken {
				return errOr(err, tenants.Errorf(tenants.ECONFLICT, "An account with this email already exists."))
			}
			if err := txn.Set([]byte(keyUserEmail+u.Email), []byte(u.ID)); err != nil {
				return err
			}
		}
		if u.ExternalID != "" {
			if taken, err := exists(txn, keyUserExtID+u.ExternalID); err != nil || taken {
				return errOr(err, tenants.Errorf(tenants.ECONFLICT, "This identity already has an account."))
			}
			if err := txn.Set([]byte(keyUserExtID+u.ExternalID), []byte(u.ID)); err != nil {
				return err
			}
		}
		if err := setJSON(txn, keyTenant+t.ID, t); err != nil {
			return err
		}
		return setJSON(txn, keyUser+u.ID, u)
	})
	if errors.Is(err, badger.ErrConflict) {
		return tenants.Errorf(tenants.ECONFLICT, "An account with this email already exists.")
	}
	return wrap("store.CreateAccount", err)
}

// Tenant returns a tenant by id.
func (c *Catalog) Tenant(ctx context.Context, id string) (tenants.Tenant, error) {
	var t tenants.Tenant
	return t, c.get(keyTenant+id, &t, "Tenant")
}

// PutTenant overwrites a tenant record.
func (c *Catalog) PutTenant(ctx context.Context, t tenants.Tenant) error {
	return wrap("store.PutTenant", c.db.Update(func(txn *badger.Txn) error { return setJSON(txn, keyTenant+t.ID, t) }))
}

// UpdateTenant changes a tenant record in one transaction.
func (c *Catalog) UpdateTenant(ctx context.Context, id string, fn func(*tenants.Tenant) error) (tenants.Tenant, error) {
	var t tenants.Tenant
	err := c.update(func(txn *badger.Txn) error {
		if err := getJSON(txn, keyTenant+id, &t); err != nil {
			return notFound(err, "Tenant")
		}
		if err := fn(&t); err != nil {
			return err
		}
		return setJSON(txn, keyTenant+id, t)
	})
	return t, wrap("store.UpdateTenant", err)
}

// User returns a user by id.
func (c *Catalog) User(ctx context.Context, id string) (tenants.User, error) {
	var u tenants.User
	return u, c.get(keyUser+id, &u, "User")
}

// UserByEmail returns the user with a normalised email.
func (c *Catalog) UserByEmail(ctx context.Context, email string) (tenants.User, error) {
	return c.userByIndex(keyUserEmail + email)
}

// UserByExternalID returns the user linked to an external identity.
func (c *Catalog) UserByExternalID(ctx context.Context, id string) (tenants.User, error) {
	return c.userByIndex(keyUserExtID + id)
}

func (c *Catalog) userByIndex(key string) (tenants.User, error) {
	var u tenants.User
	err := c.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get([]byte(key))
		if err != nil {
			return err
		}
		id, err := item.ValueCopy(nil)
		if err != nil {
			return err
		}
		return getJSON(txn, keyUser+string(id), &u)
	})
	return u, notFound(err, "User")
}

// CreateSession stores a session.
func (c *Catalog) CreateSession(ctx context.Context, s tenants.Session) error {
	return wrap("store.CreateSession", c.db.Update(func(txn *badger.Txn) error {
		e := badger.NewEntry([]byte(keySession+s.ID), mustJSON(s)).WithTTL(s.ExpiresAt.Sub(s.CreatedAt))
		return txn.SetEntry(e)
	}))
}

// Session returns a live session.
func (c *Catalog) Session(ctx context.Context, id string) (tenants.Session, error) {
	var s tenants.Session
	return s, c.get(keySession+id, &s, "Session")
}

// DeleteSession revokes a session.
func (c *Catalog) DeleteSession(ctx context.Context, id string) error {
	return wrap("store.DeleteSession", c.db.Update(func(txn *badger.Txn) error { return txn.Delete([]byte(keySession + id)) }))
}

// ListTenants returns every tenant in creation order (ids are ULIDs).
func (c *Catalog) ListTenants(ctx context.Context) ([]tenants.Tenant, error) {
	var out []tenants.Tenant
	err := c.db.View(func(txn *badger.Txn) error {
		return scanJSON(txn, keyTenant, func(t tenants.Tenant) error { out = append(out, t); return nil })
	})
	return out, wrap("store.ListTenants", err)
}

func (c *Catalog) get(key string, v any, what string) error {
	return notFound(c.db.View(func(txn *badger.Txn) error { return getJSON(txn, key, v) }), what)
}
