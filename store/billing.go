package store

import (
	"context"
	"errors"
	"time"

	"github.com/aibud/aibud/tenants"
	"github.com/dgraph-io/badger/v4"
)

// The catalog's side of billing: which Stripe events were applied, and
// which tenant each Stripe customer belongs to. It implements
// tenants.StripeEventLog and the customer half of tenants.BillingCatalog.

// stripeEventTTL is how long an applied event id is remembered. Stripe
// retries a failed delivery for three days; an event replayed after its
// marker expired is still harmless (grants are idempotent on their ref and
// plan changes are ordered by event time).
const stripeEventTTL = 90 * 24 * time.Hour

// stripeCustomer is the record under keyStripeCustomer.
type stripeCustomer struct {
	TenantID string `json:"tenant_id"`
	// SubscriptionEventAt is the creation time of the newest subscription
	// event applied for this customer.
	SubscriptionEventAt time.Time `json:"subscription_event_at,omitzero"`
}

// Processed reports whether a Stripe event was marked processed.
func (c *Catalog) Processed(ctx context.Context, eventID string) (bool, error) {
	if eventID == "" {
		return false, tenants.Invalid("event", "Event id is required.")
	}
	var done bool
	err := c.db.View(func(txn *badger.Txn) error {
		var err error
		done, err = exists(txn, keyStripeEvent+eventID)
		return err
	})
	return done, wrap("store.Processed", err)
}

// MarkProcessed records a Stripe event as applied; first is false when it
// was recorded already.
func (c *Catalog) MarkProcessed(ctx context.Context, eventID string) (bool, error) {
	if eventID == "" {
		return false, tenants.Invalid("event", "Event id is required.")
	}
	var first bool
	err := c.update(func(txn *badger.Txn) error {
		done, err := exists(txn, keyStripeEvent+eventID)
		if err != nil || done {
			first = false
			return err
		}
		first = true
		return txn.SetEntry(badger.NewEntry([]byte(keyStripeEvent+eventID), nil).WithTTL(stripeEventTTL))
	})
	return first, wrap("store.MarkProcessed "+eventID, err)
}

// SetStripeCustomer links a Stripe customer to a tenant: the tenant's field
// and the lookup index in one transaction. Linking the same pair again is a
// no-op; a tenant or customer linked elsewhere is ECONFLICT.
func (c *Catalog) SetStripeCustomer(ctx context.Context, tenantID, customerID string) (tenants.Tenant, error) {
	if customerID == "" {
		return tenants.Tenant{}, tenants.Invalid("customer", "Customer id is required.")
	}
	var t tenants.Tenant
	err := c.update(func(txn *badger.Txn) error {
		if err := getJSON(txn, keyTenant+tenantID, &t); err != nil {
			return notFound(err, "Tenant")
		}
		if t.StripeCustomerID != "" && t.StripeCustomerID != customerID {
			return tenants.Errorf(tenants.ECONFLICT, "This tenant already has a Stripe customer.")
		}
		var rec stripeCustomer
		err := getJSON(txn, keyStripeCustomer+customerID, &rec)
		switch {
		case errors.Is(err, badger.ErrKeyNotFound):
			rec.TenantID = tenantID
		case err != nil:
			return err
		case rec.TenantID != tenantID:
			return tenants.Errorf(tenants.ECONFLICT, "This Stripe customer belongs to another tenant.")
		}
		t.StripeCustomerID = customerID
		if err := setJSON(txn, keyStripeCustomer+customerID, rec); err != nil {
			return err
		}
		return setJSON(txn, keyTenant+tenantID, t)
	})
	return t, wrap("store.SetStripeCustomer "+tenantID, err)
}

// TenantByStripeCustomer returns the tenant a Stripe customer belongs to.
func (c *Catalog) TenantByStripeCustomer(ctx context.Context, customerID string) (tenants.Tenant, error) {
	var t tenants.Tenant
	err := c.db.View(func(txn *badger.Txn) error {
		var rec stripeCustomer
		if err := getJSON(txn, keyStripeCustomer+customerID, &rec); err != nil {
			return err
		}
		return getJSON(txn, keyTenant+rec.TenantID, &t)
	})
	return t, wrap("store.TenantByStripeCustomer", notFound(err, "Stripe customer"))
}

// AdvanceSubscriptionClock records at as the newest subscription event time
// of a customer unless a later one is recorded; an event of the same second
// counts as newer, since Stripe's times have one-second resolution. A
// customer not linked to any tenant has no clock: every event is newer.
func (c *Catalog) AdvanceSubscriptionClock(ctx context.Context, customerID string, at time.Time) (bool, error) {
	newer := true
	err := c.update(func(txn *badger.Txn) error {
		var rec stripeCustomer
		err := getJSON(txn, keyStripeCustomer+customerID, &rec)
		if errors.Is(err, badger.ErrKeyNotFound) {
			newer = true
			return nil
		} else if err != nil {
			return err
		}
		if newer = !at.Before(rec.SubscriptionEventAt); !newer {
			return nil
		}
		rec.SubscriptionEventAt = at.UTC()
		return setJSON(txn, keyStripeCustomer+customerID, rec)
	})
	return newer, wrap("store.AdvanceSubscriptionClock "+customerID, err)
}

var (
	_ tenants.StripeEventLog = (*Catalog)(nil)
	_ tenants.BillingCatalog = (*Catalog)(nil)
)
