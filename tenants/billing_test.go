package tenants_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/aibud/aibud/store"
	"github.com/aibud/aibud/tenants"
)

// The billing use case over a real store (Badger in a temp dir); only
// Stripe itself is replaced, by a fake that records what it was asked.

type fakePayments struct {
	mu        sync.Mutex
	customers int
	checkouts []tenants.CheckoutRequest
	portals   []tenants.PortalRequest
	canceled  []string
}

func (f *fakePayments) CreateCustomer(ctx context.Context, r tenants.CustomerRequest) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.customers++
	return fmt.Sprintf("cus_%s_%d", r.TenantID, f.customers), nil
}

func (f *fakePayments) CheckoutSession(ctx context.Context, r tenants.CheckoutRequest) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.checkouts = append(f.checkouts, r)
	return "https://checkout.stripe.test/" + r.PriceID, nil
}

func (f *fakePayments) PortalSession(ctx context.Context, r tenants.PortalRequest) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.portals = append(f.portals, r)
	return "https://billing.stripe.test/" + r.CustomerID, nil
}

func (f *fakePayments) CancelSubscription(ctx context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.canceled = append(f.canceled, id)
	return nil
}

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Set(t time.Time)     { c.mu.Lock(); c.now = t; c.mu.Unlock() }
func (c *clock) Add(d time.Duration) { c.Set(c.Now().Add(d)) }

var (
	t0     = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	prices = tenants.PriceCatalog{Growth: "price_growth", Pro: "price_pro", Pack1000: "price_p1", Pack5000: "price_p5"}
)

type billingEnv struct {
	b     *tenants.Billing
	st    *store.Store
	pay   *fakePayments
	clock *clock
}

func newBillingEnv(t *testing.T) *billingEnv {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	c := &clock{now: t0}
	st, err := store.Open(store.Options{Dir: t.TempDir(), MaxOpenTenants: 4, Logger: logger, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	pay := &fakePayments{}
	b := &tenants.Billing{Catalog: st, Credits: st, Payments: pay, Events: st, Prices: prices, Now: c.Now, Logger: logger}
	return &billingEnv{b: b, st: st, pay: pay, clock: c}
}

// mustTenant makes a Starter tenant with the sign-up credits.
func (e *billingEnv) mustTenant(t *testing.T) tenants.Tenant {
	t.Helper()
	ctx := context.Background()
	tn := tenants.Tenant{ID: store.NewID(), Name: "Acme", Plan: tenants.PlanStarter, Status: tenants.TenantActive, CreatedAt: t0}
	if err := e.st.CreateTenantDB(ctx, tn.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.st.PutTenant(ctx, tn); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.Grant(ctx, tn.ID, tenants.StarterCredits, tenants.ReasonSignup, "signup:"+tn.ID); err != nil {
		t.Fatal(err)
	}
	return tn
}

// linked makes a tenant whose Stripe customer exists, as after a checkout.
func (e *billingEnv) linked(t *testing.T) (tenants.Tenant, string) {
	t.Helper()
	tn := e.mustTenant(t)
	cus := "cus_" + tn.ID
	tn, err := e.st.SetStripeCustomer(context.Background(), tn.ID, cus)
	if err != nil {
		t.Fatal(err)
	}
	return tn, cus
}

func (e *billingEnv) state(t *testing.T, id string) (tenants.Tenant, int64) {
	t.Helper()
	tn, err := e.st.Tenant(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	bal, err := e.st.Balance(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return tn, bal
}

func TestMonthlyGrantRollover(t *testing.T) {
	tests := []struct{ monthly, balance, want int64 }{
		{2000, 0, 2000},
		{2000, 400, 2000},
		{2000, 2000, 2000}, // a full unused month rolls over: 4,000 after the grant
		{2000, 2500, 1500}, // capped at twice the allowance
		{2000, 3999, 1},
		{2000, 4000, 0},
		{2000, 9000, 0}, // never negative
		{10000, 12000, 8000},
		{0, 10, 0}, // Starter has no monthly credits
	}
	for _, tt := range tests {
		if got := tenants.MonthlyGrant(tt.monthly, tt.balance); got != tt.want {
			t.Errorf("MonthlyGrant(%d, %d) = %d, want %d", tt.monthly, tt.balance, got, tt.want)
		}
	}
}

func TestCheckoutValidation(t *testing.T) {
	e := newBillingEnv(t)
	tn := e.mustTenant(t)
	acct := tenants.Account{Tenant: tn, User: tenants.User{Email: "o@acme.test"}}
	unpriced := &tenants.Billing{Catalog: e.st, Credits: e.st, Payments: e.pay, Events: e.st, Prices: tenants.PriceCatalog{Growth: "price_growth"}, Now: e.clock.Now, Logger: e.b.Logger}
	off := &tenants.Billing{Catalog: e.st, Credits: e.st, Events: e.st, Prices: prices, Now: e.clock.Now, Logger: e.b.Logger}
	tests := []struct {
		name  string
		b     *tenants.Billing
		in    tenants.CheckoutInput
		code  string
		field string
	}{
		{"nothing chosen", e.b, tenants.CheckoutInput{}, tenants.EINVALID, "plan"},
		{"both chosen", e.b, tenants.CheckoutInput{Plan: tenants.PlanPro, Pack: tenants.Pack1000}, tenants.EINVALID, "plan"},
		{"starter is free", e.b, tenants.CheckoutInput{Plan: tenants.PlanStarter}, tenants.EINVALID, "plan"},
		{"unknown plan", e.b, tenants.CheckoutInput{Plan: "gold"}, tenants.EINVALID, "plan"},
		{"unknown pack", e.b, tenants.CheckoutInput{Pack: "3000"}, tenants.EINVALID, "pack"},
		{"not configured", off, tenants.CheckoutInput{Plan: tenants.PlanPro}, tenants.EUNAVAILABLE, ""},
		{"bad input first, even when not configured", off, tenants.CheckoutInput{Pack: "7"}, tenants.EINVALID, "pack"},
		{"no price for pack", unpriced, tenants.CheckoutInput{Pack: tenants.Pack5000}, tenants.EUNAVAILABLE, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.b.Checkout(context.Background(), acct, tt.in)
			if tenants.ErrorCode(err) != tt.code || tenants.ErrorField(err) != tt.field {
				t.Fatalf("err = %v; want %s on %q", err, tt.code, tt.field)
			}
		})
	}
	if e.pay.customers != 0 || len(e.pay.checkouts) != 0 {
		t.Fatalf("refused checkouts reached Stripe: %d customers, %d sessions", e.pay.customers, len(e.pay.checkouts))
	}
}

func TestCheckoutCreatesCustomerOnce(t *testing.T) {
	e := newBillingEnv(t)
	tn := e.mustTenant(t)
	acct := tenants.Account{Tenant: tn, User: tenants.User{Email: "o@acme.test"}}
	ctx := context.Background()
	in := tenants.CheckoutInput{Pack: tenants.Pack1000, SuccessURL: "https://app.test/ok", CancelURL: "https://app.test/no"}
	for range 2 {
		if u, err := e.b.Checkout(ctx, acct, in); err != nil || u != "https://checkout.stripe.test/price_p1" {
			t.Fatalf("Checkout = %q, %v", u, err)
		}
	}
	if _, err := e.b.Portal(ctx, acct, "https://app.test/billing"); err != nil {
		t.Fatal(err)
	}
	got, _ := e.state(t, tn.ID)
	if e.pay.customers != 1 || got.StripeCustomerID == "" {
		t.Fatalf("%d customers created, tenant customer %q; want one, saved", e.pay.customers, got.StripeCustomerID)
	}
	if byCus, err := e.st.TenantByStripeCustomer(ctx, got.StripeCustomerID); err != nil || byCus.ID != tn.ID {
		t.Fatalf("TenantByStripeCustomer = %v, %v", byCus.ID, err)
	}
	r := e.pay.checkouts[0]
	if r.TenantID != tn.ID || r.CustomerID != got.StripeCustomerID || r.Pack != tenants.Pack1000 || r.PriceID != "price_p1" || r.SuccessURL != in.SuccessURL {
		t.Fatalf("checkout request = %+v", r)
	}
	if p := e.pay.portals[0]; p.CustomerID != got.StripeCustomerID || p.SubscriptionID != "" {
		t.Fatalf("portal request = %+v", p)
	}

	// Once subscribed, a plan change goes to the portal, not a second subscription.
	if _, err := e.st.UpdateTenant(ctx, tn.ID, func(t *tenants.Tenant) error {
		t.Plan, t.StripeSubscriptionID = tenants.PlanGrowth, "sub_1"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	acct.Tenant, _ = e.state(t, tn.ID)
	if _, err := e.b.Checkout(ctx, acct, tenants.CheckoutInput{Plan: tenants.PlanGrowth}); tenants.ErrorCode(err) != tenants.ECONFLICT {
		t.Fatalf("checkout for the current plan: %v, want conflict", err)
	}
	if _, err := e.b.Checkout(ctx, acct, tenants.CheckoutInput{Plan: tenants.PlanPro}); err != nil {
		t.Fatal(err)
	}
	if len(e.pay.checkouts) != 2 || e.pay.portals[1].SubscriptionID != "sub_1" {
		t.Fatalf("upgrade while subscribed: %d sessions, portal %+v", len(e.pay.checkouts), e.pay.portals)
	}
}

func TestSetPlanByHand(t *testing.T) {
	e := newBillingEnv(t)
	tn := e.mustTenant(t)
	ctx := context.Background()
	if _, err := e.b.SetPlan(ctx, tn.ID, "gold", "deal"); tenants.ErrorField(err) != "plan" {
		t.Fatalf("unknown plan: %v", err)
	}
	if _, err := e.b.SetPlan(ctx, tn.ID, tenants.PlanPro, "  "); tenants.ErrorField(err) != "reason" {
		t.Fatalf("no reason: %v", err)
	}
	if _, err := e.b.SetPlan(ctx, "nope", tenants.PlanPro, "deal"); tenants.ErrorCode(err) != tenants.ENOTFOUND {
		t.Fatalf("unknown tenant: %v", err)
	}
	got, err := e.b.SetPlan(ctx, tn.ID, tenants.PlanPro, "annual contract paid by bank transfer")
	if err != nil || got.Plan != tenants.PlanPro {
		t.Fatalf("SetPlan = %+v, %v", got, err)
	}
	if stored, _ := e.state(t, tn.ID); stored.Plan != tenants.PlanPro {
		t.Fatalf("stored plan = %s", stored.Plan)
	}
	// Without Stripe, plans still change by hand and the summary says so.
	off := &tenants.Billing{Catalog: e.st, Credits: e.st, Events: e.st, Now: e.clock.Now, Logger: e.b.Logger}
	s, err := off.Summary(ctx, got)
	if err != nil || s.Configured || s.Plan.ID != tenants.PlanPro || s.PlanPriced[tenants.PlanGrowth] || s.Balance != 400 {
		t.Fatalf("summary = %+v, %v", s, err)
	}
	if err := off.CancelSubscription(ctx, tn.ID); tenants.ErrorCode(err) != tenants.EUNAVAILABLE {
		t.Fatalf("cancel without Stripe: %v", err)
	}
	if err := e.b.CancelSubscription(ctx, tn.ID); tenants.ErrorCode(err) != tenants.ECONFLICT {
		t.Fatalf("cancel without a subscription: %v", err)
	}
}

func TestLedgerFilters(t *testing.T) {
	e := newBillingEnv(t)
	tn := e.mustTenant(t)
	ctx := context.Background()
	for i := range 30 {
		ref := fmt.Sprintf("send-%02d", i)
		if _, err := e.st.Reserve(ctx, tn.ID, ref, 1); err != nil {
			t.Fatal(err)
		}
		if i%3 == 0 {
			if _, _, err := e.st.Refund(ctx, tn.ID, ref, ref+"-refund", 1); err != nil {
				t.Fatal(err)
			}
		}
		if i == 10 || i == 20 {
			if _, err := e.st.Grant(ctx, tn.ID, 1000, tenants.ReasonPurchase, fmt.Sprintf("cs_%d", i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := e.st.Grant(ctx, tn.ID, 2000, tenants.ReasonMonthly, "in_1"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		filter string
		reason string // every entry's reason, "" for mixed
		want   int
	}{
		{"all", "", 1 + 30 + 10 + 2 + 1},
		{"sends", tenants.ReasonReserve, 30},
		{"refunds", tenants.ReasonRefund, 10},
		{"purchases", tenants.ReasonPurchase, 2},
		{"grants", "", 2}, // sign-up and monthly
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			f, err := tenants.ParseLedgerFilter(tt.filter)
			if err != nil {
				t.Fatal(err)
			}
			seen := map[string]bool{}
			cursor, pages := "", 0
			for {
				page, err := e.b.Ledger(ctx, tn.ID, f, cursor, 7)
				if err != nil {
					t.Fatal(err)
				}
				if pages++; len(page.Entries) > 7 || pages > 20 {
					t.Fatalf("page %d has %d entries", pages, len(page.Entries))
				}
				for _, le := range page.Entries {
					if seen[le.ID] || (tt.reason != "" && le.Reason != tt.reason) {
						t.Fatalf("entry %+v repeated or outside the filter", le)
					}
					seen[le.ID] = true
				}
				if cursor = page.NextCursor; cursor == "" {
					break
				}
			}
			if len(seen) != tt.want {
				t.Fatalf("%d entries, want %d", len(seen), tt.want)
			}
		})
	}
	if _, err := tenants.ParseLedgerFilter("bogus"); tenants.ErrorField(err) != "reason" {
		t.Fatalf("bogus filter: %v", err)
	}
}
