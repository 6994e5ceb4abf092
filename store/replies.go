package store

import (
	"context"
	"errors"
	"time"

	"github.com/aibud/aibud/tenants"
	"github.com/dgraph-io/badger/v4"
)

// Reply returns one reply.
func (s *Store) Reply(ctx context.Context, tenantID, id string) (tenants.Reply, error) {
	var r tenants.Reply
	err := s.tenantView(ctx, tenantID, func(txn *badger.Txn) error { return getJSON(txn, keyReply+id, &r) })
	return r, wrap("store.Reply", notFound(err, "Reply"))
}

// UpdateReply changes a reply; once it has a classification it is no longer
// waiting for the classifier.
func (s *Store) UpdateReply(ctx context.Context, tenantID, id string, fn func(*tenants.Reply) error) (tenants.Reply, error) {
	var r tenants.Reply
	err := s.tenantUpdate(ctx, tenantID, func(txn *badger.Txn) error {
		if err := getJSON(txn, keyReply+id, &r); err != nil {
			return notFound(err, "Reply")
		}
		if err := fn(&r); err != nil {
			return err
		}
		if r.Classification != nil {
			if err := txn.Delete([]byte(keyUnclassified + id)); err != nil {
				return err
			}
		}
		return setJSON(txn, keyReply+id, r)
	})
	return r, wrap("store.UpdateReply", err)
}

// Unclassified lists replies still waiting for the classifier.
func (s *Store) Unclassified(ctx context.Context, tenantID string) ([]string, error) {
	var ids []string
	err := s.tenantView(ctx, tenantID, func(txn *badger.Txn) error {
		return scanKeys(txn, keyUnclassified, func(id string) error { ids = append(ids, id); return nil })
	})
	return ids, wrap("store.Unclassified", err)
}

// PutTextVote records a vote read from a written reply, unless the contact
// voted with the poll itself (a tap is the clearer signal). It reports
// whether the vote was written.
func (s *Store) PutTextVote(ctx context.Context, tenantID, pollID, phone string, options []string, at time.Time) (bool, error) {
	wrote := false
	err := s.tenantUpdate(ctx, tenantID, func(txn *badger.Txn) error {
		key := keyVote + pollID + "/" + phone
		var cur tenants.Vote
		if err := getJSON(txn, key, &cur); err == nil && !cur.FromText {
			return nil
		} else if err != nil && !errors.Is(err, badger.ErrKeyNotFound) {
			return err
		}
		wrote = true
		v := tenants.Vote{PollID: pollID, Phone: phone, Options: options, FromText: true, At: at}
		if err := setJSON(txn, key, v); err != nil {
			return err
		}
		return txn.Set([]byte(keyContactVote+phone+"/"+pollID), nil)
	})
	return wrote, wrap("store.PutTextVote", err)
}

// UpdateContact changes a contact in one transaction (lead status, score).
func (s *Store) UpdateContact(ctx context.Context, tenantID, phone string, fn func(*tenants.Contact) error) (tenants.Contact, error) {
	var c tenants.Contact
	err := s.tenantUpdate(ctx, tenantID, func(txn *badger.Txn) error {
		if err := getJSON(txn, keyContact+phone, &c); err != nil {
			return notFound(err, "Contact")
		}
		if err := fn(&c); err != nil {
			return err
		}
		return setJSON(txn, keyContact+phone, c)
	})
	return c, wrap("store.UpdateContact", err)
}
