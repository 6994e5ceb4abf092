package tenants_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aibud/aibud/queue"
	"github.com/aibud/aibud/tenants"
)

// emitOne creates an endpoint on the fixture's receiver and emits one event
// to it, returning the endpoint and the delivery id.
func emitOne(t *testing.T, f *hooksFixture) (tenants.Endpoint, string) {
	t.Helper()
	ctx := context.Background()
	ep, err := f.hooks.Create(ctx, f.tenant, f.url, []string{tenants.HookCampaignCompleted})
	if err != nil {
		t.Fatal(err)
	}
	f.queue.ids = nil
	if err := f.hooks.Emit(ctx, f.tenant, tenants.HookCampaignCompleted, tenants.CompletedData(tenants.Poll{ID: "p1"})); err != nil {
		t.Fatal(err)
	}
	if len(f.queue.ids) != 1 {
		t.Fatalf("queued %v", f.queue.ids)
	}
	return ep, f.queue.ids[0]
}

// TestHookRetryRecorded: a 500 is recorded and answered with the backoff
// for the queue; the next 2xx delivers.
func TestHookRetryRecorded(t *testing.T) {
	f := newHooksFixture(t)
	f.hooks.Backoff = func(n int) time.Duration { return time.Duration(n) * time.Minute }
	ctx := context.Background()
	_, id := emitOne(t, f)
	f.status = 500
	for n := 1; n <= 2; n++ {
		err := f.hooks.Deliver(ctx, f.tenant, id)
		r, ok := tenants.IsRetryLater(err)
		if !ok || r.After != time.Duration(n)*time.Minute {
			t.Fatalf("attempt %d: err = %v, want retry after %d min", n, err, n)
		}
		d, _ := f.hooks.Store.Delivery(ctx, f.tenant, id)
		if d.Status != tenants.DeliveryPending || d.Attempts != n || d.LastCode != 500 || d.LastError != "the endpoint answered 500" || d.NextAttemptAt.IsZero() {
			t.Fatalf("after attempt %d: %+v", n, d)
		}
	}
	f.status = 202
	if err := f.hooks.Deliver(ctx, f.tenant, id); err != nil {
		t.Fatal(err)
	}
	d, _ := f.hooks.Store.Delivery(ctx, f.tenant, id)
	if d.Status != tenants.DeliveryDelivered || d.Attempts != 3 || d.LastCode != 202 || d.LastError != "" || !d.NextAttemptAt.IsZero() {
		t.Fatalf("delivered = %+v", d)
	}
}

// TestHookRefusedAtSend: an endpoint saved while private destinations were
// allowed is refused at send time once they are not — by the domain's
// lookup, and by the sender's dialer when a name resolves to a private
// address only at connect time.
func TestHookRefusedAtSend(t *testing.T) {
	ctx := context.Background()
	t.Run("checked before sending", func(t *testing.T) {
		f := newHooksFixture(t)
		_, id := emitOne(t, f)
		f.hooks.AllowPrivate = false
		if err := f.hooks.Deliver(ctx, f.tenant, id); err != nil {
			t.Fatalf("a refused destination must not be retried: %v", err)
		}
		d, _ := f.hooks.Store.Delivery(ctx, f.tenant, id)
		if d.Status != tenants.DeliveryFailed || !strings.Contains(d.LastError, "loopback") || len(f.requests()) != 0 {
			t.Fatalf("delivery = %+v, receiver got %d", d, len(f.requests()))
		}
	})
	t.Run("refused on connect", func(t *testing.T) {
		f := newHooksFixture(t)
		f.hooks.Sender = queue.NewHookSender(false) // the domain's check passes (allowed), the dialer does not
		_, id := emitOne(t, f)
		if err := f.hooks.Deliver(ctx, f.tenant, id); err != nil {
			t.Fatal(err)
		}
		d, _ := f.hooks.Store.Delivery(ctx, f.tenant, id)
		if d.Status != tenants.DeliveryFailed || d.Attempts != 1 || !strings.Contains(d.LastError, "refused") || len(f.requests()) != 0 {
			t.Fatalf("delivery = %+v", d)
		}
	})
}

// TestHookReplay: only finished deliveries replay, as a new delivery with
// the same event id and body; gone or paused endpoints refuse.
func TestHookReplay(t *testing.T) {
	f := newHooksFixture(t)
	ctx := context.Background()
	ep, id := emitOne(t, f)
	if _, err := f.hooks.Replay(ctx, f.tenant, id); tenants.ErrorCode(err) != tenants.ECONFLICT {
		t.Fatalf("replay of a pending delivery: %v", err)
	}
	if err := f.hooks.Deliver(ctx, f.tenant, id); err != nil {
		t.Fatal(err)
	}
	orig, _ := f.hooks.Store.Delivery(ctx, f.tenant, id)
	nd, err := f.hooks.Replay(ctx, f.tenant, id)
	if err != nil {
		t.Fatal(err)
	}
	if nd.ID == id || nd.ReplayOf != id || nd.EventID != orig.EventID || string(nd.Body) != string(orig.Body) || nd.Status != tenants.DeliveryPending {
		t.Fatalf("replay = %+v of %+v", nd, orig)
	}
	if f.queue.ids[len(f.queue.ids)-1] != nd.ID {
		t.Fatalf("replay not queued: %v", f.queue.ids)
	}
	if err := f.hooks.Deliver(ctx, f.tenant, nd.ID); err != nil {
		t.Fatal(err)
	}
	if reqs := f.requests(); len(reqs) != 2 || string(reqs[0].body) != string(reqs[1].body) {
		t.Fatalf("receiver got %d requests", len(reqs))
	}
	if _, err := f.hooks.Replay(ctx, f.tenant, "nope"); tenants.ErrorCode(err) != tenants.ENOTFOUND {
		t.Fatalf("replay unknown: %v", err)
	}
	if _, err := f.hooks.SetDisabled(ctx, f.tenant, ep.ID, true); err != nil {
		t.Fatal(err)
	}
	if _, err := f.hooks.Replay(ctx, f.tenant, id); tenants.ErrorCode(err) != tenants.ECONFLICT {
		t.Fatalf("replay to a paused endpoint: %v", err)
	}
	if err := f.hooks.Delete(ctx, f.tenant, ep.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.hooks.Replay(ctx, f.tenant, id); tenants.ErrorCode(err) != tenants.ECONFLICT {
		t.Fatalf("replay to a deleted endpoint: %v", err)
	}
	if _, err := f.hooks.Deliveries(ctx, f.tenant, ep.ID, 10); tenants.ErrorCode(err) != tenants.ENOTFOUND {
		t.Fatalf("deliveries of a deleted endpoint: %v", err)
	}
}

// TestHookQueueDown: a delivery that could not be queued stays pending and
// Requeue queues it; one whose endpoint went away fails on its attempt.
func TestHookQueueDown(t *testing.T) {
	f := newHooksFixture(t)
	ctx := context.Background()
	ep, err := f.hooks.Create(ctx, f.tenant, f.url, tenants.HookEvents)
	if err != nil {
		t.Fatal(err)
	}
	f.queue.err = errors.New("redis down")
	if err := f.hooks.Emit(ctx, f.tenant, tenants.HookContactOptedOut, tenants.ContactOptedOutData{Phone: "5511"}); err != nil {
		t.Fatalf("Emit must not fail when the queue does: %v", err)
	}
	f.queue.err = nil
	n, err := f.hooks.Requeue(ctx, f.tenant)
	if err != nil || n != 1 || len(f.queue.ids) != 1 {
		t.Fatalf("requeue = %d, %v; queued %v", n, err, f.queue.ids)
	}
	if err := f.hooks.Delete(ctx, f.tenant, ep.ID); err != nil {
		t.Fatal(err)
	}
	if err := f.hooks.Deliver(ctx, f.tenant, f.queue.ids[0]); err != nil {
		t.Fatal(err)
	}
	d, _ := f.hooks.Store.Delivery(ctx, f.tenant, f.queue.ids[0])
	if d.Status != tenants.DeliveryFailed || d.LastError != "the endpoint was deleted" || len(f.requests()) != 0 {
		t.Fatalf("delivery to a deleted endpoint = %+v", d)
	}
	if n, _ := f.hooks.Requeue(ctx, f.tenant); n != 0 {
		t.Fatalf("requeued %d finished deliveries", n)
	}
}

func TestVerifyHook(t *testing.T) {
	now := time.Unix(1_770_000_000, 0)
	body := []byte(`{"event":"poll.voted"}`)
	sig := tenants.SignHook("whsec_k", now, body)
	if sig != "t=1770000000,v1="+sig[len("t=1770000000,v1="):] || len(sig) != len("t=1770000000,v1=")+64 {
		t.Fatalf("signature format: %s", sig)
	}
	tests := []struct {
		name, secret, header string
		body                 []byte
		at                   time.Time
		ok                   bool
	}{
		{"valid", "whsec_k", sig, body, now.Add(time.Minute), true},
		{"another v1 first", "whsec_k", "t=1770000000,v1=00ff," + sig[len("t=1770000000,"):], body, now, true},
		{"body changed", "whsec_k", sig, []byte(`{"event":"poll.voted "}`), now, false},
		{"wrong secret", "whsec_j", sig, body, now, false},
		{"too old", "whsec_k", sig, body, now.Add(6 * time.Minute), false},
		{"timestamp changed", "whsec_k", strings.Replace(sig, "t=1770000000", "t=1770000001", 1), body, now, false},
		{"no v1", "whsec_k", "t=1770000000", body, now, false},
		{"garbage", "whsec_k", "hello", body, now, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tenants.VerifyHook(tt.secret, tt.header, tt.body, tt.at, 5*time.Minute)
			if (err == nil) != tt.ok {
				t.Fatalf("VerifyHook = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

func TestCrossedLowBalance(t *testing.T) {
	for _, tt := range []struct {
		before, after int64
		want          bool
	}{{60, 49, true}, {50, 49, true}, {50, 50, false}, {49, 48, false}, {400, 0, true}, {10, 60, false}} {
		if got := tenants.CrossedLowBalance(tt.before, tt.after); got != tt.want {
			t.Errorf("CrossedLowBalance(%d, %d) = %v", tt.before, tt.after, got)
		}
	}
}
