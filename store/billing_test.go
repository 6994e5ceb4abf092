package store

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aibud/aibud/tenants"
)

func mustCatalogTenant(tb testing.TB, s *Store) tenants.Tenant {
	tb.Helper()
	t := tenants.Tenant{ID: NewID(), Name: "Acme", Plan: tenants.PlanStarter, Status: tenants.TenantActive}
	if err := s.PutTenant(context.Background(), t); err != nil {
		tb.Fatal(err)
	}
	return t
}

func TestStripeEventMarkers(t *testing.T) {
	s := mustOpen(t, 2)
	ctx := context.Background()
	if done, err := s.Processed(ctx, "evt_1"); err != nil || done {
		t.Fatalf("Processed before marking = %v, %v", done, err)
	}
	var firsts atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			first, err := s.MarkProcessed(ctx, "evt_1")
			if err != nil {
				t.Error(err)
			}
			if first {
				firsts.Add(1)
			}
		})
	}
	wg.Wait()
	if firsts.Load() != 1 {
		t.Fatalf("%d callers were first, want 1", firsts.Load())
	}
	if done, err := s.Processed(ctx, "evt_1"); err != nil || !done {
		t.Fatalf("Processed after marking = %v, %v", done, err)
	}
	if done, _ := s.Processed(ctx, "evt_2"); done {
		t.Fatal("another event counts as processed")
	}
	if _, err := s.MarkProcessed(ctx, ""); tenants.ErrorCode(err) != tenants.EINVALID {
		t.Fatalf("empty id: %v", err)
	}
}

func TestStripeCustomerIndex(t *testing.T) {
	s := mustOpen(t, 2)
	ctx := context.Background()
	a, b := mustCatalogTenant(t, s), mustCatalogTenant(t, s)

	if _, err := s.TenantByStripeCustomer(ctx, "cus_a"); tenants.ErrorCode(err) != tenants.ENOTFOUND {
		t.Fatalf("unknown customer: %v", err)
	}
	got, err := s.SetStripeCustomer(ctx, a.ID, "cus_a")
	if err != nil || got.StripeCustomerID != "cus_a" || got.Name != "Acme" {
		t.Fatalf("SetStripeCustomer = %+v, %v", got, err)
	}
	if _, err := s.SetStripeCustomer(ctx, a.ID, "cus_a"); err != nil {
		t.Fatalf("linking the same pair again: %v", err)
	}
	tests := []struct {
		name, tenant, customer string
		code                   string
	}{
		{"tenant already has another customer", a.ID, "cus_other", tenants.ECONFLICT},
		{"customer belongs to another tenant", b.ID, "cus_a", tenants.ECONFLICT},
		{"unknown tenant", "nope", "cus_n", tenants.ENOTFOUND},
		{"empty customer", b.ID, "", tenants.EINVALID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := s.SetStripeCustomer(ctx, tt.tenant, tt.customer); tenants.ErrorCode(err) != tt.code {
				t.Fatalf("err = %v, want %s", err, tt.code)
			}
		})
	}
	byCus, err := s.TenantByStripeCustomer(ctx, "cus_a")
	if err != nil || byCus.ID != a.ID {
		t.Fatalf("TenantByStripeCustomer = %s, %v", byCus.ID, err)
	}
	if stored, _ := s.Tenant(ctx, b.ID); stored.StripeCustomerID != "" {
		t.Fatalf("refused link changed tenant b: %+v", stored)
	}
	if _, err := s.TenantByStripeCustomer(ctx, "cus_n"); tenants.ErrorCode(err) != tenants.ENOTFOUND {
		t.Fatalf("a refused link left an index entry: %v", err)
	}
}

func TestSubscriptionClock(t *testing.T) {
	s := mustOpen(t, 2)
	ctx := context.Background()
	a := mustCatalogTenant(t, s)
	if _, err := s.SetStripeCustomer(ctx, a.ID, "cus_a"); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	steps := []struct {
		customer string
		at       time.Time
		newer    bool
	}{
		{"cus_a", t0, true},
		{"cus_a", t0, true}, // same second: Stripe's resolution, so not older
		{"cus_a", t0.Add(time.Minute), true},
		{"cus_a", t0.Add(30 * time.Second), false},
		{"cus_a", t0.Add(time.Minute), true},
		{"cus_unlinked", t0.Add(-time.Hour), true}, // no record, nothing to order against
		{"cus_unlinked", t0.Add(-2 * time.Hour), true},
	}
	for i, st := range steps {
		newer, err := s.AdvanceSubscriptionClock(ctx, st.customer, st.at)
		if err != nil || newer != st.newer {
			t.Fatalf("step %d: AdvanceSubscriptionClock(%s, %v) = %v, %v; want %v", i, st.customer, st.at, newer, err, st.newer)
		}
	}
	// The clock lives beside the index; the link still resolves.
	if byCus, err := s.TenantByStripeCustomer(ctx, "cus_a"); err != nil || byCus.ID != a.ID {
		t.Fatalf("TenantByStripeCustomer after clock updates = %s, %v", byCus.ID, err)
	}
}
