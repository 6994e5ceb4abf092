package billing

import (
	"fmt"
	"testing"
	"time"

	"github.com/aibud/aibud/tenants"
	"github.com/google/go-cmp/cmp"
	"github.com/stripe/stripe-go/v76/webhook"
)

const testSecret = "whsec_test_secret"

// event wraps a Stripe object in an event envelope.
func event(id, typ string, created int64, object string) []byte {
	return fmt.Appendf(nil, `{"id":%q,"object":"event","api_version":"2023-10-16","created":%d,"type":%q,"data":{"object":%s}}`, id, created, typ, object)
}

func sign(payload []byte, at time.Time, secret string) string {
	return webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: secret, Timestamp: at}).Header
}

func TestParseWebhookEvents(t *testing.T) {
	const created = 1767225600 // 2026-01-01T00:00:00Z
	at := time.Unix(created, 0).UTC()
	end := time.Unix(1769904000, 0).UTC()
	tests := []struct {
		name    string
		payload []byte
		want    tenants.StripeEvent
	}{
		{"checkout plan", event("evt_1", "checkout.session.completed", created,
			`{"id":"cs_1","object":"checkout.session","mode":"subscription","payment_status":"paid","customer":"cus_1","subscription":"sub_1","client_reference_id":"T1","metadata":{"tenant_id":"T1","plan":"growth"}}`),
			tenants.StripeEvent{ID: "evt_1", Type: tenants.StripeCheckoutCompleted, Created: at, TenantID: "T1", CustomerID: "cus_1", SubscriptionID: "sub_1",
				CheckoutSessionID: "cs_1", Mode: "subscription", Paid: true, Plan: tenants.PlanGrowth}},
		{"checkout pack, tenant from metadata, unpaid", event("evt_2", "checkout.session.completed", created,
			`{"id":"cs_2","object":"checkout.session","mode":"payment","payment_status":"unpaid","customer":{"id":"cus_1","object":"customer"},"metadata":{"tenant_id":"T1","pack":"1000"}}`),
			tenants.StripeEvent{ID: "evt_2", Type: tenants.StripeCheckoutCompleted, Created: at, TenantID: "T1", CustomerID: "cus_1",
				CheckoutSessionID: "cs_2", Mode: "payment", Pack: tenants.Pack1000}},
		{"invoice paid", event("evt_3", "invoice.paid", created,
			`{"id":"in_1","object":"invoice","customer":"cus_1","subscription":"sub_1","subscription_details":{"metadata":{"tenant_id":"T1"}},
			  "lines":{"object":"list","data":[{"id":"il_1","object":"line_item","proration":true,"price":{"id":"price_old"},"period":{"start":1,"end":2}},
			  {"id":"il_2","object":"line_item","proration":false,"price":{"id":"price_growth"},"period":{"start":1767225600,"end":1769904000}}]}}`),
			tenants.StripeEvent{ID: "evt_3", Type: tenants.StripeInvoicePaid, Created: at, TenantID: "T1", CustomerID: "cus_1", SubscriptionID: "sub_1", InvoiceID: "in_1",
				Lines: []tenants.StripeInvoiceLine{{PriceID: "price_old", Proration: true, PeriodEnd: time.Unix(2, 0).UTC()}, {PriceID: "price_growth", PeriodEnd: end}}}},
		{"subscription updated", event("evt_4", "customer.subscription.updated", created,
			`{"id":"sub_1","object":"subscription","customer":"cus_1","status":"past_due","cancel_at_period_end":true,"current_period_end":1769904000,
			  "metadata":{"tenant_id":"T1"},"items":{"object":"list","data":[{"id":"si_1","price":{"id":"price_pro"}}]}}`),
			tenants.StripeEvent{ID: "evt_4", Type: tenants.StripeSubscriptionUpdated, Created: at, TenantID: "T1", CustomerID: "cus_1", SubscriptionID: "sub_1",
				Status: "past_due", PriceID: "price_pro", CancelAtPeriodEnd: true, PeriodEnd: end}},
		{"unknown type keeps only the envelope", event("evt_5", "charge.refunded", created, `{"id":"ch_1","object":"charge"}`),
			tenants.StripeEvent{ID: "evt_5", Type: "charge.refunded", Created: at}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseWebhook(tt.payload, sign(tt.payload, time.Now(), testSecret), testSecret)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Fatalf("event (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseWebhookRefusals(t *testing.T) {
	good := event("evt_1", "invoice.paid", 1767225600, `{"id":"in_1","object":"invoice"}`)
	tests := []struct {
		name, header, secret string
		payload              []byte
		field                string
		code                 string
	}{
		{"forged signature", sign(good, time.Now(), "whsec_attacker"), testSecret, good, "Stripe-Signature", tenants.EINVALID},
		{"stale timestamp", sign(good, time.Now().Add(-6*time.Minute), testSecret), testSecret, good, "Stripe-Signature", tenants.EINVALID},
		{"no header", "", testSecret, good, "Stripe-Signature", tenants.EINVALID},
		{"garbled header", "t=abc,v1=zz", testSecret, good, "Stripe-Signature", tenants.EINVALID},
		{"payload changed after signing", sign(good, time.Now(), testSecret), testSecret, append([]byte(nil), good[:len(good)-1]...), "Stripe-Signature", tenants.EINVALID},
		{"not json", sign([]byte("nope"), time.Now(), testSecret), testSecret, []byte("nope"), "body", tenants.EINVALID},
		{"no id", sign([]byte(`{"type":"invoice.paid"}`), time.Now(), testSecret), testSecret, []byte(`{"type":"invoice.paid"}`), "body", tenants.EINVALID},
		{"bad object", sign(event("evt_1", "invoice.paid", 1, `{"lines":7}`), time.Now(), testSecret), testSecret, event("evt_1", "invoice.paid", 1, `{"lines":7}`), "body", tenants.EINVALID},
		{"no secret configured", sign(good, time.Now(), testSecret), "", good, "", tenants.EUNAVAILABLE},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseWebhook(tt.payload, tt.header, tt.secret)
			if tenants.ErrorCode(err) != tt.code || tenants.ErrorField(err) != tt.field {
				t.Fatalf("err = %v; want %s on %q", err, tt.code, tt.field)
			}
		})
	}
}

// FuzzParseWebhook feeds correctly signed but arbitrary payloads: the parser
// must never panic, and every refusal is a 4xx-kind domain error.
func FuzzParseWebhook(f *testing.F) {
	f.Add(event("evt_1", "invoice.paid", 1, `{"id":"in_1","lines":{"data":[{"price":{"id":"p"}}]}}`))
	f.Add(event("evt_2", "checkout.session.completed", 1, `{"id":"cs_1","customer":{"id":"cus_1"},"metadata":{"plan":"pro"}}`))
	f.Add(event("evt_3", "customer.subscription.deleted", 1, `{"id":"sub_1","items":{"data":[{}]}}`))
	f.Add([]byte(`{"id":"evt","type":"invoice.paid","data":{"object":null}}`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		ev, err := ParseWebhook(payload, sign(payload, time.Now(), testSecret), testSecret)
		if err != nil && tenants.ErrorCode(err) != tenants.EINVALID {
			t.Fatalf("err = %v, want invalid", err)
		}
		if err == nil && (ev.ID == "" || ev.Type == "") {
			t.Fatalf("accepted an event without id or type: %+v", ev)
		}
	})
}
