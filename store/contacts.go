package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/aibud/aibud/tenants"
	"github.com/dgraph-io/badger/v4"
	"github.com/oklog/ulid/v2"
)

// Contacts in the tenant DB: contact/<phone> records, the tag index
// tag/<tag>/<phone> and the consent log consent/<phone>/<ulid>. Listing,
// search and erase are in contacts_list.go.

// UpsertContacts implements tenants.ContactStore. It commits as many
// contacts per transaction as Badger's transaction limit allows (a few
// hundred at a 1 MiB memtable), so a big import costs one fsync per few
// hundred rows, not one per row. Merging: a non-empty name replaces the old
// one, tags are added, opt-in is only ever set (withdrawing consent is an
// opt-out, which has its own log), an opt-out is never undone, and the first
// source and creation time stay. An opt-in that is new is logged as a
// consent event.
func (s *Store) UpsertContacts(ctx context.Context, tenantID string, cs []tenants.Contact, now time.Time) (created, updated int, err error) {
	err = s.WithTenant(ctx, tenantID, func(h *TenantDB) error {
		limit := len(cs)
		for len(cs) > 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
			n, c, u, err := upsertSome(h.DB, cs[:min(limit, len(cs))], now)
			if errors.Is(err, badger.ErrTxnTooBig) && limit > 1 {
				limit /= 2 // our size estimate was off: retry with fewer
				continue
			}
			if err != nil {
				return err
			}
			created, updated, cs = created+c, updated+u, cs[n:]
		}
		return nil
	})
	return created, updated, wrap("store.UpsertContacts "+tenantID, err)
}

// upsertSome writes a prefix of cs in one transaction, stopping before the
// transaction would outgrow Badger's limits, and says how many it wrote.
func upsertSome(db *badger.DB, cs []tenants.Contact, now time.Time) (n, created, updated int, err error) {
	budget := txnBudget{maxSize: db.MaxBatchSize() * 9 / 10, maxCount: db.MaxBatchCount() * 9 / 10, threshold: db.Opts().ValueThreshold}
	for range 10 {
		err = db.Update(func(txn *badger.Txn) error {
			n, created, updated = 0, 0, 0
			b := budget
			for _, in := range cs {
				w, isNew, err := contactWrites(txn, in, now)
				if err != nil {
					return err
				}
				if !b.take(w) && n > 0 {
					return nil
				}
				for _, kv := range w {
					if err := txn.Set(kv.key, kv.value); err != nil {
						return err
					}
				}
				n++
				if isNew {
					created++
				} else {
					updated++
				}
			}
			return nil
		})
		if !errors.Is(err, badger.ErrConflict) { // a concurrent opt-out or import: read again
			return n, created, updated, err
		}
	}
	return 0, 0, 0, err
}

type keyValue struct{ key, value []byte }

// contactWrites works out what upserting in means: the merged record, new
// tag index entries and, for a new opt-in, a consent event.
func contactWrites(txn *badger.Txn, in tenants.Contact, now time.Time) ([]keyValue, bool, error) {
	var cur tenants.Contact
	err := getJSON(txn, keyContact+in.Phone, &cur)
	isNew := errors.Is(err, badger.ErrKeyNotFound)
	if err != nil && !isNew {
		return nil, false, err
	}
	if isNew {
		cur = tenants.Contact{Phone: in.Phone, LeadStatus: tenants.LeadNew, Source: in.Source, CreatedAt: now}
	}
	next := cur
	if in.Name != "" {
		next.Name = in.Name
	}
	var w []keyValue
	for _, t := range in.Tags {
		if !hasTag(next.Tags, t) {
			next.Tags = append(next.Tags[:len(next.Tags):len(next.Tags)], t)
			w = append(w, keyValue{[]byte(keyTag + t + "/" + in.Phone), nil})
		}
	}
	if in.OptIn && !cur.OptIn {
		next.OptIn = true
		ev := tenants.ConsentEvent{Phone: in.Phone, Source: in.Source, Detail: "opt-in given in " + in.Source, At: now}
		w = append(w, keyValue{[]byte(consentKey(in.Phone, now)), mustJSON(ev)})
	}
	if !isNew && len(w) == 0 && next.Name == cur.Name {
		return nil, false, nil // nothing new: no write at all
	}
	next.UpdatedAt = now
	return append(w, keyValue{[]byte(keyContact + in.Phone), mustJSON(next)}), isNew, nil
}

func hasTag(tags []string, t string) bool {
	for _, x := range tags {
		if x == t {
			return true
		}
	}
	return false
}

func consentKey(phone string, at time.Time) string {
	return keyConsent + phone + "/" + ulid.MustNew(ulid.Timestamp(at), ulid.DefaultEntropy()).String()
}

// txnBudget mirrors Badger's own accounting of a transaction's size
// (Txn.checkSize), with headroom, so that a batch stops before
// ErrTxnTooBig rather than failing on it.
type txnBudget struct {
	size, count       int64
	maxSize, maxCount int64
	threshold         int64
}

// take reserves room for w and reports whether it fitted.
func (b *txnBudget) take(w []keyValue) bool {
	size, count := b.size, b.count+int64(len(w))
	for _, kv := range w {
		if int64(len(kv.value)) < b.threshold {
			size += int64(len(kv.key)+len(kv.value)) + 12
		} else {
			size += int64(len(kv.key)) + 24
		}
	}
	if size >= b.maxSize || count >= b.maxCount { // Badger refuses at the limit itself
		return false
	}
	b.size, b.count = size, count
	return true
}

// Contact implements tenants.ContactStore.
func (s *Store) Contact(ctx context.Context, tenantID, phone string) (tenants.Contact, error) {
	var c tenants.Contact
	err := s.tenantView(ctx, tenantID, func(txn *badger.Txn) error { return getJSON(txn, keyContact+phone, &c) })
	return c, wrap("store.Contact", notFound(err, "Contact"))
}

// SetOptOut implements tenants.ContactStore: the flag, the lead status and
// the consent event change in one transaction, so the log always explains
// the flag.
func (s *Store) SetOptOut(ctx context.Context, tenantID string, ev tenants.ConsentEvent) (tenants.Contact, error) {
	var c tenants.Contact
	err := s.tenantUpdate(ctx, tenantID, func(txn *badger.Txn) error {
		if err := getJSON(txn, keyContact+ev.Phone, &c); err != nil {
			return notFound(err, "Contact")
		}
		c.OptedOut, c.UpdatedAt = ev.OptOut, ev.At
		switch {
		case ev.OptOut:
			c.OptedOutAt, c.LeadStatus = ev.At, tenants.LeadOptedOut
		case c.LeadStatus == tenants.LeadOptedOut:
			c.OptedOutAt, c.LeadStatus = time.Time{}, tenants.LeadNew
		default:
			c.OptedOutAt = time.Time{}
		}
		if err := setJSON(txn, consentKey(ev.Phone, ev.At), ev); err != nil {
			return err
		}
		return setJSON(txn, keyContact+ev.Phone, c)
	})
	return c, wrap("store.SetOptOut", err)
}

// ConsentLog implements tenants.ContactStore: oldest first.
func (s *Store) ConsentLog(ctx context.Context, tenantID, phone string) ([]tenants.ConsentEvent, error) {
	out := []tenants.ConsentEvent{}
	err := s.tenantView(ctx, tenantID, func(txn *badger.Txn) error {
		return scanJSON(txn, keyConsent+phone+"/", func(ev tenants.ConsentEvent) error { out = append(out, ev); return nil })
	})
	return out, wrap("store.ConsentLog", err)
}

func decodeContact(item *badger.Item) (tenants.Contact, error) {
	var c tenants.Contact
	err := item.Value(func(b []byte) error { return json.Unmarshal(b, &c) })
	return c, err
}
