package billing

import (
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/aibud/aibud/tenants"
	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/webhook"
)

// ParseWebhook verifies a delivery with the client's signing secret; see
// the package function. An event whose API version differs from the one
// stripe-go v76 speaks is accepted and logged once.
func (c *Client) ParseWebhook(payload []byte, sigHeader string) (tenants.StripeEvent, error) {
	ev, version, err := parseWebhook(payload, sigHeader, c.webhookSecret)
	if err == nil && version != stripe.APIVersion {
		c.versionOnce.Do(func() {
			c.log.Warn("stripe webhook API version differs from stripe-go's; set the endpoint's version to match",
				"event_version", version, "expected", stripe.APIVersion)
		})
	}
	return ev, err
}

// ParseWebhook checks a webhook's Stripe-Signature header against secret
// with the default tolerance (five minutes) and reduces the event to the
// domain's StripeEvent. Signature and timestamp failures are EINVALID on the
// Stripe-Signature field; a payload that is not an event is EINVALID on
// body. API version mismatches are not errors: stripe-mock's events carry
// none, and the few fields read here are the same in every recent version.
func ParseWebhook(payload []byte, sigHeader, secret string) (tenants.StripeEvent, error) {
	ev, _, err := parseWebhook(payload, sigHeader, secret)
	return ev, err
}

func parseWebhook(payload []byte, sigHeader, secret string) (tenants.StripeEvent, string, error) {
	if secret == "" {
		return tenants.StripeEvent{}, "", tenants.Errorf(tenants.EUNAVAILABLE, "Stripe webhooks are not configured on this server.")
	}
	ev, err := webhook.ConstructEventWithOptions(payload, sigHeader, secret, webhook.ConstructEventOptions{IgnoreAPIVersionMismatch: true})
	switch {
	case errors.Is(err, webhook.ErrTooOld):
		return tenants.StripeEvent{}, "", tenants.Invalid("Stripe-Signature", "Webhook timestamp is too old.")
	case errors.Is(err, webhook.ErrNotSigned), errors.Is(err, webhook.ErrInvalidHeader), errors.Is(err, webhook.ErrNoValidSignature):
		return tenants.StripeEvent{}, "", tenants.Invalid("Stripe-Signature", "Webhook signature is not valid.")
	case err != nil:
		return tenants.StripeEvent{}, "", tenants.Invalid("body", "Webhook payload is not a Stripe event.")
	case ev.ID == "" || ev.Type == "":
		return tenants.StripeEvent{}, "", tenants.Invalid("body", "Webhook event has no id or type.")
	}
	out := tenants.StripeEvent{ID: ev.ID, Type: string(ev.Type), Created: time.Unix(ev.Created, 0).UTC()}
	if ev.Data == nil || len(ev.Data.Raw) == 0 {
		return out, ev.APIVersion, nil
	}
	switch {
	case strings.HasPrefix(out.Type, "checkout.session."):
		err = fromCheckoutSession(ev.Data.Raw, &out)
	case strings.HasPrefix(out.Type, "invoice."):
		err = fromInvoice(ev.Data.Raw, &out)
	case strings.HasPrefix(out.Type, "customer.subscription."):
		err = fromSubscription(ev.Data.Raw, &out)
	}
	if err != nil {
		return tenants.StripeEvent{}, "", tenants.Invalid("body", "Webhook %s object is not valid.", out.Type)
	}
	return out, ev.APIVersion, nil
}

func fromCheckoutSession(raw json.RawMessage, out *tenants.StripeEvent) error {
	var s stripe.CheckoutSession
	if err := json.Unmarshal(raw, &s); err != nil {
		return err
	}
	out.CheckoutSessionID, out.Mode = s.ID, string(s.Mode)
	out.TenantID = s.ClientReferenceID
	if out.TenantID == "" {
		out.TenantID = s.Metadata[metaTenant]
	}
	out.Paid = s.PaymentStatus == stripe.CheckoutSessionPaymentStatusPaid ||
		s.PaymentStatus == stripe.CheckoutSessionPaymentStatusNoPaymentRequired
	out.Plan, out.Pack = tenants.PlanID(s.Metadata[metaPlan]), tenants.PackID(s.Metadata[metaPack])
	out.CustomerID = customerID(s.Customer)
	if s.Subscription != nil {
		out.SubscriptionID = s.Subscription.ID
	}
	return nil
}

func fromInvoice(raw json.RawMessage, out *tenants.StripeEvent) error {
	var in stripe.Invoice
	if err := json.Unmarshal(raw, &in); err != nil {
		return err
	}
	out.InvoiceID, out.CustomerID = in.ID, customerID(in.Customer)
	if in.Subscription != nil {
		out.SubscriptionID = in.Subscription.ID
		out.TenantID = in.Subscription.Metadata[metaTenant] // set when Stripe expanded it
	}
	if in.SubscriptionDetails != nil && out.TenantID == "" {
		out.TenantID = in.SubscriptionDetails.Metadata[metaTenant]
	}
	if in.Lines == nil {
		return nil
	}
	for _, l := range in.Lines.Data {
		line := tenants.StripeInvoiceLine{Proration: l.Proration}
		if l.Price != nil {
			line.PriceID = l.Price.ID
		}
		if l.Period != nil && l.Period.End > 0 {
			line.PeriodEnd = time.Unix(l.Period.End, 0).UTC()
		}
		out.Lines = append(out.Lines, line)
	}
	return nil
}

func fromSubscription(raw json.RawMessage, out *tenants.StripeEvent) error {
	var s stripe.Subscription
	if err := json.Unmarshal(raw, &s); err != nil {
		return err
	}
	out.SubscriptionID, out.CustomerID = s.ID, customerID(s.Customer)
	out.TenantID, out.Status = s.Metadata[metaTenant], string(s.Status)
	out.CancelAtPeriodEnd = s.CancelAtPeriodEnd
	if s.CurrentPeriodEnd > 0 {
		out.PeriodEnd = time.Unix(s.CurrentPeriodEnd, 0).UTC()
	}
	if s.Items != nil && len(s.Items.Data) > 0 && s.Items.Data[0].Price != nil {
		out.PriceID = s.Items.Data[0].Price.ID
	}
	return nil
}

func customerID(c *stripe.Customer) string {
	if c == nil {
		return ""
	}
	return c.ID
}
