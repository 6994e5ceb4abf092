package store

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aibud/aibud/tenants"
	"github.com/dgraph-io/badger/v4"
	"github.com/google/go-cmp/cmp"
)

var _ tenants.HookStore = (*Store)(nil)

func mustEndpoint(tb testing.TB, s *Store, tid string) tenants.Endpoint {
	tb.Helper()
	ep := tenants.Endpoint{ID: NewID(), URL: "https://crm.example.com/hook", Secret: "whsec_x",
		Events: []string{tenants.HookPollVoted}, CreatedAt: t0}
	if err := s.AddEndpoint(context.Background(), tid, ep, tenants.MaxHookEndpoints); err != nil {
		tb.Fatal(err)
	}
	return ep
}

func TestHookEndpoints(t *testing.T) {
	s := mustOpen(t, 4)
	ctx := context.Background()
	tid, other := mustTenant(t, s, 0), mustTenant(t, s, 0)
	a, b := mustEndpoint(t, s, tid), mustEndpoint(t, s, tid)

	got, err := s.Endpoints(ctx, tid)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]tenants.Endpoint{a, b}, got); diff != "" {
		t.Fatalf("endpoints (-want +got):\n%s", diff)
	}
	if list, _ := s.Endpoints(ctx, other); len(list) != 0 {
		t.Fatalf("another tenant sees %d endpoints", len(list))
	}
	if _, err := s.Endpoint(ctx, other, a.ID); tenants.ErrorCode(err) != tenants.ENOTFOUND {
		t.Fatalf("endpoint of another tenant: %v", err)
	}
	up, err := s.UpdateEndpoint(ctx, tid, a.ID, func(ep *tenants.Endpoint) error { ep.Disabled = true; return nil })
	if err != nil || !up.Disabled {
		t.Fatalf("update = %+v, %v", up, err)
	}
	if got, _ := s.Endpoint(ctx, tid, a.ID); !got.Disabled {
		t.Fatal("disabled flag not stored")
	}
	if err := s.DeleteEndpoint(ctx, tid, a.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Endpoint(ctx, tid, a.ID); tenants.ErrorCode(err) != tenants.ENOTFOUND {
		t.Fatalf("deleted endpoint: %v", err)
	}
	if _, err := s.UpdateEndpoint(ctx, tid, a.ID, func(*tenants.Endpoint) error { return nil }); tenants.ErrorCode(err) != tenants.ENOTFOUND {
		t.Fatalf("update deleted endpoint: %v", err)
	}
}

// TestHookEndpointLimit: concurrent creations never pass the limit.
func TestHookEndpointLimit(t *testing.T) {
	s := mustOpen(t, 4)
	tid := mustTenant(t, s, 0)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			errs <- s.AddEndpoint(context.Background(), tid, tenants.Endpoint{ID: NewID(), URL: "https://x.example"}, 3)
		})
	}
	wg.Wait()
	close(errs)
	ok, conflicts := 0, 0
	for err := range errs {
		switch tenants.ErrorCode(err) {
		case "":
			ok++
		case tenants.ECONFLICT:
			conflicts++
		default:
			t.Fatal(err)
		}
	}
	list, _ := s.Endpoints(context.Background(), tid)
	if ok != 3 || conflicts != 5 || len(list) != 3 {
		t.Fatalf("ok %d, refused %d, stored %d; want 3, 5, 3", ok, conflicts, len(list))
	}
}

func TestHookDeliveries(t *testing.T) {
	s := mustOpen(t, 4)
	ctx := context.Background()
	tid := mustTenant(t, s, 0)
	a, b := mustEndpoint(t, s, tid), mustEndpoint(t, s, tid)
	var all []tenants.Delivery
	for i := range 5 {
		ep := a
		if i%2 == 1 {
			ep = b
		}
		d := tenants.Delivery{ID: NewID(), EndpointID: ep.ID, EventID: fmt.Sprint("evt_", i), Event: tenants.HookPollVoted,
			Body: json.RawMessage(`{"n":` + fmt.Sprint(i) + `}`), Status: tenants.DeliveryPending, CreatedAt: t0.Add(time.Duration(i) * time.Second)}
		all = append(all, d)
		if err := s.PutDeliveries(ctx, tid, []tenants.Delivery{d}); err != nil {
			t.Fatal(err)
		}
	}
	newest := slices.Clone(all)
	slices.Reverse(newest)
	got, err := s.Deliveries(ctx, tid, "", 10)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(newest, got); diff != "" {
		t.Fatalf("all deliveries, newest first (-want +got):\n%s", diff)
	}
	got, _ = s.Deliveries(ctx, tid, "", 2)
	if len(got) != 2 || got[0].ID != all[4].ID {
		t.Fatalf("limit 2 = %v", got)
	}
	got, _ = s.Deliveries(ctx, tid, b.ID, 10)
	if diff := cmp.Diff([]tenants.Delivery{all[3], all[1]}, got); diff != "" {
		t.Fatalf("endpoint b's deliveries (-want +got):\n%s", diff)
	}
	if got, _ := s.Deliveries(ctx, tid, "nope", 10); len(got) != 0 {
		t.Fatalf("unknown endpoint's deliveries = %v", got)
	}

	pending, _ := s.PendingDeliveries(ctx, tid)
	if len(pending) != 5 {
		t.Fatalf("pending = %v", pending)
	}
	// Delivered and failed deliveries leave the pending index.
	for i, st := range []tenants.DeliveryStatus{tenants.DeliveryDelivered, tenants.DeliveryFailed} {
		if _, err := s.UpdateDelivery(ctx, tid, all[i].ID, func(d *tenants.Delivery) error { d.Status, d.Attempts = st, 2; return nil }); err != nil {
			t.Fatal(err)
		}
	}
	pending, _ = s.PendingDeliveries(ctx, tid)
	if diff := cmp.Diff([]string{all[2].ID, all[3].ID, all[4].ID}, pending); diff != "" {
		t.Fatalf("pending after two finished (-want +got):\n%s", diff)
	}
	if d, _ := s.Delivery(ctx, tid, all[0].ID); d.Status != tenants.DeliveryDelivered || d.Attempts != 2 || string(d.Body) != `{"n":0}` {
		t.Fatalf("updated delivery = %+v", d)
	}
	if _, err := s.Delivery(ctx, tid, "missing"); tenants.ErrorCode(err) != tenants.ENOTFOUND {
		t.Fatalf("missing delivery: %v", err)
	}
	// The log expires: every delivery key carries a TTL.
	err = s.tenantView(ctx, tid, func(txn *badger.Txn) error {
		for _, key := range []string{keyHookDelivery + all[4].ID, keyHookPending + all[4].ID, keyHookByEP + a.ID + "/" + all[4].ID} {
			item, err := txn.Get([]byte(key))
			if err != nil {
				return fmt.Errorf("%s: %w", key, err)
			}
			if exp := time.Unix(int64(item.ExpiresAt()), 0); exp.Before(time.Now().Add(29*24*time.Hour)) || exp.After(time.Now().Add(31*24*time.Hour)) {
				t.Errorf("%s expires at %v, want in 30 days", key, exp)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
