package store

import (
	"context"
	"time"

	"github.com/aibud/aibud/tenants"
	"github.com/dgraph-io/badger/v4"
	"github.com/oklog/ulid/v2"
)

// CountUsage implements tenants.UsageCounter by reading the tenant's
// records: messages by send time, votes and replies by arrival, the ledger
// for credits. It runs once a day per tenant (and for "today" on the
// billing page), so a scan is affordable and keeps writes free of counters.
func (s *Store) CountUsage(ctx context.Context, tenantID string, from, to time.Time) (tenants.DailyUsage, error) {
	var u tenants.DailyUsage
	in := func(t time.Time) bool { return !t.Before(from) && t.Before(to) }
	err := s.tenantView(ctx, tenantID, func(txn *badger.Txn) error {
		err := scanJSON(txn, keyMessage, func(m tenants.Message) error {
			switch {
			case m.Status == tenants.StatusFailed && in(m.UpdatedAt):
				u.Failed++
			case !m.SentAt.IsZero() && in(m.SentAt):
				u.Sent++
				if r := tenants.StatusRank(m.Status); r >= tenants.StatusRank(tenants.StatusDelivered) && m.Status != tenants.StatusCancelled {
					u.Delivered++
				}
				if m.Status == tenants.StatusRead {
					u.Read++
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		if err := scanJSON(txn, keyVote, func(v tenants.Vote) error {
			if in(v.At) {
				u.Votes++
			}
			return nil
		}); err != nil {
			return err
		}
		if err := countReplies(txn, from, to, &u); err != nil {
			return err
		}
		return countCredits(txn, from, to, &u)
	})
	return u, wrap("store.CountUsage", err)
}

// countReplies seeks to the first reply of the range: reply ids are ULIDs,
// ordered by time.
func countReplies(txn *badger.Txn, from, to time.Time, u *tenants.DailyUsage) error {
	it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(keyReply), PrefetchValues: true})
	defer it.Close()
	start := ulid.ULID{}
	_ = start.SetTime(ulid.Timestamp(from))
	for it.Seek([]byte(keyReply + start.String())); it.Valid(); it.Next() {
		var r tenants.Reply
		if err := it.Item().Value(func(b []byte) error { return jsonUnmarshal(b, &r) }); err != nil {
			return err
		}
		if !r.At.Before(to) {
			break
		}
		u.Replies++
		if r.Classification != nil {
			u.Classifications++
			u.AITokens += r.Classification.TokensUsed
		}
	}
	return nil
}

// countCredits walks the ledger back from the newest entry: spending in
// the range is reservations minus refunds; the balance is the last
// balance_after before the range ends.
func countCredits(txn *badger.Txn, from, to time.Time, u *tenants.DailyUsage) error {
	it := txn.NewIterator(badger.IteratorOptions{Reverse: true, Prefix: []byte(keyLedger), PrefetchValues: true})
	defer it.Close()
	balanceSet := false
	for it.Seek([]byte(keyLedger + "\xff")); it.Valid(); it.Next() {
		var e tenants.LedgerEntry
		if err := it.Item().Value(func(b []byte) error { return jsonUnmarshal(b, &e) }); err != nil {
			return err
		}
		if !e.At.Before(to) {
			continue
		}
		if !balanceSet {
			u.Balance, balanceSet = e.BalanceAfter, true
		}
		if e.At.Before(from) {
			break
		}
		if e.Reason == tenants.ReasonReserve || e.Reason == tenants.ReasonRefund {
			u.CreditsSpent -= e.Delta
		}
	}
	return nil
}

// PutUsage implements tenants.UsageSnapshots.
func (c *Catalog) PutUsage(ctx context.Context, u tenants.DailyUsage) error {
	return wrap("store.PutUsage", c.update(func(txn *badger.Txn) error {
		return setJSON(txn, keyUsage+u.TenantID+"/"+u.Day, u)
	}))
}

// Usage implements tenants.UsageSnapshots: days in [fromDay, toDay].
func (c *Catalog) Usage(ctx context.Context, tenantID, fromDay, toDay string) ([]tenants.DailyUsage, error) {
	var out []tenants.DailyUsage
	prefix := keyUsage + tenantID + "/"
	err := c.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(prefix), PrefetchValues: true})
		defer it.Close()
		for it.Seek([]byte(prefix + fromDay)); it.Valid(); it.Next() {
			var u tenants.DailyUsage
			if err := it.Item().Value(func(b []byte) error { return jsonUnmarshal(b, &u) }); err != nil {
				return err
			}
			if u.Day > toDay {
				break
			}
			out = append(out, u)
		}
		return nil
	})
	return out, wrap("store.Usage", err)
}

// LastUsageDay implements tenants.UsageSnapshots.
func (c *Catalog) LastUsageDay(ctx context.Context, tenantID string) (string, error) {
	prefix := keyUsage + tenantID + "/"
	day := ""
	err := c.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Reverse: true, Prefix: []byte(prefix)})
		defer it.Close()
		it.Seek([]byte(prefix + "\xff"))
		if it.Valid() {
			day = string(it.Item().Key()[len(prefix):])
		}
		return nil
	})
	return day, wrap("store.LastUsageDay", err)
}
