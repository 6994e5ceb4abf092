package store

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/aibud/aibud/tenants"
	"github.com/dgraph-io/badger/v4"
	"github.com/oklog/ulid/v2"
)

// receive applies a message status, vote or inbound text to the campaign
// records, inside the webhook's transaction.
func receive(txn *badger.Txn, instanceID string, ev tenants.GatewayEvent, now time.Time, out *tenants.Applied) error {
	switch ev.Kind {
	case tenants.EventMessageStatus:
		if ev.Status != nil {
			return receiveStatus(txn, instanceID, *ev.Status, now)
		}
	case tenants.EventPollVote:
		if ev.Vote != nil {
			v, ok, err := receiveVote(txn, *ev.Vote, now)
			if ok {
				out.Votes = append(out.Votes, v)
			}
			return err
		}
	case tenants.EventInboundText:
		if ev.Text != nil {
			r, ok, err := receiveText(txn, instanceID, *ev.Text, now)
			if ok {
				out.Replies = append(out.Replies, r)
			}
			return err
		}
	}
	return nil
}

// sentMessage finds the message a gateway id belongs to.
func sentMessage(txn *badger.Txn, waid string) (tenants.Message, bool, error) {
	item, err := txn.Get([]byte(keyMessageWAID + waid))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return tenants.Message{}, false, nil
	} else if err != nil {
		return tenants.Message{}, false, err
	}
	ref, err := item.ValueCopy(nil)
	if err != nil {
		return tenants.Message{}, false, err
	}
	var m tenants.Message
	if err := getJSON(txn, keyMessage+string(ref), &m); errors.Is(err, badger.ErrKeyNotFound) {
		return m, false, nil // the contact was erased; the gateway id is all that is left
	} else if err != nil {
		return m, false, err
	}
	return m, true, nil
}

// receiveStatus moves a message forward (sent → delivered → read); a late
// or repeated status never moves it back. A status for an id we do not know
// yet (the webhook beat the send's answer) is kept until the id is stored.
func receiveStatus(txn *badger.Txn, instanceID string, st tenants.StatusChange, now time.Time) error {
	m, ok, err := sentMessage(txn, st.MessageID)
	if err != nil {
		return err
	}
	if !ok && st.To != "" && st.PollName != "" {
		if adopted, err := adoptSend(txn, instanceID, st, now); err != nil || adopted {
			return err
		}
	}
	if !ok {
		var pending tenants.MessageStatus
		if err := getJSON(txn, keyPendStatus+st.MessageID, &pending); err != nil && !errors.Is(err, badger.ErrKeyNotFound) {
			return err
		}
		if tenants.StatusRank(st.Status) > tenants.StatusRank(pending) {
			return txn.SetEntry(badger.NewEntry([]byte(keyPendStatus+st.MessageID), mustJSON(st.Status)).WithTTL(dedupeTTL))
		}
		return nil
	}
	if m.Status == tenants.StatusFailed || m.Status == tenants.StatusCancelled || tenants.StatusRank(st.Status) <= tenants.StatusRank(m.Status) {
		return nil
	}
	m.Status = st.Status
	return setJSON(txn, messageKey(m.PollID, m.Phone), m)
}

// adoptSend links the gateway's echo of a poll to its message when the
// send's own answer has not stored the gateway id: a worker claimed the
// message ("sending"), the gateway sent it, and the worker was killed
// before it wrote the answer down. Without this the message would be sent
// again once its claim went stale. The match is the recipient, the number
// and the question; among several claims (the same question in two
// campaigns) the oldest goes first, as the gateway answers in order.
func adoptSend(txn *badger.Txn, instanceID string, st tenants.StatusChange, now time.Time) (bool, error) {
	var found *tenants.Message
	err := scanKeys(txn, keyContactMsg+st.To+"/", func(pollID string) error {
		var m tenants.Message
		if err := getJSON(txn, messageKey(pollID, st.To), &m); errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		} else if err != nil {
			return err
		}
		if m.Status != tenants.StatusSending || m.WAID != "" || m.InstanceID != instanceID {
			return nil
		}
		var p tenants.Poll
		if err := getJSON(txn, keyPoll+pollID, &p); errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		} else if err != nil {
			return err
		}
		if p.Question == st.PollName && (found == nil || m.UpdatedAt.Before(found.UpdatedAt)) {
			found = &m
		}
		return nil
	})
	if err != nil || found == nil {
		return false, err
	}
	m := *found
	m.Status, m.WAID, m.SentAt, m.UpdatedAt, m.Error = st.Status, st.MessageID, now, now, ""
	m.Attempts++
	if err := indexSent(txn, &m); err != nil {
		return false, err
	}
	return true, setJSON(txn, messageKey(m.PollID, m.Phone), m)
}

// receiveVote keeps the voter's latest complete selection on the poll.
func receiveVote(txn *badger.Txn, v tenants.PollVote, now time.Time) (tenants.Vote, bool, error) {
	m, ok, err := sentMessage(txn, v.PollMessageID)
	if err != nil || !ok {
		return tenants.Vote{}, false, err // a vote on a poll we did not send: nothing to count
	}
	at := v.At
	if at.IsZero() {
		at = now
	}
	// The poll went to one person, so its message says who voted even when
	// the gateway only gives a privacy id (LID).
	phone := m.Phone
	key := keyVote + m.PollID + "/" + phone
	var cur tenants.Vote
	if err := getJSON(txn, key, &cur); err == nil && cur.At.After(at) && !cur.FromText {
		return tenants.Vote{}, false, nil // an older vote delivered late
	} else if err != nil && !errors.Is(err, badger.ErrKeyNotFound) {
		return tenants.Vote{}, false, err
	}
	vote := tenants.Vote{PollID: m.PollID, Phone: phone, Options: v.Options, Unreadable: v.Unreadable, WAID: v.MessageID, At: at}
	if vote.Options == nil {
		vote.Options = []string{}
	}
	if err := setJSON(txn, key, vote); err != nil {
		return tenants.Vote{}, false, err
	}
	return vote, true, txn.Set([]byte(keyContactVote+phone+"/"+m.PollID), nil)
}

// receiveText stores a reply, linked to the poll it quotes or else to the
// last poll sent to that contact.
func receiveText(txn *badger.Txn, instanceID string, t tenants.InboundText, now time.Time) (tenants.Reply, bool, error) {
	phone := t.From
	pollID := ""
	if t.QuotedID != "" {
		if m, ok, err := sentMessage(txn, t.QuotedID); err != nil {
			return tenants.Reply{}, false, err
		} else if ok {
			pollID = m.PollID
			if phone == "" {
				phone = m.Phone
			}
		}
	}
	if phone == "" {
		return tenants.Reply{}, false, nil // only a privacy id and no quote: nobody to link it to
	}
	if pollID == "" {
		if item, err := txn.Get([]byte(keyLastPoll + phone)); err == nil {
			v, _ := item.ValueCopy(nil)
			pollID = string(v)
		} else if !errors.Is(err, badger.ErrKeyNotFound) {
			return tenants.Reply{}, false, err
		}
	}
	at := t.At
	if at.IsZero() {
		at = now
	}
	id := ulid.MustNew(ulid.Timestamp(at), ulid.DefaultEntropy()).String()
	r := tenants.Reply{ID: id, Phone: phone, PollID: pollID, InstanceID: instanceID, WAID: t.MessageID, Text: t.Text, QuotedID: t.QuotedID, PushName: t.PushName, At: at}
	if err := setJSON(txn, keyReply+id, r); err != nil {
		return r, false, err
	}
	if pollID != "" {
		if err := txn.Set([]byte(keyPollReply+pollID+"/"+id), nil); err != nil {
			return r, false, err
		}
	}
	// Marked for the classifier until it has read the reply, so a restart
	// loses none.
	if err := txn.Set([]byte(keyUnclassified+id), nil); err != nil {
		return r, false, err
	}
	return r, true, txn.Set([]byte(keyContactRepl+phone+"/"+id), nil)
}

// Votes returns a poll's current votes.
func (s *Store) Votes(ctx context.Context, tenantID, pollID string) ([]tenants.Vote, error) {
	var out []tenants.Vote
	err := s.tenantView(ctx, tenantID, func(txn *badger.Txn) error {
		return scanJSON(txn, keyVote+pollID+"/", func(v tenants.Vote) error { out = append(out, v); return nil })
	})
	return out, wrap("store.Votes", err)
}

// ContactVotes returns a contact's votes on every poll.
func (s *Store) ContactVotes(ctx context.Context, tenantID, phone string) ([]tenants.Vote, error) {
	var out []tenants.Vote
	err := s.tenantView(ctx, tenantID, func(txn *badger.Txn) error {
		return scanKeys(txn, keyContactVote+phone+"/", func(pollID string) error {
			var v tenants.Vote
			if err := getJSON(txn, keyVote+pollID+"/"+phone, &v); err == nil {
				out = append(out, v)
			}
			return nil
		})
	})
	return out, wrap("store.ContactVotes", err)
}

// Replies returns a poll's replies, newest first, at most limit (0 = all).
// An empty pollID lists every reply of the tenant.
func (s *Store) Replies(ctx context.Context, tenantID, pollID string, limit int) ([]tenants.Reply, error) {
	var out []tenants.Reply
	err := s.tenantView(ctx, tenantID, func(txn *badger.Txn) error {
		if pollID == "" {
			return scanJSON(txn, keyReply, func(r tenants.Reply) error { out = append(out, r); return nil })
		}
		return s.repliesByIndex(txn, keyPollReply+pollID+"/", &out)
	})
	reverse(out)
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, wrap("store.Replies", err)
}

// ContactReplies returns a contact's replies, oldest first.
func (s *Store) ContactReplies(ctx context.Context, tenantID, phone string) ([]tenants.Reply, error) {
	var out []tenants.Reply
	err := s.tenantView(ctx, tenantID, func(txn *badger.Txn) error {
		return s.repliesByIndex(txn, keyContactRepl+phone+"/", &out)
	})
	return out, wrap("store.ContactReplies", err)
}

// RepliesBefore implements tenants.PollStore. Reply ids are ULIDs of
// their time, so the index read backwards from replyID gives the latest
// earlier ones without reading the rest.
func (s *Store) RepliesBefore(ctx context.Context, tenantID, phone, replyID string, n int) ([]tenants.Reply, error) {
	var out []tenants.Reply
	prefix := keyContactRepl + phone + "/"
	err := s.tenantView(ctx, tenantID, func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(prefix), Reverse: true})
		defer it.Close()
		for it.Seek([]byte(prefix + replyID)); it.Valid() && len(out) < n; it.Next() {
			id := strings.TrimPrefix(string(it.Item().Key()), prefix)
			if id >= replyID {
				continue // the reply itself
			}
			var r tenants.Reply
			if err := getJSON(txn, keyReply+id, &r); err == nil {
				out = append(out, r)
			} else if !errors.Is(err, badger.ErrKeyNotFound) {
				return err
			}
		}
		return nil
	})
	reverse(out)
	return out, wrap("store.RepliesBefore", err)
}

func (s *Store) repliesByIndex(txn *badger.Txn, prefix string, out *[]tenants.Reply) error {
	return scanKeys(txn, prefix, func(id string) error {
		var r tenants.Reply
		if err := getJSON(txn, keyReply+strings.TrimPrefix(id, "/"), &r); err == nil {
			*out = append(*out, r)
		} else if !errors.Is(err, badger.ErrKeyNotFound) {
			return err
		}
		return nil
	})
}

func reverse[T any](s []T) {
	for i, j := 0, len(s)-1; i < j; i, j = i+1, j-1 {
		s[i], s[j] = s[j], s[i]
	}
}

// MarkActive records that a tenant has campaigns in flight, so the
// reconciler visits it without opening every tenant DB.
func (c *Catalog) MarkActive(ctx context.Context, tenantID string, active bool) error {
	var already bool
	if err := c.db.View(func(txn *badger.Txn) error {
		var err error
		already, err = exists(txn, keyActive+tenantID)
		return err
	}); err != nil {
		return wrap("store.MarkActive", err)
	}
	if already == active {
		return nil // nothing to write: marking is on every reply's path
	}
	return wrap("store.MarkActive", c.update(func(txn *badger.Txn) error {
		if active {
			return txn.Set([]byte(keyActive+tenantID), nil)
		}
		return txn.Delete([]byte(keyActive + tenantID))
	}))
}

// ActiveTenants lists tenants with campaigns in flight.
func (c *Catalog) ActiveTenants(ctx context.Context) ([]string, error) {
	var out []string
	err := c.db.View(func(txn *badger.Txn) error {
		return scanKeys(txn, keyActive, func(id string) error { out = append(out, id); return nil })
	})
	return out, wrap("store.ActiveTenants", err)
}
