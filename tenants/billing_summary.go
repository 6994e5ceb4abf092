package tenants

import (
	"context"
	"time"
)

// Label is the status as the API and pages name it.
func (s BillingStatus) Label() string {
	if s == BillingOK {
		return "active"
	}
	return string(s)
}

// BillingSummary is a tenant's plan, payment status and balance.
type BillingSummary struct {
	Plan         Plan
	Status       BillingStatus
	PeriodEnd    time.Time
	Balance      int64
	Subscribed   bool // a Stripe subscription runs; plan changes go through the portal
	Configured   bool
	PlanPriced   map[PlanID]bool // which paid plans can be bought here
	PackPriced   map[PackID]bool
	LowBalance   bool
	CanceledPlan bool // a canceled subscription still runs until PeriodEnd
}

// Summary describes a tenant's billing, first ending a canceled plan whose
// paid period is over.
func (b *Billing) Summary(ctx context.Context, t Tenant) (BillingSummary, error) {
	if b.Catalog != nil && planExpired(t, b.Now()) {
		var err error
		if t, err = b.ExpirePlan(ctx, t.ID); err != nil {
			return BillingSummary{}, err
		}
	}
	bal, err := b.Credits.Balance(ctx, t.ID)
	if err != nil {
		return BillingSummary{}, err
	}
	plan, ok := LookupPlan(t.Plan)
	if !ok {
		plan, _ = LookupPlan(PlanStarter)
	}
	s := BillingSummary{Plan: plan, Status: t.BillingStatus, PeriodEnd: t.PeriodEnd, Balance: bal,
		Subscribed: t.StripeSubscriptionID != "", Configured: b.Configured(), LowBalance: bal < LowBalance,
		CanceledPlan: t.BillingStatus == BillingCanceled && plan.ID != PlanStarter,
		PlanPriced:   map[PlanID]bool{}, PackPriced: map[PackID]bool{}}
	for _, p := range plans {
		s.PlanPriced[p.ID] = s.Configured && b.Prices.PlanPrice(p.ID) != ""
	}
	for _, p := range packs {
		s.PackPriced[p.ID] = s.Configured && b.Prices.PackPrice(p.ID) != ""
	}
	return s, nil
}

func planExpired(t Tenant, now time.Time) bool {
	return t.BillingStatus == BillingCanceled && t.Plan != PlanStarter && !t.PeriodEnd.After(now)
}

// ExpirePlan moves a tenant whose subscription was canceled back to Starter
// once the paid period is over. Summary calls it when the tenant looks; a
// daily job may call it for every tenant.
func (b *Billing) ExpirePlan(ctx context.Context, tenantID string) (Tenant, error) {
	var from PlanID
	t, err := b.Catalog.UpdateTenant(ctx, tenantID, func(t *Tenant) error {
		if from = t.Plan; planExpired(*t, b.Now()) {
			t.Plan = PlanStarter
		}
		return nil
	})
	if err == nil && from != t.Plan {
		b.Logger.Info("canceled plan ended", "tenant", tenantID, "from", from, "period_end", t.PeriodEnd)
	}
	return t, err
}

// LedgerFilter narrows the ledger to one kind of movement.
type LedgerFilter string

const (
	LedgerAll       LedgerFilter = ""
	LedgerSends     LedgerFilter = "sends"
	LedgerRefunds   LedgerFilter = "refunds"
	LedgerGrants    LedgerFilter = "grants" // sign-up, monthly and hand-made grants
	LedgerPurchases LedgerFilter = "purchases"
)

// ParseLedgerFilter reads a filter name; "" and "all" mean everything.
func ParseLedgerFilter(s string) (LedgerFilter, error) {
	switch f := LedgerFilter(s); f {
	case "all":
		return LedgerAll, nil
	case LedgerAll, LedgerSends, LedgerRefunds, LedgerGrants, LedgerPurchases:
		return f, nil
	}
	return "", Invalid("reason", "Filter must be all, sends, refunds, grants or purchases.")
}

// Match reports whether an entry belongs to the filter.
func (f LedgerFilter) Match(e LedgerEntry) bool {
	switch f {
	case LedgerSends:
		return e.Reason == ReasonReserve
	case LedgerRefunds:
		return e.Reason == ReasonRefund
	case LedgerPurchases:
		return e.Reason == ReasonPurchase
	case LedgerGrants:
		return e.Reason != ReasonReserve && e.Reason != ReasonRefund && e.Reason != ReasonPurchase
	}
	return true
}

// ledgerScanLimit bounds the entries one filtered page reads; a sparse
// filter returns a short page with a cursor to go on.
const ledgerScanLimit = 2000

// Ledger lists up to limit entries matching f, newest first. It reads the
// ledger in pages no larger than what is still missing, so every NextCursor
// points exactly after the last entry returned.
func (b *Billing) Ledger(ctx context.Context, tenantID string, f LedgerFilter, cursor string, limit int) (LedgerPage, error) {
	var out LedgerPage
	for scanned := 0; ; {
		page, err := b.Credits.Ledger(ctx, tenantID, cursor, limit-len(out.Entries))
		if err != nil {
			return LedgerPage{}, err
		}
		for _, e := range page.Entries {
			if f.Match(e) {
				out.Entries = append(out.Entries, e)
			}
		}
		scanned += len(page.Entries)
		out.NextCursor, cursor = page.NextCursor, page.NextCursor
		if cursor == "" || len(out.Entries) >= limit || scanned >= ledgerScanLimit {
			return out, nil
		}
	}
}
