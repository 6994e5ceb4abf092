package store

import (
	"context"
	"errors"
	"time"

	"github.com/aibud/aibud/tenants"
	"github.com/dgraph-io/badger/v4"
)

// AutoReplySettings implements tenants.AutoReplyStore; unset means off.
func (s *Store) AutoReplySettings(ctx context.Context, tenantID string) (tenants.AutoReplySettings, error) {
	var out tenants.AutoReplySettings
	err := s.tenantView(ctx, tenantID, func(txn *badger.Txn) error {
		err := getJSON(txn, keyAutoReplySettings, &out)
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		return err
	})
	return out, wrap("store.AutoReplySettings", err)
}

// PutAutoReplySettings implements tenants.AutoReplyStore.
func (s *Store) PutAutoReplySettings(ctx context.Context, tenantID string, set tenants.AutoReplySettings) error {
	return wrap("store.PutAutoReplySettings", s.tenantUpdate(ctx, tenantID, func(txn *badger.Txn) error {
		return setJSON(txn, keyAutoReplySettings, set)
	}))
}

// ClaimAutoReply implements tenants.AutoReplyStore with a key that expires:
// while it lives, the contact got an automatic answer.
func (s *Store) ClaimAutoReply(ctx context.Context, tenantID, phone string, ttl time.Duration) (bool, error) {
	free := false
	err := s.tenantUpdate(ctx, tenantID, func(txn *badger.Txn) error {
		taken, err := exists(txn, keyAutoReplied+phone)
		if err != nil || taken {
			free = false
			return err
		}
		free = true
		return txn.SetEntry(badger.NewEntry([]byte(keyAutoReplied+phone), nil).WithTTL(ttl))
	})
	return free, wrap("store.ClaimAutoReply", err)
}
