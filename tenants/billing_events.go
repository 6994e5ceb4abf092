package tenants

import (
	"context"
	"fmt"
	"time"
)

// The Stripe webhook events billing applies; any other type is ignored.
const (
	StripeCheckoutCompleted      = "checkout.session.completed"
	StripeCheckoutAsyncSucceeded = "checkout.session.async_payment_succeeded"
	StripeInvoicePaid            = "invoice.paid"
	StripeInvoicePaymentFailed   = "invoice.payment_failed"
	StripeSubscriptionCreated    = "customer.subscription.created"
	StripeSubscriptionUpdated    = "customer.subscription.updated"
	StripeSubscriptionDeleted    = "customer.subscription.deleted"
)

// StripeEvent is a verified Stripe webhook event reduced to what billing
// reads; package billing builds it from Stripe's JSON.
type StripeEvent struct {
	ID      string
	Type    string
	Created time.Time
	// TenantID is the tenant the object names itself: a Checkout Session's
	// client_reference_id or metadata, or the subscription's metadata.
	TenantID       string
	CustomerID     string
	SubscriptionID string

	// Checkout Sessions.
	CheckoutSessionID string
	Mode              string // "subscription" (a plan) or "payment" (a pack)
	Paid              bool   // the money is in (payment_status paid or no_payment_required)
	Plan              PlanID // from the session's metadata
	Pack              PackID

	// Subscriptions.
	Status            string // Stripe's subscription status: active, past_due, canceled…
	PriceID           string // the price of the subscription's first item
	CancelAtPeriodEnd bool
	PeriodEnd         time.Time // current_period_end

	// Invoices.
	InvoiceID string
	Lines     []StripeInvoiceLine
}

// StripeInvoiceLine is one line of an invoice.
type StripeInvoiceLine struct {
	PriceID   string
	Proration bool
	PeriodEnd time.Time
}

// WebhookOutcome says what became of an event.
type WebhookOutcome string

const (
	OutcomeApplied   WebhookOutcome = "applied"
	OutcomeDuplicate WebhookOutcome = "duplicate" // applied before: nothing done
	OutcomeIgnored   WebhookOutcome = "ignored"   // not ours, not relevant, or older than what was applied
)

// HandleWebhook verifies a Stripe delivery and applies its event. A bad
// signature is EINVALID and changes nothing.
func (b *Billing) HandleWebhook(ctx context.Context, payload []byte, sigHeader string) (StripeEvent, WebhookOutcome, error) {
	if b == nil || b.Webhooks == nil {
		return StripeEvent{}, "", errNotConfigured
	}
	ev, err := b.Webhooks.ParseWebhook(payload, sigHeader)
	if err != nil {
		return StripeEvent{}, "", err
	}
	out, err := b.ApplyEvent(ctx, ev)
	return ev, out, err
}

// ApplyEvent applies one event once. Events may come late, twice or out of
// order: grants are idempotent on their ref (invoice or checkout session
// id), and changes to a tenant's plan and status are ordered by the event's
// creation time per customer, so an older event never undoes a newer one.
// The event is marked processed only after it was applied; a crash in
// between makes Stripe redeliver it, which is harmless for the same reasons.
func (b *Billing) ApplyEvent(ctx context.Context, ev StripeEvent) (WebhookOutcome, error) {
	switch ev.Type {
	case StripeCheckoutCompleted, StripeCheckoutAsyncSucceeded, StripeInvoicePaid, StripeInvoicePaymentFailed,
		StripeSubscriptionCreated, StripeSubscriptionUpdated, StripeSubscriptionDeleted:
	default:
		return OutcomeIgnored, nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	done, err := b.Events.Processed(ctx, ev.ID)
	if err != nil {
		return "", err
	}
	if done {
		return OutcomeDuplicate, nil
	}
	t, found, err := b.eventTenant(ctx, ev)
	if err != nil {
		return "", err
	}
	if !found { // left unmarked: a resend after the operator fixes it applies it
		b.Logger.Warn("stripe event for no known tenant", "event", ev.ID, "type", ev.Type, "customer", ev.CustomerID, "tenant", ev.TenantID)
		return OutcomeIgnored, nil
	}
	out, err := b.apply(ctx, t, ev)
	if err != nil {
		return "", fmt.Errorf("tenants.ApplyEvent %s %s: %w", ev.Type, ev.ID, err)
	}
	if _, err := b.Events.MarkProcessed(ctx, ev.ID); err != nil {
		return "", err
	}
	b.Logger.Info("stripe event", "event", ev.ID, "type", ev.Type, "tenant", t.ID, "outcome", out)
	return out, nil
}

func (b *Billing) apply(ctx context.Context, t Tenant, ev StripeEvent) (WebhookOutcome, error) {
	switch ev.Type {
	case StripeCheckoutCompleted, StripeCheckoutAsyncSucceeded:
		return b.applyCheckout(ctx, t, ev)
	case StripeInvoicePaid:
		return b.applyInvoicePaid(ctx, t, ev)
	case StripeInvoicePaymentFailed:
		if !sameSubscription(t, ev) {
			return OutcomeIgnored, nil
		}
		return b.updateSubscription(ctx, t, ev, func(t *Tenant) { t.BillingStatus = BillingPastDue })
	case StripeSubscriptionDeleted:
		return b.applySubscriptionDeleted(ctx, t, ev)
	}
	return b.applySubscription(ctx, t, ev)
}

// eventTenant finds the tenant of an event: by its Stripe customer, else by
// the tenant id the object carries (then linking the customer).
func (b *Billing) eventTenant(ctx context.Context, ev StripeEvent) (Tenant, bool, error) {
	var byCustomer, named Tenant
	if ev.CustomerID != "" {
		t, err := b.Catalog.TenantByStripeCustomer(ctx, ev.CustomerID)
		if err != nil && ErrorCode(err) != ENOTFOUND {
			return Tenant{}, false, err
		}
		byCustomer = t
	}
	if ev.TenantID != "" {
		t, err := b.Catalog.Tenant(ctx, ev.TenantID)
		if err != nil && ErrorCode(err) != ENOTFOUND {
			return Tenant{}, false, err
		}
		named = t
	}
	switch {
	case byCustomer.ID != "" && named.ID != "" && byCustomer.ID != named.ID:
		b.Logger.Error("stripe event names two tenants", "event", ev.ID, "customer_tenant", byCustomer.ID, "named_tenant", named.ID)
		return Tenant{}, false, nil
	case byCustomer.ID != "":
		return byCustomer, true, nil
	case named.ID == "":
		return Tenant{}, false, nil
	case ev.CustomerID != "" && named.StripeCustomerID == "":
		linked, err := b.Catalog.SetStripeCustomer(ctx, named.ID, ev.CustomerID)
		if err != nil {
			return Tenant{}, false, err
		}
		return linked, true, nil
	}
	return named, true, nil
}

// sameSubscription reports whether an event is about the tenant's current
// subscription (or the tenant has none yet).
func sameSubscription(t Tenant, ev StripeEvent) bool {
	return t.StripeSubscriptionID == "" || ev.SubscriptionID == "" || ev.SubscriptionID == t.StripeSubscriptionID
}

// updateSubscription changes the tenant unless a newer subscription event of
// the same customer was applied already.
func (b *Billing) updateSubscription(ctx context.Context, t Tenant, ev StripeEvent, fn func(*Tenant)) (WebhookOutcome, error) {
	if ev.CustomerID != "" {
		newer, err := b.Events.AdvanceSubscriptionClock(ctx, ev.CustomerID, ev.Created)
		if err != nil {
			return "", err
		}
		if !newer {
			b.Logger.Info("stripe event older than the tenant's billing state", "event", ev.ID, "type", ev.Type, "tenant", t.ID)
			return OutcomeIgnored, nil
		}
	}
	if _, err := b.Catalog.UpdateTenant(ctx, t.ID, func(t *Tenant) error { fn(t); return nil }); err != nil {
		return "", err
	}
	return OutcomeApplied, nil
}

// applyCheckout grants a paid pack, or records a new subscription's plan.
// A plan's first month of credits comes with its invoice.paid event.
func (b *Billing) applyCheckout(ctx context.Context, t Tenant, ev StripeEvent) (WebhookOutcome, error) {
	if !ev.Paid { // an async payment: checkout.session.async_payment_succeeded follows
		return OutcomeIgnored, nil
	}
	switch ev.Mode {
	case "payment":
		pack, ok := LookupPack(ev.Pack)
		if !ok || ev.CheckoutSessionID == "" {
			b.Logger.Warn("paid checkout without a known pack", "event", ev.ID, "pack", ev.Pack)
			return OutcomeIgnored, nil
		}
		if _, err := b.Credits.Grant(ctx, t.ID, pack.Credits, ReasonPurchase, ev.CheckoutSessionID); err != nil {
			return "", err
		}
		return OutcomeApplied, nil
	case "subscription":
		if p, ok := LookupPlan(ev.Plan); !ok || p.ID == PlanStarter {
			b.Logger.Warn("subscription checkout without a known plan", "event", ev.ID, "plan", ev.Plan)
			return OutcomeIgnored, nil
		}
		return b.updateSubscription(ctx, t, ev, func(t *Tenant) {
			t.Plan, t.StripeSubscriptionID, t.BillingStatus = ev.Plan, ev.SubscriptionID, BillingOK
		})
	}
	return OutcomeIgnored, nil
}

// applyInvoicePaid records the paid period and grants the month's credits
// under the rollover rule (MonthlyGrant), once per invoice. Invoices with
// only proration lines grant nothing.
func (b *Billing) applyInvoicePaid(ctx context.Context, t Tenant, ev StripeEvent) (WebhookOutcome, error) {
	plan, line, ok := b.invoicePlan(ev)
	if !ok {
		b.Logger.Info("paid invoice without a plan line", "event", ev.ID, "invoice", ev.InvoiceID, "tenant", t.ID)
		return OutcomeIgnored, nil
	}
	if _, err := b.updateSubscription(ctx, t, ev, func(t *Tenant) {
		t.Plan = plan.ID
		if ev.SubscriptionID != "" {
			t.StripeSubscriptionID = ev.SubscriptionID
		}
		if line.PeriodEnd.After(t.PeriodEnd) {
			t.PeriodEnd = line.PeriodEnd
		}
		if t.BillingStatus == BillingPastDue {
			t.BillingStatus = BillingOK
		}
	}); err != nil {
		return "", err
	}
	bal, err := b.Credits.Balance(ctx, t.ID)
	if err != nil {
		return "", err
	}
	n := MonthlyGrant(plan.MonthlyCredits, bal)
	if n == 0 {
		b.Logger.Info("monthly credits not granted: balance at the rollover cap", "tenant", t.ID, "invoice", ev.InvoiceID, "balance", bal)
		return OutcomeApplied, nil
	}
	if _, err := b.Credits.Grant(ctx, t.ID, n, ReasonMonthly, ev.InvoiceID); err != nil {
		return "", err
	}
	return OutcomeApplied, nil
}

func (b *Billing) invoicePlan(ev StripeEvent) (Plan, StripeInvoiceLine, bool) {
	if ev.InvoiceID == "" {
		return Plan{}, StripeInvoiceLine{}, false
	}
	for _, l := range ev.Lines {
		if id, ok := b.Prices.PlanOfPrice(l.PriceID); ok && !l.Proration {
			p, _ := LookupPlan(id)
			return p, l, true
		}
	}
	return Plan{}, StripeInvoiceLine{}, false
}

// applySubscription follows a created or updated subscription: its plan (by
// price), status and period.
func (b *Billing) applySubscription(ctx context.Context, t Tenant, ev StripeEvent) (WebhookOutcome, error) {
	if ev.Type == StripeSubscriptionUpdated && !sameSubscription(t, ev) {
		return OutcomeIgnored, nil
	}
	var status BillingStatus
	switch ev.Status {
	case "active", "trialing":
		if status = BillingOK; ev.CancelAtPeriodEnd {
			status = BillingCanceled
		}
	case "past_due", "unpaid":
		status = BillingPastDue
	case "canceled", "incomplete_expired":
		return b.applySubscriptionDeleted(ctx, t, ev)
	default: // incomplete, paused: the first payment is not in yet
		return OutcomeIgnored, nil
	}
	plan, known := b.Prices.PlanOfPrice(ev.PriceID)
	if !known {
		b.Logger.Warn("subscription with an unknown price; plan unchanged", "event", ev.ID, "price", ev.PriceID, "tenant", t.ID)
	}
	return b.updateSubscription(ctx, t, ev, func(t *Tenant) {
		if known {
			t.Plan = plan
		}
		t.StripeSubscriptionID, t.BillingStatus = ev.SubscriptionID, status
		if !ev.PeriodEnd.IsZero() {
			t.PeriodEnd = ev.PeriodEnd
		}
	})
}

// applySubscriptionDeleted records the end of a subscription: the tenant
// keeps the plan until the paid period ends (ExpirePlan), then is on Starter;
// BillingCanceled and PeriodEnd stay as the record of it. A subscription
// that ends unpaid (past due) ends now.
func (b *Billing) applySubscriptionDeleted(ctx context.Context, t Tenant, ev StripeEvent) (WebhookOutcome, error) {
	if !sameSubscription(t, ev) {
		return OutcomeIgnored, nil
	}
	now := b.Now()
	return b.updateSubscription(ctx, t, ev, func(t *Tenant) {
		unpaid := t.BillingStatus == BillingPastDue
		t.StripeSubscriptionID, t.BillingStatus = "", BillingCanceled
		if !ev.PeriodEnd.IsZero() {
			t.PeriodEnd = ev.PeriodEnd
		}
		if unpaid && t.PeriodEnd.After(now) {
			t.PeriodEnd = now
		}
		if planExpired(*t, now) {
			t.Plan = PlanStarter
		}
	})
}
