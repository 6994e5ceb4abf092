package store

import (
	"context"
	"errors"
	"strings"

	"github.com/aibud/aibud/tenants"
	"github.com/dgraph-io/badger/v4"
)

// messageChunk is how many messages one dispatch transaction writes: under
// Badger's transaction limit at a 1 MiB memtable (15% of it, ~157 KB; a
// message with its index is ~400 bytes), and big enough that a
// 10,000-recipient poll takes 50 commits. A chunk that is still too big
// (long ids) is split in half and retried.
const messageChunk = 200

// PutPoll stores a poll.
func (s *Store) PutPoll(ctx context.Context, p tenants.Poll) error {
	return wrap("store.PutPoll", s.tenantUpdate(ctx, p.TenantID, func(txn *badger.Txn) error {
		return setJSON(txn, keyPoll+p.ID, p)
	}))
}

// Poll returns one poll of a tenant.
func (s *Store) Poll(ctx context.Context, tenantID, id string) (tenants.Poll, error) {
	var p tenants.Poll
	err := s.tenantView(ctx, tenantID, func(txn *badger.Txn) error { return getJSON(txn, keyPoll+id, &p) })
	return p, wrap("store.Poll", notFound(err, "Poll"))
}

// Polls returns a tenant's polls, newest first.
func (s *Store) Polls(ctx context.Context, tenantID string) ([]tenants.Poll, error) {
	var out []tenants.Poll
	err := s.tenantView(ctx, tenantID, func(txn *badger.Txn) error {
		return scanJSON(txn, keyPoll, func(p tenants.Poll) error { out = append(out, p); return nil })
	})
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, wrap("store.Polls", err)
}

// UpdatePoll changes a poll in one transaction.
func (s *Store) UpdatePoll(ctx context.Context, tenantID, id string, fn func(*tenants.Poll) error) (tenants.Poll, error) {
	var p tenants.Poll
	err := s.tenantUpdate(ctx, tenantID, func(txn *badger.Txn) error {
		if err := getJSON(txn, keyPoll+id, &p); err != nil {
			return notFound(err, "Poll")
		}
		if err := fn(&p); err != nil {
			return err
		}
		return setJSON(txn, keyPoll+id, p)
	})
	return p, wrap("store.UpdatePoll", err)
}

func messageKey(pollID, phone string) string { return keyMessage + pollID + "/" + phone }

// WriteMessages implements tenants.PollStore. Each chunk reads the number's
// pace cursor, plans the new messages, and writes them with the advanced
// cursor in one transaction, so concurrent campaigns on one number
// interleave instead of overlapping.
func (s *Store) WriteMessages(ctx context.Context, tenantID string, p tenants.Poll, phones []string, plan tenants.PacePlanner) ([]tenants.Message, error) {
	out := make([]tenants.Message, 0, len(phones))
	for start := 0; start < len(phones); start += messageChunk {
		written, err := s.writeMessages(ctx, tenantID, p, phones[start:min(start+messageChunk, len(phones))], plan)
		if err != nil {
			return nil, wrap("store.WriteMessages", err)
		}
		out = append(out, written...)
	}
	return out, nil
}

func (s *Store) writeMessages(ctx context.Context, tenantID string, p tenants.Poll, phones []string, plan tenants.PacePlanner) ([]tenants.Message, error) {
	var written []tenants.Message
	err := s.tenantUpdate(ctx, tenantID, func(txn *badger.Txn) error {
		var err error
		written, err = writeChunk(txn, p, phones, plan)
		return err
	})
	if errors.Is(err, badger.ErrTxnTooBig) && len(phones) > 1 {
		half := len(phones) / 2
		first, err := s.writeMessages(ctx, tenantID, p, phones[:half], plan)
		if err != nil {
			return nil, err
		}
		rest, err := s.writeMessages(ctx, tenantID, p, phones[half:], plan)
		return append(first, rest...), err
	}
	return written, err
}

func writeChunk(txn *badger.Txn, p tenants.Poll, phones []string, plan tenants.PacePlanner) ([]tenants.Message, error) {
	var in tenants.Instance
	if err := getJSON(txn, keyInstance+p.InstanceID, &in); err != nil {
		return nil, notFound(err, "WhatsApp number")
	}
	out := make([]tenants.Message, 0, len(phones))
	var fresh []string
	for _, phone := range phones {
		var m tenants.Message
		err := getJSON(txn, messageKey(p.ID, phone), &m)
		if err == nil {
			out = append(out, m) // written by an earlier, interrupted dispatch
			continue
		} else if !errors.Is(err, badger.ErrKeyNotFound) {
			return nil, err
		}
		fresh = append(fresh, phone)
	}
	due, next := plan(in.Pace, len(fresh))
	for i, phone := range fresh {
		m := tenants.Message{ID: tenants.MessageID(p.ID, phone), PollID: p.ID, InstanceID: p.InstanceID, Phone: phone,
			Status: tenants.StatusQueued, DueAt: due[i], UpdatedAt: p.DispatchedAt}
		if err := setJSON(txn, messageKey(p.ID, phone), m); err != nil {
			return nil, err
		}
		if err := txn.Set([]byte(keyContactMsg+phone+"/"+p.ID), nil); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	in.Pace = next
	return out, setJSON(txn, keyInstance+in.ID, in)
}

// Message returns one message.
func (s *Store) Message(ctx context.Context, tenantID, pollID, phone string) (tenants.Message, error) {
	var m tenants.Message
	err := s.tenantView(ctx, tenantID, func(txn *badger.Txn) error { return getJSON(txn, messageKey(pollID, phone), &m) })
	return m, wrap("store.Message", notFound(err, "Message"))
}

// UpdateMessage changes a message in one transaction. When the change gives
// it a gateway id, the id is indexed (statuses and votes find the message
// by it), a status that arrived before the id was known is applied, and
// the poll becomes the contact's latest.
func (s *Store) UpdateMessage(ctx context.Context, tenantID, pollID, phone string, fn func(*tenants.Message) error) (tenants.Message, error) {
	var m tenants.Message
	err := s.tenantUpdate(ctx, tenantID, func(txn *badger.Txn) error {
		if err := getJSON(txn, messageKey(pollID, phone), &m); err != nil {
			return notFound(err, "Message")
		}
		before := m.WAID
		if err := fn(&m); err != nil {
			return err
		}
		if m.WAID != "" && m.WAID != before {
			if err := indexSent(txn, &m); err != nil {
				return err
			}
		}
		return setJSON(txn, messageKey(pollID, phone), m)
	})
	return m, wrap("store.UpdateMessage", err)
}

func indexSent(txn *badger.Txn, m *tenants.Message) error {
	if err := txn.Set([]byte(keyMessageWAID+m.WAID), []byte(m.PollID+"/"+m.Phone)); err != nil {
		return err
	}
	if err := txn.Set([]byte(keyLastPoll+m.Phone), []byte(m.PollID)); err != nil {
		return err
	}
	var pending tenants.MessageStatus
	if err := getJSON(txn, keyPendStatus+m.WAID, &pending); err == nil {
		if tenants.StatusRank(pending) > tenants.StatusRank(m.Status) {
			m.Status = pending
		}
		return txn.Delete([]byte(keyPendStatus + m.WAID))
	} else if !errors.Is(err, badger.ErrKeyNotFound) {
		return err
	}
	return nil
}

// ForEachMessage implements tenants.PollStore.
func (s *Store) ForEachMessage(ctx context.Context, tenantID, pollID string, fn func(tenants.Message) error) error {
	return wrap("store.ForEachMessage", s.tenantView(ctx, tenantID, func(txn *badger.Txn) error {
		return scanJSON(txn, keyMessage+pollID+"/", fn)
	}))
}

// ContactMessages returns every poll message sent to a phone.
func (s *Store) ContactMessages(ctx context.Context, tenantID, phone string) ([]tenants.Message, error) {
	var out []tenants.Message
	err := s.tenantView(ctx, tenantID, func(txn *badger.Txn) error {
		return scanKeys(txn, keyContactMsg+phone+"/", func(rest string) error {
			var m tenants.Message
			if err := getJSON(txn, messageKey(rest, phone), &m); err == nil {
				out = append(out, m)
			} else if !errors.Is(err, badger.ErrKeyNotFound) {
				return err
			}
			return nil
		})
	})
	return out, wrap("store.ContactMessages", err)
}

// scanKeys calls fn with the rest of every key under prefix (values unread).
func scanKeys(txn *badger.Txn, prefix string, fn func(rest string) error) error {
	it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(prefix)})
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		if err := fn(strings.TrimPrefix(string(it.Item().Key()), prefix)); err != nil {
			return err
		}
	}
	return nil
}

// PutAudience implements tenants.PollStore: the phones, one per line.
func (s *Store) PutAudience(ctx context.Context, tenantID, pollID string, phones []string) error {
	return wrap("store.PutAudience", s.tenantUpdate(ctx, tenantID, func(txn *badger.Txn) error {
		return txn.Set([]byte(keyAudience+pollID), []byte(strings.Join(phones, "\n")))
	}))
}

// Audience implements tenants.PollStore.
func (s *Store) Audience(ctx context.Context, tenantID, pollID string) ([]string, error) {
	var phones []string
	err := s.tenantView(ctx, tenantID, func(txn *badger.Txn) error {
		item, err := txn.Get([]byte(keyAudience + pollID))
		if err != nil {
			return notFound(err, "Poll audience")
		}
		return item.Value(func(v []byte) error {
			if len(v) > 0 {
				phones = strings.Split(string(v), "\n")
			}
			return nil
		})
	})
	return phones, wrap("store.Audience", err)
}
