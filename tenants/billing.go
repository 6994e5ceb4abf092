package tenants

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// PackID names a credit pack.
type PackID string

// The credit packs: one-off purchases on top of any plan.
const (
	Pack1000 PackID = "1000"
	Pack5000 PackID = "5000"
)

// Pack is a bundle of credits bought once through Stripe Checkout.
type Pack struct {
	ID      PackID
	Name    string
	Credits int64
}

var packs = []Pack{
	{ID: Pack1000, Name: "1,000 credits", Credits: 1000},
	{ID: Pack5000, Name: "5,000 credits", Credits: 5000},
}

// Packs returns the credit packs, smallest first.
func Packs() []Pack { return append([]Pack(nil), packs...) }

// LookupPack returns the pack with the given id.
func LookupPack(id PackID) (Pack, bool) {
	for _, p := range packs {
		if p.ID == id {
			return p, true
		}
	}
	return Pack{}, false
}

// Ledger reasons written by billing.
const (
	ReasonMonthly  = "monthly"  // a paid month's credits; ref = the Stripe invoice id
	ReasonPurchase = "purchase" // a credit pack; ref = the Stripe Checkout Session id
)

// LowBalance is the balance under which the billing page warns that
// campaigns will soon stop sending.
const LowBalance = 50

// MonthlyGrant is the rollover rule: unused monthly credits carry over, but a
// paid month never lifts the balance above twice the monthly allowance. The
// grant is min(monthly, 2×monthly − balance), and nothing when the balance is
// already at or above 2×monthly. The balance counts every credit the tenant
// holds, pack credits included.
func MonthlyGrant(monthly, balance int64) int64 {
	return max(0, min(monthly, 2*monthly-balance))
}

// PriceCatalog maps what is for sale to Stripe price ids. The operator sets
// them in the environment (AIBUD_STRIPE_PRICE_*); an empty id means "not on
// sale here".
type PriceCatalog struct {
	Growth   string // AIBUD_STRIPE_PRICE_GROWTH, a monthly recurring price
	Pro      string // AIBUD_STRIPE_PRICE_PRO, a monthly recurring price
	Pack1000 string // AIBUD_STRIPE_PRICE_PACK_1000, a one-time price
	Pack5000 string // AIBUD_STRIPE_PRICE_PACK_5000, a one-time price
}

// PlanPrice returns the Stripe price of a paid plan, "" when none is set.
func (p PriceCatalog) PlanPrice(id PlanID) string {
	switch id {
	case PlanGrowth:
		return p.Growth
	case PlanPro:
		return p.Pro
	}
	return ""
}

// PackPrice returns the Stripe price of a pack, "" when none is set.
func (p PriceCatalog) PackPrice(id PackID) string {
	switch id {
	case Pack1000:
		return p.Pack1000
	case Pack5000:
		return p.Pack5000
	}
	return ""
}

// PlanOfPrice returns the plan a Stripe price subscribes to.
func (p PriceCatalog) PlanOfPrice(price string) (PlanID, bool) {
	for _, id := range []PlanID{PlanGrowth, PlanPro} {
		if price != "" && p.PlanPrice(id) == price {
			return id, true
		}
	}
	return "", false
}

// Payments is the payment provider (Stripe): it creates customers and hands
// out the URLs of its hosted pages.
type Payments interface {
	CreateCustomer(ctx context.Context, r CustomerRequest) (customerID string, err error)
	CheckoutSession(ctx context.Context, r CheckoutRequest) (url string, err error)
	PortalSession(ctx context.Context, r PortalRequest) (url string, err error)
	// CancelSubscription ends a subscription at the end of its paid period.
	CancelSubscription(ctx context.Context, subscriptionID string) error
}

// CustomerRequest describes the tenant a provider customer is made for.
type CustomerRequest struct{ TenantID, Name, Email string }

// CheckoutRequest is one purchase: a plan (a subscription) or a pack (a
// one-off payment). Plan or Pack travels in the session's metadata so that
// the webhook knows what was bought.
type CheckoutRequest struct {
	TenantID, CustomerID, PriceID string
	Plan                          PlanID
	Pack                          PackID
	SuccessURL, CancelURL         string
}

// PortalRequest opens the provider's customer portal; with SubscriptionID
// set it opens straight at that subscription's plan change.
type PortalRequest struct{ CustomerID, ReturnURL, SubscriptionID string }

// StripeWebhooks verifies webhook deliveries and reduces them to events.
type StripeWebhooks interface {
	ParseWebhook(payload []byte, sigHeader string) (StripeEvent, error)
}

// StripeEventLog remembers which webhook events were applied and orders the
// subscription events of each customer.
type StripeEventLog interface {
	Processed(ctx context.Context, eventID string) (bool, error)
	// MarkProcessed records an applied event; first is false when it was
	// recorded already.
	MarkProcessed(ctx context.Context, eventID string) (first bool, err error)
	// AdvanceSubscriptionClock records at as the creation time of the newest
	// subscription event applied for a customer. It reports false, and
	// records nothing, when a later event was applied already.
	AdvanceSubscriptionClock(ctx context.Context, customerID string, at time.Time) (newer bool, err error)
}

// BillingCatalog is the part of the catalog billing reads and writes.
type BillingCatalog interface {
	Tenant(ctx context.Context, id string) (Tenant, error)
	UpdateTenant(ctx context.Context, id string, fn func(*Tenant) error) (Tenant, error)
	// SetStripeCustomer links a customer to a tenant, field and lookup index
	// together; ECONFLICT when either is already linked elsewhere.
	SetStripeCustomer(ctx context.Context, tenantID, customerID string) (Tenant, error)
	TenantByStripeCustomer(ctx context.Context, customerID string) (Tenant, error)
}

// Billing is the plans and payments use case: checkout, the customer
// portal, webhook events and the plans the operator sets by hand. Payments
// and Webhooks are nil when Stripe is not configured; everything else still
// works.
type Billing struct {
	Catalog  BillingCatalog
	Credits  Credits
	Payments Payments
	Webhooks StripeWebhooks
	Events   StripeEventLog
	Prices   PriceCatalog
	Now      func() time.Time
	Logger   *slog.Logger

	mu sync.Mutex // one webhook event at a time: ordering checks and updates do not interleave
}

// Configured reports whether payments can be taken.
func (b *Billing) Configured() bool { return b != nil && b.Payments != nil }

var errNotConfigured = Errorf(EUNAVAILABLE, "Billing is not configured on this server, so plans and credits cannot be bought here. Ask the operator to change your plan.")

// SetPlan changes a tenant's plan by hand (the operator's tool, and the way
// plans change when Stripe is not configured). A running Stripe
// subscription keeps setting the plan from its own events.
func (b *Billing) SetPlan(ctx context.Context, tenantID string, plan PlanID, reason string) (Tenant, error) {
	if _, ok := LookupPlan(plan); !ok {
		return Tenant{}, Invalid("plan", "Unknown plan %q.", plan)
	}
	if reason = strings.TrimSpace(reason); reason == "" || len(reason) > 200 {
		return Tenant{}, Invalid("reason", "Say in 1 to 200 characters why the plan changes.")
	}
	var from PlanID
	t, err := b.Catalog.UpdateTenant(ctx, tenantID, func(t *Tenant) error {
		from, t.Plan = t.Plan, plan
		if t.BillingStatus == BillingCanceled {
			t.BillingStatus = BillingOK // a plan set by hand is not ending
		}
		return nil
	})
	if err != nil {
		return Tenant{}, err
	}
	b.Logger.Info("plan set by hand", "tenant", tenantID, "from", from, "to", plan, "reason", reason)
	return t, nil
}

// CancelSubscription asks Stripe to end a tenant's subscription at the end
// of the paid period; the webhook events that follow change the tenant.
func (b *Billing) CancelSubscription(ctx context.Context, tenantID string) error {
	if !b.Configured() {
		return errNotConfigured
	}
	t, err := b.Catalog.Tenant(ctx, tenantID)
	if err != nil {
		return err
	}
	if t.StripeSubscriptionID == "" {
		return Errorf(ECONFLICT, "This tenant has no Stripe subscription.")
	}
	return b.Payments.CancelSubscription(ctx, t.StripeSubscriptionID)
}

// CheckoutInput is what the tenant buys: a plan or a pack, and where Stripe
// sends the browser back to.
type CheckoutInput struct {
	Plan                  PlanID
	Pack                  PackID
	SuccessURL, CancelURL string
}

// Checkout starts a purchase and returns the URL of Stripe's page for it.
// A tenant who already has a subscription changes plan in the portal
// instead, so that nobody ends up paying for two.
func (b *Billing) Checkout(ctx context.Context, acct Account, in CheckoutInput) (string, error) {
	req, err := b.checkoutRequest(acct.Tenant, in)
	if err != nil {
		return "", err
	}
	t, err := b.customer(ctx, acct)
	if err != nil {
		return "", err
	}
	if req.Plan != "" && t.StripeSubscriptionID != "" {
		return b.Payments.PortalSession(ctx, PortalRequest{CustomerID: t.StripeCustomerID, ReturnURL: in.CancelURL, SubscriptionID: t.StripeSubscriptionID})
	}
	req.TenantID, req.CustomerID = t.ID, t.StripeCustomerID
	url, err := b.Payments.CheckoutSession(ctx, req)
	if err != nil {
		return "", err
	}
	b.Logger.Info("checkout started", "tenant", t.ID, "plan", req.Plan, "pack", req.Pack)
	return url, nil
}

// checkoutRequest checks the input before anything reaches Stripe.
func (b *Billing) checkoutRequest(t Tenant, in CheckoutInput) (CheckoutRequest, error) {
	var req CheckoutRequest
	switch {
	case in.Plan != "" && in.Pack != "":
		return req, Invalid("plan", "Choose a plan or a credit pack, not both.")
	case in.Plan != "":
		if p, ok := LookupPlan(in.Plan); !ok || p.ID == PlanStarter {
			return req, Invalid("plan", "Plan must be growth or pro.")
		}
		if in.Plan == t.Plan && t.BillingStatus != BillingCanceled {
			return req, Errorf(ECONFLICT, "You are already on this plan.")
		}
		req.Plan, req.PriceID = in.Plan, b.Prices.PlanPrice(in.Plan)
	case in.Pack != "":
		if _, ok := LookupPack(in.Pack); !ok {
			return req, Invalid("pack", "Pack must be 1000 or 5000.")
		}
		req.Pack, req.PriceID = in.Pack, b.Prices.PackPrice(in.Pack)
	default:
		return req, Invalid("plan", "Choose a plan or a credit pack.")
	}
	if !b.Configured() {
		return req, errNotConfigured
	}
	if req.PriceID == "" {
		return req, Errorf(EUNAVAILABLE, "This is not on sale yet: the operator has not set its Stripe price.")
	}
	req.SuccessURL, req.CancelURL = in.SuccessURL, in.CancelURL
	return req, nil
}

// Portal returns the URL of Stripe's customer portal: cards, invoices,
// plan changes and cancellation.
func (b *Billing) Portal(ctx context.Context, acct Account, returnURL string) (string, error) {
	if !b.Configured() {
		return "", errNotConfigured
	}
	t, err := b.customer(ctx, acct)
	if err != nil {
		return "", err
	}
	return b.Payments.PortalSession(ctx, PortalRequest{CustomerID: t.StripeCustomerID, ReturnURL: returnURL})
}

// customer returns the tenant with its Stripe customer, creating the
// customer on first need.
func (b *Billing) customer(ctx context.Context, acct Account) (Tenant, error) {
	t, err := b.Catalog.Tenant(ctx, acct.Tenant.ID)
	if err != nil || t.StripeCustomerID != "" {
		return t, err
	}
	id, err := b.Payments.CreateCustomer(ctx, CustomerRequest{TenantID: t.ID, Name: t.Name, Email: acct.User.Email})
	if err != nil {
		return Tenant{}, err
	}
	linked, err := b.Catalog.SetStripeCustomer(ctx, t.ID, id)
	if ErrorCode(err) == ECONFLICT { // another request linked one first
		b.Logger.Warn("stripe customer created twice", "tenant", t.ID, "unused", id)
		return b.Catalog.Tenant(ctx, t.ID)
	}
	if err == nil {
		b.Logger.Info("stripe customer created", "tenant", t.ID, "customer", id)
	}
	return linked, err
}
