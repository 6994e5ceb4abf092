package store

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"unicode"

	"github.com/aibud/aibud/tenants"
	"github.com/dgraph-io/badger/v4"
)

// Contacts implements tenants.ContactStore: a page in phone order after
// q.Cursor (the last phone of the previous page), optionally only one tag's
// contacts, optionally only those whose phone or name contains q.Search.
// Search scans; at tens of thousands of contacts that is a few tens of
// milliseconds, cheaper than keeping a text index on every write.
func (s *Store) Contacts(ctx context.Context, tenantID string, q tenants.ContactQuery) (tenants.ContactPage, error) {
	if q.Limit <= 0 {
		q.Limit = tenants.DefaultContactPage
	}
	match := contactMatcher(q.Search)
	page := tenants.ContactPage{Contacts: []tenants.Contact{}}
	err := s.tenantView(ctx, tenantID, func(txn *badger.Txn) error {
		return eachContact(ctx, txn, q.Tag, q.Cursor, func(c tenants.Contact) (bool, error) {
			if !match(c) {
				return true, nil
			}
			if len(page.Contacts) == q.Limit { // one more exists: there is a next page
				page.NextCursor = page.Contacts[q.Limit-1].Phone
				return false, nil
			}
			page.Contacts = append(page.Contacts, c)
			return true, nil
		})
	})
	return page, wrap("store.Contacts", err)
}

// ForEachContact implements tenants.ContactStore.
func (s *Store) ForEachContact(ctx context.Context, tenantID, tag string, fn func(tenants.Contact) error) error {
	err := s.tenantView(ctx, tenantID, func(txn *badger.Txn) error {
		return eachContact(ctx, txn, tag, "", func(c tenants.Contact) (bool, error) { return true, fn(c) })
	})
	return wrap("store.ForEachContact", err)
}

// eachContact visits contacts in phone order after the phone after (all
// when empty), through the tag index when tag is set, until fn says stop.
func eachContact(ctx context.Context, txn *badger.Txn, tag, after string, fn func(tenants.Contact) (bool, error)) error {
	prefix := keyContact
	if tag != "" {
		prefix = keyTag + tag + "/"
	}
	it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(prefix), PrefetchValues: tag == "", PrefetchSize: 100})
	defer it.Close()
	start := []byte(prefix)
	if after != "" {
		start = []byte(prefix + after + "\x00")
	}
	for it.Seek(start); it.Valid(); it.Next() {
		if err := ctx.Err(); err != nil {
			return err
		}
		item := it.Item()
		if tag != "" { // an index entry: read the contact it points to
			var err error
			item, err = txn.Get(append([]byte(keyContact), item.Key()[len(prefix):]...))
			if errors.Is(err, badger.ErrKeyNotFound) {
				continue // an entry left by an erase cut short
			} else if err != nil {
				return err
			}
		}
		c, err := decodeContact(item)
		if err != nil {
			return err
		}
		if more, err := fn(c); err != nil || !more {
			return err
		}
	}
	return nil
}

// contactMatcher matches a search against a contact: the digits of a search
// without letters against the phone, otherwise the name, ignoring case.
func contactMatcher(search string) func(tenants.Contact) bool {
	search = strings.ToLower(strings.TrimSpace(search))
	if search == "" {
		return func(tenants.Contact) bool { return true }
	}
	digits := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, search)
	letters := strings.IndexFunc(search, unicode.IsLetter) >= 0
	return func(c tenants.Contact) bool {
		if !letters && digits != "" && strings.Contains(c.Phone, digits) {
			return true
		}
		return strings.Contains(strings.ToLower(c.Name), search)
	}
}

// ContactTags lists the tags in use, in order, with how many contacts
// carry each; it reads index keys only.
func (s *Store) ContactTags(ctx context.Context, tenantID string) ([]tenants.TagCount, error) {
	var out []tenants.TagCount
	err := s.tenantView(ctx, tenantID, func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(keyTag)})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			k := it.Item().Key()[len(keyTag):]
			tag := string(k[:bytes.LastIndexByte(k, '/')])
			if n := len(out); n > 0 && out[n-1].Tag == tag {
				out[n-1].Contacts++
			} else {
				out = append(out, tenants.TagCount{Tag: tag, Contacts: 1})
			}
		}
		return nil
	})
	return out, wrap("store.ContactTags", err)
}

// ContactKeyPrefixes lists the key prefixes that hold data about one
// contact, beyond their record and tag index entries; DeleteContact erases
// everything under them. Whatever else is stored about a contact (messages,
// votes, replies) must be reachable from here: add its per-contact prefix
// (e.g. an index msgc/<phone>/…) to this list, and, when the index points
// at a record keyed by another id, map it in linkedKey.
func ContactKeyPrefixes(phone string) []string {
	return []string{keyConsent + phone + "/", keyContactMsg + phone + "/", keyContactVote + phone + "/", keyContactRepl + phone + "/"}
}

// linkedKeys returns the records an index key under ContactKeyPrefixes
// points to, to be erased with it: a poll message, a vote, a reply (and its
// "waiting for the classifier" mark). Index entries elsewhere that pointed
// at them (a poll's reply list, gateway ids) are skipped by their readers
// when the record is gone.
func linkedKeys(key []byte, phone string) [][]byte {
	k := string(key)
	switch {
	case strings.HasPrefix(k, keyContactMsg):
		pollID := strings.TrimPrefix(k, keyContactMsg+phone+"/")
		return [][]byte{[]byte(messageKey(pollID, phone))}
	case strings.HasPrefix(k, keyContactVote):
		pollID := strings.TrimPrefix(k, keyContactVote+phone+"/")
		return [][]byte{[]byte(keyVote + pollID + "/" + phone)}
	case strings.HasPrefix(k, keyContactRepl):
		id := strings.TrimPrefix(k, keyContactRepl+phone+"/")
		return [][]byte{[]byte(keyReply + id), []byte(keyUnclassified + id)}
	}
	return nil
}

// eraseBatch bounds the keys deleted per transaction while erasing.
const eraseBatch = 1000

// DeleteContact implements tenants.ContactStore. The per-contact data goes
// first, in batches; the record and its tag entries go last, together, so an
// erase cut short leaves the contact listed and can simply be repeated.
func (s *Store) DeleteContact(ctx context.Context, tenantID, phone string) error {
	err := s.WithTenant(ctx, tenantID, func(h *TenantDB) error {
		if err := h.DB.View(func(txn *badger.Txn) error { _, err := txn.Get([]byte(keyContact + phone)); return err }); err != nil {
			return notFound(err, "Contact")
		}
		for _, prefix := range ContactKeyPrefixes(phone) {
			if err := erasePrefix(ctx, h.DB, prefix, phone); err != nil {
				return err
			}
		}
		return h.DB.Update(func(txn *badger.Txn) error {
			var c tenants.Contact
			if err := getJSON(txn, keyContact+phone, &c); err != nil {
				return notFound(err, "Contact")
			}
			for _, t := range c.Tags {
				if err := txn.Delete([]byte(keyTag + t + "/" + phone)); err != nil {
					return err
				}
			}
			if err := txn.Delete([]byte(keyLastPoll + phone)); err != nil {
				return err
			}
			return txn.Delete([]byte(keyContact + phone))
		})
	})
	return wrap("store.DeleteContact", err)
}

// erasePrefix deletes every key under prefix (and what linkedKey maps them
// to), eraseBatch keys per transaction.
func erasePrefix(ctx context.Context, db *badger.DB, prefix, phone string) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		var keys [][]byte
		err := db.View(func(txn *badger.Txn) error {
			it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(prefix)})
			defer it.Close()
			for it.Rewind(); it.Valid() && len(keys) < eraseBatch; it.Next() {
				k := it.Item().KeyCopy(nil)
				keys = append(keys, k)
				keys = append(keys, linkedKeys(k, phone)...)
			}
			return nil
		})
		if err != nil || len(keys) == 0 {
			return err
		}
		wb := db.NewWriteBatch()
		for _, k := range keys {
			if err := wb.Delete(k); err != nil {
				wb.Cancel()
				return err
			}
		}
		if err := wb.Flush(); err != nil {
			return err
		}
	}
}
