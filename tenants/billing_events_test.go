package tenants_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/aibud/aibud/tenants"
)

// at is a Stripe event time: seconds after t0.
func at(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }

func checkoutPlan(id, cus, tid string, created int, plan tenants.PlanID, sub string) tenants.StripeEvent {
	return tenants.StripeEvent{ID: id, Type: tenants.StripeCheckoutCompleted, Created: at(created), CustomerID: cus, TenantID: tid,
		CheckoutSessionID: "cs_" + id, Mode: "subscription", Paid: true, Plan: plan, SubscriptionID: sub}
}

func checkoutPack(id, cus string, created int, pack tenants.PackID, paid bool) tenants.StripeEvent {
	return tenants.StripeEvent{ID: id, Type: tenants.StripeCheckoutCompleted, Created: at(created), CustomerID: cus,
		CheckoutSessionID: "cs_" + id, Mode: "payment", Paid: paid, Pack: pack}
}

func invoicePaid(id, cus string, created int, invoice, price, sub string, periodEnd time.Time) tenants.StripeEvent {
	return tenants.StripeEvent{ID: id, Type: tenants.StripeInvoicePaid, Created: at(created), CustomerID: cus, SubscriptionID: sub, InvoiceID: invoice,
		Lines: []tenants.StripeInvoiceLine{{PriceID: "price_pro", Proration: true}, {PriceID: price, PeriodEnd: periodEnd}}}
}

func subEvent(id, typ, cus string, created int, sub, status, price string, cancelAtEnd bool, periodEnd time.Time) tenants.StripeEvent {
	return tenants.StripeEvent{ID: id, Type: typ, Created: at(created), CustomerID: cus, SubscriptionID: sub, Status: status,
		PriceID: price, CancelAtPeriodEnd: cancelAtEnd, PeriodEnd: periodEnd}
}

// TestBillingEventStory follows one tenant through a subscription's life,
// with redeliveries and late events on the way.
func TestBillingEventStory(t *testing.T) {
	e := newBillingEnv(t)
	tn, cus := e.linked(t)
	month1, month2 := t0.AddDate(0, 1, 0), t0.AddDate(0, 2, 0)
	steps := []struct {
		name    string
		ev      tenants.StripeEvent
		outcome tenants.WebhookOutcome
		plan    tenants.PlanID
		status  tenants.BillingStatus
		balance int64
	}{
		{"subscribe to growth", checkoutPlan("evt_1", cus, tn.ID, 10, tenants.PlanGrowth, "sub_1"), tenants.OutcomeApplied, tenants.PlanGrowth, tenants.BillingOK, 400},
		{"first month's credits", invoicePaid("evt_2", cus, 11, "in_1", "price_growth", "sub_1", month1), tenants.OutcomeApplied, tenants.PlanGrowth, tenants.BillingOK, 2400},
		{"same event again", invoicePaid("evt_2", cus, 11, "in_1", "price_growth", "sub_1", month1), tenants.OutcomeDuplicate, tenants.PlanGrowth, tenants.BillingOK, 2400},
		{"same invoice, new event id", invoicePaid("evt_2b", cus, 11, "in_1", "price_growth", "sub_1", month1), tenants.OutcomeApplied, tenants.PlanGrowth, tenants.BillingOK, 2400},
		{"pack bought", checkoutPack("evt_3", cus, 20, tenants.Pack1000, true), tenants.OutcomeApplied, tenants.PlanGrowth, tenants.BillingOK, 3400},
		{"pack not paid yet", checkoutPack("evt_4", cus, 21, tenants.Pack5000, false), tenants.OutcomeIgnored, tenants.PlanGrowth, tenants.BillingOK, 3400},
		{"pack paid later", func() tenants.StripeEvent {
			ev := checkoutPack("evt_5", cus, 22, tenants.Pack5000, true)
			ev.Type, ev.CheckoutSessionID = tenants.StripeCheckoutAsyncSucceeded, "cs_evt_4"
			return ev
		}(), tenants.OutcomeApplied, tenants.PlanGrowth, tenants.BillingOK, 8400},
		{"next month at the rollover cap", invoicePaid("evt_6", cus, 30, "in_2", "price_growth", "sub_1", month2), tenants.OutcomeApplied, tenants.PlanGrowth, tenants.BillingOK, 8400},
		{"payment fails", tenants.StripeEvent{ID: "evt_7", Type: tenants.StripeInvoicePaymentFailed, Created: at(40), CustomerID: cus, SubscriptionID: "sub_1", InvoiceID: "in_3"},
			tenants.OutcomeApplied, tenants.PlanGrowth, tenants.BillingPastDue, 8400},
		{"upgraded to pro in the portal", subEvent("evt_8", tenants.StripeSubscriptionUpdated, cus, 50, "sub_1", "active", "price_pro", false, month2),
			tenants.OutcomeApplied, tenants.PlanPro, tenants.BillingOK, 8400},
		{"an older deletion arrives late", subEvent("evt_9", tenants.StripeSubscriptionDeleted, cus, 45, "sub_1", "canceled", "price_growth", false, month1),
			tenants.OutcomeIgnored, tenants.PlanPro, tenants.BillingOK, 8400},
		{"an older past-due update arrives late", subEvent("evt_10", tenants.StripeSubscriptionUpdated, cus, 49, "sub_1", "past_due", "price_growth", false, month1),
			tenants.OutcomeIgnored, tenants.PlanPro, tenants.BillingOK, 8400},
		{"someone else's subscription", subEvent("evt_11", tenants.StripeSubscriptionUpdated, cus, 55, "sub_other", "past_due", "price_growth", false, month1),
			tenants.OutcomeIgnored, tenants.PlanPro, tenants.BillingOK, 8400},
		{"cancel at period end", subEvent("evt_12", tenants.StripeSubscriptionUpdated, cus, 60, "sub_1", "active", "price_pro", true, month2),
			tenants.OutcomeApplied, tenants.PlanPro, tenants.BillingCanceled, 8400},
		{"deleted before the period ends: plan kept", subEvent("evt_13", tenants.StripeSubscriptionDeleted, cus, 70, "sub_1", "canceled", "price_pro", false, month2),
			tenants.OutcomeApplied, tenants.PlanPro, tenants.BillingCanceled, 8400},
		{"unknown event type", tenants.StripeEvent{ID: "evt_14", Type: "charge.refunded", Created: at(80), CustomerID: cus}, tenants.OutcomeIgnored, tenants.PlanPro, tenants.BillingCanceled, 8400},
	}
	ctx := context.Background()
	for _, s := range steps {
		out, err := e.b.ApplyEvent(ctx, s.ev)
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		got, bal := e.state(t, tn.ID)
		if out != s.outcome || got.Plan != s.plan || got.BillingStatus != s.status || bal != s.balance {
			t.Fatalf("%s: outcome %s, plan %s, status %q, balance %d; want %s, %s, %q, %d",
				s.name, out, got.Plan, got.BillingStatus, bal, s.outcome, s.plan, s.status, s.balance)
		}
	}
	got, _ := e.state(t, tn.ID)
	if got.StripeSubscriptionID != "" || !got.PeriodEnd.Equal(month2) {
		t.Fatalf("after deletion: subscription %q, period end %v; want none, %v", got.StripeSubscriptionID, got.PeriodEnd, month2)
	}
	assertLedger(t, e, tn.ID, map[string]int64{"in_1": 2000, "cs_evt_3": 1000, "cs_evt_4": 5000})

	// The paid period ends: the page's summary moves the tenant to Starter.
	e.clock.Set(month2.Add(time.Second))
	s, err := e.b.Summary(ctx, got)
	if err != nil || s.Plan.ID != tenants.PlanStarter || s.CanceledPlan {
		t.Fatalf("summary after the period = %+v, %v", s, err)
	}
	if got, _ := e.state(t, tn.ID); got.Plan != tenants.PlanStarter || got.BillingStatus != tenants.BillingCanceled {
		t.Fatalf("stored after the period: %s %q", got.Plan, got.BillingStatus)
	}
}

// assertLedger checks the billing grants by ref: each one exactly once.
func assertLedger(t *testing.T, e *billingEnv, tid string, want map[string]int64) {
	t.Helper()
	page, err := e.st.Ledger(context.Background(), tid, "", 200)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, le := range page.Entries {
		if d, ok := want[le.Ref]; ok {
			seen[le.Ref]++
			if le.Delta != d {
				t.Errorf("grant %s = %d, want %d", le.Ref, le.Delta, d)
			}
		}
	}
	for ref := range want {
		if seen[ref] != 1 {
			t.Errorf("grant %s appears %d times, want once", ref, seen[ref])
		}
	}
}

// TestInvoiceBeforeCheckout: Stripe does not promise order. The invoice of a
// new subscription may come first; the checkout event then changes nothing.
func TestInvoiceBeforeCheckout(t *testing.T) {
	e := newBillingEnv(t)
	tn, cus := e.linked(t)
	ctx := context.Background()
	if out, err := e.b.ApplyEvent(ctx, invoicePaid("evt_i", cus, 11, "in_1", "price_pro", "sub_1", t0.AddDate(0, 1, 0))); err != nil || out != tenants.OutcomeApplied {
		t.Fatalf("invoice first: %s, %v", out, err)
	}
	for _, ev := range []tenants.StripeEvent{
		subEvent("evt_s", tenants.StripeSubscriptionCreated, cus, 10, "sub_1", "incomplete", "price_pro", false, time.Time{}),
		checkoutPlan("evt_c", cus, tn.ID, 10, tenants.PlanPro, "sub_1"),
	} {
		if out, err := e.b.ApplyEvent(ctx, ev); err != nil || out != tenants.OutcomeIgnored {
			t.Fatalf("%s after the invoice: %s, %v", ev.Type, out, err)
		}
	}
	got, bal := e.state(t, tn.ID)
	if got.Plan != tenants.PlanPro || got.StripeSubscriptionID != "sub_1" || bal != 400+10000 || !got.PeriodEnd.Equal(t0.AddDate(0, 1, 0)) {
		t.Fatalf("tenant %+v, balance %d", got, bal)
	}
}

// TestEventFindsTenantByMetadata: a customer Aibud did not create (no index
// yet) is found through the tenant id the object carries, then linked.
func TestEventFindsTenantByMetadata(t *testing.T) {
	e := newBillingEnv(t)
	tn := e.mustTenant(t)
	other, otherCus := e.linked(t)
	ctx := context.Background()
	ev := checkoutPack("evt_m", "cus_new", 5, tenants.Pack1000, true)
	ev.TenantID = tn.ID
	if out, err := e.b.ApplyEvent(ctx, ev); err != nil || out != tenants.OutcomeApplied {
		t.Fatalf("by metadata: %s, %v", out, err)
	}
	if got, bal := e.state(t, tn.ID); got.StripeCustomerID != "cus_new" || bal != 1400 {
		t.Fatalf("tenant %+v balance %d", got, bal)
	}
	// An event whose customer and metadata disagree is not applied.
	bad := checkoutPack("evt_x", otherCus, 6, tenants.Pack5000, true)
	bad.TenantID = tn.ID
	if out, err := e.b.ApplyEvent(ctx, bad); err != nil || out != tenants.OutcomeIgnored {
		t.Fatalf("conflicting tenant: %s, %v", out, err)
	}
	// Nor one nobody can be found for; it stays unmarked so a resend can apply it.
	lost := checkoutPack("evt_lost", "cus_unknown", 7, tenants.Pack5000, true)
	if out, err := e.b.ApplyEvent(ctx, lost); err != nil || out != tenants.OutcomeIgnored {
		t.Fatalf("unknown customer: %s, %v", out, err)
	}
	if done, _ := e.st.Processed(ctx, "evt_lost"); done {
		t.Fatal("an event for no tenant was marked processed")
	}
	if _, bal := e.state(t, other.ID); bal != 400 {
		t.Fatalf("other tenant's balance = %d", bal)
	}
}

// TestUnpaidSubscriptionEndsNow: deleted after failed payments, the plan
// does not run to the end of a period nobody paid for.
func TestUnpaidSubscriptionEndsNow(t *testing.T) {
	e := newBillingEnv(t)
	tn, cus := e.linked(t)
	ctx := context.Background()
	for _, ev := range []tenants.StripeEvent{
		checkoutPlan("evt_1", cus, tn.ID, 1, tenants.PlanGrowth, "sub_1"),
		subEvent("evt_2", tenants.StripeSubscriptionUpdated, cus, 2, "sub_1", "past_due", "price_growth", false, t0.AddDate(0, 1, 0)),
		subEvent("evt_3", tenants.StripeSubscriptionDeleted, cus, 3, "sub_1", "canceled", "price_growth", false, t0.AddDate(0, 1, 0)),
	} {
		if _, err := e.b.ApplyEvent(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	if got, _ := e.state(t, tn.ID); got.Plan != tenants.PlanStarter || got.BillingStatus != tenants.BillingCanceled {
		t.Fatalf("after an unpaid end: %s %q", got.Plan, got.BillingStatus)
	}
}

// TestConcurrentRedeliveries: the same event delivered to several handlers
// at once grants once.
func TestConcurrentRedeliveries(t *testing.T) {
	e := newBillingEnv(t)
	tn, cus := e.linked(t)
	ev := invoicePaid("evt_c", cus, 1, "in_c", "price_growth", "sub_1", t0.AddDate(0, 1, 0))
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := e.b.ApplyEvent(context.Background(), ev); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if _, bal := e.state(t, tn.ID); bal != 2400 {
		t.Fatalf("balance = %d, want 2400 (one grant)", bal)
	}
}
