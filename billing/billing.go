// Package billing is Aibud's Stripe integration (stripe-go v76): customers,
// Checkout Sessions, the Customer Portal and webhook verification. It
// implements tenants.Payments and tenants.StripeWebhooks; no Stripe type
// leaves this package.
package billing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/aibud/aibud/tenants"
	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/client"
)

// Config is what the Stripe client needs.
type Config struct {
	SecretKey     string // STRIPE_SECRET_KEY
	WebhookSecret string // STRIPE_WEBHOOK_SECRET, the endpoint's signing secret (whsec_…)
	// APIURL is Stripe's API; tests point it at stripe-mock. Default
	// https://api.stripe.com.
	APIURL     string
	HTTPClient *http.Client // default: a client with a 30 s timeout
	Logger     *slog.Logger
}

// Client talks to Stripe with its own key and backend: no package globals
// (stripe.Key) are read or set.
type Client struct {
	api           *client.API
	webhookSecret string
	log           *slog.Logger
	versionOnce   sync.Once
}

// New returns a client for cfg.
func New(cfg Config) *Client {
	if cfg.APIURL == "" {
		cfg.APIURL = stripe.APIURL
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	log := cfg.Logger.With("component", "stripe")
	backend := stripe.GetBackendWithConfig(stripe.APIBackend, &stripe.BackendConfig{
		URL:               stripe.String(cfg.APIURL),
		HTTPClient:        cfg.HTTPClient,
		LeveledLogger:     slogLeveled{log},
		MaxNetworkRetries: stripe.Int64(2),
	})
	return &Client{
		api:           client.New(cfg.SecretKey, &stripe.Backends{API: backend, Connect: backend, Uploads: backend}),
		webhookSecret: cfg.WebhookSecret,
		log:           log,
	}
}

// Metadata keys Aibud writes on Stripe objects; webhooks read them back.
const (
	metaTenant = "tenant_id"
	metaPlan   = "plan"
	metaPack   = "pack"
)

// CreateCustomer creates the Stripe customer of a tenant. The idempotency
// key makes a retried or concurrent creation return the same customer.
func (c *Client) CreateCustomer(ctx context.Context, r tenants.CustomerRequest) (string, error) {
	p := &stripe.CustomerParams{Name: stripe.String(r.Name), Metadata: map[string]string{metaTenant: r.TenantID}}
	if r.Email != "" {
		p.Email = stripe.String(r.Email)
	}
	p.Context = ctx
	p.IdempotencyKey = stripe.String("aibud-customer-" + r.TenantID)
	cus, err := c.api.Customers.New(p)
	if err != nil {
		return "", c.fail("CreateCustomer", err)
	}
	return cus.ID, nil
}

// CheckoutSession creates a Checkout Session: mode subscription for a plan,
// payment for a pack. The tenant id goes in client_reference_id and in the
// metadata of the session and of the subscription or payment it makes.
func (c *Client) CheckoutSession(ctx context.Context, r tenants.CheckoutRequest) (string, error) {
	meta := map[string]string{metaTenant: r.TenantID}
	p := &stripe.CheckoutSessionParams{
		Customer:          stripe.String(r.CustomerID),
		ClientReferenceID: stripe.String(r.TenantID),
		LineItems:         []*stripe.CheckoutSessionLineItemParams{{Price: stripe.String(r.PriceID), Quantity: stripe.Int64(1)}},
		SuccessURL:        stripe.String(r.SuccessURL),
		CancelURL:         stripe.String(r.CancelURL),
	}
	if r.Plan != "" {
		meta[metaPlan] = string(r.Plan)
		p.Mode = stripe.String(string(stripe.CheckoutSessionModeSubscription))
		p.SubscriptionData = &stripe.CheckoutSessionSubscriptionDataParams{Metadata: meta}
	} else {
		meta[metaPack] = string(r.Pack)
		p.Mode = stripe.String(string(stripe.CheckoutSessionModePayment))
		p.PaymentIntentData = &stripe.CheckoutSessionPaymentIntentDataParams{Metadata: meta}
	}
	p.Metadata = meta
	p.Context = ctx
	s, err := c.api.CheckoutSessions.New(p)
	if err != nil {
		return "", c.fail("CheckoutSession", err)
	}
	return s.URL, nil
}

// PortalSession creates a Customer Portal session; with a subscription id
// the portal opens at that subscription's plan change.
func (c *Client) PortalSession(ctx context.Context, r tenants.PortalRequest) (string, error) {
	p := &stripe.BillingPortalSessionParams{Customer: stripe.String(r.CustomerID), ReturnURL: stripe.String(r.ReturnURL)}
	if r.SubscriptionID != "" {
		p.FlowData = &stripe.BillingPortalSessionFlowDataParams{
			Type:               stripe.String(string(stripe.BillingPortalSessionFlowTypeSubscriptionUpdate)),
			SubscriptionUpdate: &stripe.BillingPortalSessionFlowDataSubscriptionUpdateParams{Subscription: stripe.String(r.SubscriptionID)},
		}
	}
	p.Context = ctx
	s, err := c.api.BillingPortalSessions.New(p)
	if err != nil {
		return "", c.fail("PortalSession", err)
	}
	return s.URL, nil
}

// CancelSubscription sets a subscription to end with its paid period.
func (c *Client) CancelSubscription(ctx context.Context, subscriptionID string) error {
	p := &stripe.SubscriptionParams{CancelAtPeriodEnd: stripe.Bool(true)}
	p.Context = ctx
	if _, err := c.api.Subscriptions.Update(subscriptionID, p); err != nil {
		return c.fail("CancelSubscription", err)
	}
	return nil
}

// fail turns a Stripe error into the domain's: a request Stripe refused is
// our bug or a configuration error (a wrong price id or key), kept internal
// with its detail; anything else means Stripe cannot be reached now.
func (c *Client) fail(op string, err error) error {
	var se *stripe.Error
	if errors.As(err, &se) && se.HTTPStatusCode >= 400 && se.HTTPStatusCode < 500 && se.HTTPStatusCode != http.StatusTooManyRequests {
		return fmt.Errorf("billing.%s: stripe refused (%s %s, request %s): %w", op, se.Type, se.Code, se.RequestID, err)
	}
	c.log.Warn("stripe unavailable", "op", op, "err", err)
	return tenants.Errorf(tenants.EUNAVAILABLE, "Payments are unavailable right now. Please try again in a minute.")
}

// slogLeveled adapts slog to stripe-go's logger. Stripe's own info lines
// (one per request) are debug here.
type slogLeveled struct{ log *slog.Logger }

func (l slogLeveled) Debugf(format string, v ...any) { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l slogLeveled) Infof(format string, v ...any)  { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l slogLeveled) Warnf(format string, v ...any)  { l.log.Warn(fmt.Sprintf(format, v...)) }
func (l slogLeveled) Errorf(format string, v ...any) { l.log.Error(fmt.Sprintf(format, v...)) }

var (
	_ tenants.Payments       = (*Client)(nil)
	_ tenants.StripeWebhooks = (*Client)(nil)
)
