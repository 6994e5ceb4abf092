package store

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aibud/aibud/tenants"
	"github.com/dgraph-io/badger/v4"
)

func testAPIKey(tenantID, secret string) tenants.APIKey {
	return tenants.APIKey{ID: NewID(), TenantID: tenantID, UserID: NewID(), Name: "CRM", Prefix: secret[:11],
		Hash: tenants.HashAPIKey(secret), CreatedAt: time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)}
}

func TestAPIKeyRecords(t *testing.T) {
	s := mustOpen(t, 2)
	ctx := context.Background()
	tenantA, tenantB := NewID(), NewID()
	secret := "ak_" + strings.Repeat("k", 43)
	a := testAPIKey(tenantA, secret)
	b := testAPIKey(tenantB, "ak_"+strings.Repeat("b", 43))
	for _, k := range []tenants.APIKey{a, b} {
		if err := s.CreateAPIKey(ctx, k, 5); err != nil {
			t.Fatal(err)
		}
	}
	dup := testAPIKey(tenantA, secret)
	if err := s.CreateAPIKey(ctx, dup, 5); tenants.ErrorCode(err) != tenants.ECONFLICT {
		t.Fatalf("same hash twice: %v; want conflict", err)
	}
	bad := a
	bad.TenantID = tenantA + "/x"
	if err := s.CreateAPIKey(ctx, bad, 5); err == nil {
		t.Fatal("a tenant id with a slash was stored")
	}

	got, err := s.APIKeyByHash(ctx, a.Hash)
	if err != nil || got.ID != a.ID || got.TenantID != tenantA {
		t.Fatalf("by hash = %+v, %v", got, err)
	}
	listA, err := s.APIKeys(ctx, tenantA)
	if err != nil || len(listA) != 1 || listA[0].ID != a.ID {
		t.Fatalf("tenant A's keys = %+v, %v; want only its own", listA, err)
	}
	if _, err := s.RevokeAPIKey(ctx, tenantB, a.ID, time.Now()); tenants.ErrorCode(err) != tenants.ENOTFOUND {
		t.Fatalf("B revoking A's key: %v; want not_found", err)
	}

	// Touch moves the time forward only.
	t1 := a.CreatedAt.Add(time.Hour)
	for _, at := range []time.Time{t1, t1.Add(-time.Minute)} {
		if err := s.TouchAPIKey(ctx, tenantA, a.ID, at); err != nil {
			t.Fatal(err)
		}
	}
	if got, _ := s.APIKeyByHash(ctx, a.Hash); !got.LastUsedAt.Equal(t1) {
		t.Fatalf("last used = %v; want %v", got.LastUsedAt, t1)
	}

	revoked, err := s.RevokeAPIKey(ctx, tenantA, a.ID, t1)
	if err != nil || !revoked.Revoked || !revoked.RevokedAt.Equal(t1) {
		t.Fatalf("revoke = %+v, %v", revoked, err)
	}
	if _, err := s.APIKeyByHash(ctx, a.Hash); tenants.ErrorCode(err) != tenants.ENOTFOUND {
		t.Fatalf("revoked key by hash: %v; want not_found (index removed)", err)
	}
	if err := s.TouchAPIKey(ctx, tenantA, a.ID, t1.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if l, _ := s.APIKeys(ctx, tenantA); len(l) != 1 || !l[0].Revoked {
		t.Fatalf("a touch after revoke un-revoked the key: %+v", l)
	}
	assertAbsent(t, s, []byte(secret))
}

func TestAPIKeyLimit(t *testing.T) {
	s := mustOpen(t, 2)
	ctx := context.Background()
	tid := NewID()
	var keys []tenants.APIKey
	for i := range 3 {
		k := testAPIKey(tid, "ak_"+strings.Repeat(string(rune('a'+i)), 43))
		if err := s.CreateAPIKey(ctx, k, 2); i < 2 && err != nil {
			t.Fatal(err)
		} else if i == 2 && tenants.ErrorCode(err) != tenants.ECONFLICT {
			t.Fatalf("third key over a limit of 2: %v; want conflict", err)
		}
		keys = append(keys, k)
	}
	if _, err := s.RevokeAPIKey(ctx, tid, keys[0].ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateAPIKey(ctx, keys[2], 2); err != nil {
		t.Fatalf("after a revoke: %v", err)
	}
}

// assertAbsent fails when any catalog key or value contains needle.
func assertAbsent(t *testing.T, s *Store, needle []byte) {
	t.Helper()
	err := s.Catalog.DB().View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.DefaultIteratorOptions)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			if bytes.Contains(it.Item().Key(), needle) || bytes.Contains(v, needle) {
				t.Errorf("catalog entry %q holds the plain key", it.Item().Key())
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
