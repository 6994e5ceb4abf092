package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aibud/aibud/billing"
	"github.com/aibud/aibud/billing/stripemock"
	"github.com/aibud/aibud/store"
	"github.com/aibud/aibud/tenants"
	"github.com/google/go-cmp/cmp"
	"github.com/stripe/stripe-go/v76/webhook"
)

const testWebhookSecret = "whsec_test_aibud"

var testPrices = tenants.PriceCatalog{Growth: "price_growth", Pro: "price_pro", Pack1000: "price_p1000", Pack5000: "price_p5000"}

// withBilling wires the billing use case over the test store; with an empty
// stripeURL Stripe is not configured, as on a server without keys.
func withBilling(stripeURL string) envOption {
	return func(cfg *Config, d *Deps) {
		st := d.Credits.(*store.Store) // newEnv's store, the only Credits it builds
		b := &tenants.Billing{Catalog: st, Credits: st, Events: st, Prices: testPrices, Now: cfg.Now, Logger: cfg.Logger}
		if stripeURL != "" {
			c := billing.New(billing.Config{SecretKey: "sk_test_aibud", WebhookSecret: testWebhookSecret, APIURL: stripeURL, Logger: cfg.Logger})
			b.Payments, b.Webhooks = c, c
		}
		d.Billing = b
	}
}

// postStripe delivers a webhook signed at the given time (zero: now).
func (e *testEnv) postStripe(t *testing.T, payload []byte, at time.Time, secret string) result {
	t.Helper()
	signed := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: secret, Timestamp: at})
	return e.do(t, e.client(), "POST", "/webhooks/stripe", string(payload), "Stripe-Signature", signed.Header)
}

func stripeEvent(id, typ string, created time.Time, object string) []byte {
	return fmt.Appendf(nil, `{"id":%q,"object":"event","api_version":"2023-10-16","created":%d,"type":%q,"data":{"object":%s}}`, id, created.Unix(), typ, object)
}

func (e *testEnv) billingOf(t *testing.T, c *http.Client) billingResponse {
	t.Helper()
	r := e.do(t, c, "GET", "/api/v1/billing", "")
	var out billingResponse
	if r.status != http.StatusOK || json.Unmarshal([]byte(r.body), &out) != nil {
		t.Fatalf("GET /api/v1/billing = %d %s", r.status, r.body)
	}
	return out
}

func TestBillingAPI(t *testing.T) {
	env := newTestEnv(t, withBilling(stripemock.Start(t)))
	owner, acct := env.signup(t, "payer@example.com")
	anon := env.client()
	tests := []struct {
		name         string
		client       *http.Client
		method, path string
		body         string
		status       int
		contains     string
	}{
		{"billing without session", anon, "GET", "/api/v1/billing", "", 401, `"unauthorized"`},
		{"checkout without session", anon, "POST", "/api/v1/billing/checkout", `{"plan":"growth"}`, 401, `"unauthorized"`},
		{"portal without session", anon, "POST", "/api/v1/billing/portal", "", 401, `"unauthorized"`},
		{"checkout nothing", owner, "POST", "/api/v1/billing/checkout", `{}`, 400, `"field":"plan"`},
		{"checkout bad json", owner, "POST", "/api/v1/billing/checkout", `{"plan":`, 400, `"field":"body"`},
		{"checkout starter", owner, "POST", "/api/v1/billing/checkout", `{"plan":"starter"}`, 400, `"field":"plan"`},
		{"checkout unknown plan", owner, "POST", "/api/v1/billing/checkout", `{"plan":"gold"}`, 400, `"field":"plan"`},
		{"checkout both", owner, "POST", "/api/v1/billing/checkout", `{"plan":"pro","pack":"1000"}`, 400, `not both`},
		{"checkout unknown pack", owner, "POST", "/api/v1/billing/checkout", `{"pack":"3000"}`, 400, `"field":"pack"`},
		{"checkout pack of the wrong type", owner, "POST", "/api/v1/billing/checkout", `{"pack":true}`, 400, `"field":"pack"`},
		{"checkout plan", owner, "POST", "/api/v1/billing/checkout", `{"plan":"growth"}`, 200, `"url":"https://checkout.stripe.com/`},
		{"checkout pack as number", owner, "POST", "/api/v1/billing/checkout", `{"pack":1000}`, 200, `"url":"https://`},
		{"checkout pack as string", owner, "POST", "/api/v1/billing/checkout", `{"pack":"5000"}`, 200, `"url":"https://`},
		{"portal", owner, "POST", "/api/v1/billing/portal", "", 200, `"url":"https://`},
		{"billing", owner, "GET", "/api/v1/billing", "", 200, `"plan":"starter"`},
	}
	var customer string
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := env.do(t, tt.client, tt.method, tt.path, tt.body)
			if r.status != tt.status || !strings.Contains(r.body, tt.contains) {
				t.Fatalf("%s %s = %d %s; want %d containing %q", tt.method, tt.path, r.status, r.body, tt.status, tt.contains)
			}
			tn, err := env.store.Tenant(context.Background(), acct.TenantID)
			if err != nil {
				t.Fatal(err)
			}
			if customer == "" {
				customer = tn.StripeCustomerID
			} else if tn.StripeCustomerID != customer {
				t.Fatalf("customer changed from %s to %s: one customer per tenant", customer, tn.StripeCustomerID)
			}
		})
	}
	if !strings.HasPrefix(customer, "cus_") {
		t.Fatalf("no Stripe customer saved on the tenant: %q", customer)
	}
	want := billingResponse{Plan: tenants.PlanStarter, Status: "active", Balance: 400, NumbersAllowed: 1, MonthlyCredits: 0}
	if diff := cmp.Diff(want, env.billingOf(t, owner)); diff != "" {
		t.Fatalf("billing (-want +got):\n%s", diff)
	}
}

func TestBillingPage(t *testing.T) {
	env := newTestEnv(t, withBilling(stripemock.Start(t)))
	c, acct := env.signup(t, "page@example.com")
	ctx := context.Background()

	r := env.do(t, c, "GET", "/app/billing", "")
	for _, want := range []string{"Upgrade to Growth", "Upgrade to Pro", "Buy 1,000 credits", "Buy 5,000 credits", "Manage billing", `id="credit-balance">400<`, "Current plan", "Welcome credits", `<option value="all" selected>`} {
		if !strings.Contains(r.body, want) {
			t.Errorf("billing page lacks %q", want)
		}
	}
	for _, unwanted := range []string{"disabled", "low-balance-banner", "past-due-banner", "not configured"} {
		if strings.Contains(r.body, unwanted) {
			t.Errorf("billing page shows %q", unwanted)
		}
	}
	if csp := r.header.Get("Content-Security-Policy"); r.status != 200 || !strings.Contains(csp, "form-action 'self' https://checkout.stripe.com https://billing.stripe.com") {
		t.Fatalf("page = %d, CSP %q", r.status, csp)
	}

	tests := []struct {
		name, method, path, body string
		headers                  []string
		status                   int
		contains, location       string
	}{
		{name: "needs login", method: "GET", path: "/app/billing", status: 303, location: "/login?next=%2Fapp%2Fbilling"},
		{name: "upgrade", method: "POST", path: "/app/billing/checkout", body: "plan=pro", status: 303, location: "https://checkout.stripe.com/"},
		{name: "buy credits", method: "POST", path: "/app/billing/checkout", body: "pack=1000", status: 303, location: "https://"},
		{name: "manage billing", method: "POST", path: "/app/billing/portal", status: 303, location: "https://"},
		{name: "bad plan shows on the page", method: "POST", path: "/app/billing/checkout", body: "plan=gold", status: 400, contains: "Plan must be growth or pro."},
		{name: "back from checkout", method: "GET", path: "/app/billing?checkout=done", status: 200, contains: "Your payment went through"},
		{name: "canceled checkout", method: "GET", path: "/app/billing?checkout=canceled", status: 200, contains: "nothing was charged"},
		{name: "filter sends", method: "GET", path: "/app/billing?reason=sends", status: 200, contains: "No movements of this kind."},
		{name: "filter grants", method: "GET", path: "/app/billing?reason=grants", status: 200, contains: `<option value="grants" selected>`},
		{name: "bad filter", method: "GET", path: "/app/billing?reason=bogus", status: 400, contains: "Filter must be"},
		{name: "filter by htmx: the ledger only", method: "GET", path: "/app/billing?reason=grants", headers: []string{"HX-Request", "true"}, status: 200, contains: `<div id="billing-ledger">`},
		{name: "cross-site form refused", method: "POST", path: "/app/billing/checkout", body: "plan=pro", headers: []string{"Sec-Fetch-Site", "cross-site"}, status: 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client := c
			if tt.name == "needs login" {
				client = env.client()
			}
			r := env.do(t, client, tt.method, tt.path, tt.body, tt.headers...)
			if r.status != tt.status || !strings.Contains(r.body, tt.contains) || !strings.HasPrefix(r.header.Get("Location"), tt.location) {
				t.Fatalf("%s %s = %d (Location %q) %.300s", tt.method, tt.path, r.status, r.header.Get("Location"), r.body)
			}
			if strings.Contains(tt.name, "htmx") && (strings.Contains(r.body, "<html") || !strings.Contains(r.body, "Welcome credits")) {
				t.Fatalf("htmx filter answered with more than the ledger: %.300s", r.body)
			}
		})
	}

	// A low balance and a failed payment each put up a banner.
	if _, err := env.store.Reserve(ctx, acct.TenantID, "campaign-1", 360); err != nil {
		t.Fatal(err)
	}
	if _, err := env.store.UpdateTenant(ctx, acct.TenantID, func(t *tenants.Tenant) error { t.BillingStatus = tenants.BillingPastDue; return nil }); err != nil {
		t.Fatal(err)
	}
	r = env.do(t, c, "GET", "/app/billing", "")
	for _, want := range []string{`id="low-balance-banner"`, "40 credits left", `id="past-due-banner"`, "Your last payment failed"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}

func TestBillingNotConfigured(t *testing.T) {
	for name, opts := range map[string][]envOption{"no keys": {withBilling("")}, "no billing wired": nil} {
		t.Run(name, func(t *testing.T) {
			env := newTestEnv(t, opts...)
			c, _ := env.signup(t, "nokeys@example.com")
			r := env.do(t, c, "GET", "/app/billing", "")
			if r.status != 200 || !strings.Contains(r.body, "Billing is not configured") || !strings.Contains(r.body, `disabled aria-describedby="billing-off"`) || !strings.Contains(r.body, "Welcome credits") {
				t.Fatalf("page = %d %.500s", r.status, r.body)
			}
			if r := env.do(t, c, "POST", "/app/billing/checkout", "plan=growth"); r.status != 503 || !strings.Contains(r.body, "Ask the operator") {
				t.Fatalf("upgrade form = %d %.300s", r.status, r.body)
			}
			if r := env.do(t, c, "POST", "/api/v1/billing/checkout", `{"pack":"1000"}`); r.status != 503 || !strings.Contains(r.body, `"unavailable"`) {
				t.Fatalf("checkout API = %d %s", r.status, r.body)
			}
			if r := env.do(t, c, "POST", "/api/v1/billing/portal", ""); r.status != 503 {
				t.Fatalf("portal API = %d %s", r.status, r.body)
			}
			if r := env.postStripe(t, stripeEvent("evt_1", "invoice.paid", time.Now(), `{"id":"in_1"}`), time.Time{}, testWebhookSecret); r.status != 503 {
				t.Fatalf("webhook = %d %s", r.status, r.body)
			}
			if got := env.billingOf(t, c); got.Plan != tenants.PlanStarter || got.Balance != 400 {
				t.Fatalf("billing = %+v", got)
			}
		})
	}
}

func TestStripeWebhook(t *testing.T) {
	big := func(cfg *Config, d *Deps) { cfg.BodyLimit = "4M" } // so the webhook's own 1 MiB limit is the one that trips
	env := newTestEnv(t, withBilling(stripemock.Start(t)), big)
	payer, acct := env.signup(t, "hooks@example.com")
	other, _ := env.signup(t, "other@example.com")
	if r := env.do(t, payer, "POST", "/api/v1/billing/portal", ""); r.status != 200 { // creates and saves the customer
		t.Fatalf("portal = %d %s", r.status, r.body)
	}
	tn, _ := env.store.Tenant(context.Background(), acct.TenantID)
	cus, tid := tn.StripeCustomerID, acct.TenantID
	base := env.clock.Now().Truncate(time.Second).Add(-time.Hour)
	at := func(s int) time.Time { return base.Add(time.Duration(s) * time.Second) }
	periodEnd := base.AddDate(0, 1, 0).Unix()
	checkout := stripeEvent("evt_co", "checkout.session.completed", at(10), fmt.Sprintf(
		`{"id":"cs_1","object":"checkout.session","mode":"subscription","payment_status":"paid","customer":%q,"subscription":"sub_1","client_reference_id":%q,"metadata":{"tenant_id":%q,"plan":"growth"}}`, cus, tid, tid))
	invoice := func(evt, in string, s int) []byte {
		return stripeEvent(evt, "invoice.paid", at(s), fmt.Sprintf(`{"id":%q,"object":"invoice","customer":%q,"subscription":"sub_1",
			"lines":{"object":"list","data":[{"id":"il_1","object":"line_item","proration":false,"price":{"id":"price_growth"},"period":{"start":%d,"end":%d}}]}}`, in, cus, base.Unix(), periodEnd))
	}
	sub := func(evt, typ string, s int, status, price string, end int64) []byte {
		return stripeEvent(evt, typ, at(s), fmt.Sprintf(`{"id":"sub_1","object":"subscription","customer":%q,"status":%q,"cancel_at_period_end":false,
			"current_period_end":%d,"items":{"object":"list","data":[{"id":"si_1","price":{"id":%q}}]}}`, cus, status, end, price))
	}
	pack := stripeEvent("evt_pack", "checkout.session.completed", at(12), fmt.Sprintf(
		`{"id":"cs_pack","object":"checkout.session","mode":"payment","payment_status":"paid","customer":%q,"client_reference_id":%q,"metadata":{"tenant_id":%q,"pack":"5000"}}`, cus, tid, tid))

	steps := []struct {
		name    string
		payload []byte
		signAt  time.Time
		secret  string
		status  int
		outcome string
		plan    tenants.PlanID
		state   string
		balance int64
	}{
		{"forged signature", invoice("evt_in1", "in_1", 11), time.Time{}, "whsec_forged", 400, "", tenants.PlanStarter, "active", 400},
		{"stale timestamp", invoice("evt_in1", "in_1", 11), time.Now().Add(-10 * time.Minute), testWebhookSecret, 400, "", tenants.PlanStarter, "active", 400},
		{"invoice before checkout", invoice("evt_in1", "in_1", 11), time.Time{}, testWebhookSecret, 200, "applied", tenants.PlanGrowth, "active", 2400},
		{"checkout after its invoice", checkout, time.Time{}, testWebhookSecret, 200, "ignored", tenants.PlanGrowth, "active", 2400},
		{"same invoice event twice", invoice("evt_in1", "in_1", 11), time.Time{}, testWebhookSecret, 200, "duplicate", tenants.PlanGrowth, "active", 2400},
		{"pack", pack, time.Time{}, testWebhookSecret, 200, "applied", tenants.PlanGrowth, "active", 7400},
		{"pack redelivered", pack, time.Time{}, testWebhookSecret, 200, "duplicate", tenants.PlanGrowth, "active", 7400},
		{"unknown event", stripeEvent("evt_x", "charge.refunded", at(13), `{"id":"ch_1","object":"charge"}`), time.Time{}, testWebhookSecret, 200, "ignored", tenants.PlanGrowth, "active", 7400},
		{"payment failed", stripeEvent("evt_pf", "invoice.payment_failed", at(20), fmt.Sprintf(`{"id":"in_2","object":"invoice","customer":%q,"subscription":"sub_1"}`, cus)),
			time.Time{}, testWebhookSecret, 200, "applied", tenants.PlanGrowth, "past_due", 7400},
		{"upgraded to pro", sub("evt_up", "customer.subscription.updated", 30, "active", "price_pro", periodEnd), time.Time{}, testWebhookSecret, 200, "applied", tenants.PlanPro, "active", 7400},
		{"older deletion comes late", sub("evt_del_old", "customer.subscription.deleted", 25, "canceled", "price_growth", periodEnd), time.Time{}, testWebhookSecret, 200, "ignored", tenants.PlanPro, "active", 7400},
		{"deleted at the period end", sub("evt_del", "customer.subscription.deleted", 40, "canceled", "price_pro", at(0).Unix()), time.Time{}, testWebhookSecret, 200, "applied", tenants.PlanStarter, "canceled", 7400},
	}
	for _, s := range steps {
		r := env.postStripe(t, s.payload, s.signAt, s.secret)
		if r.status != s.status || !strings.Contains(r.body, s.outcome) {
			t.Fatalf("%s: %d %s; want %d %s", s.name, r.status, r.body, s.status, s.outcome)
		}
		got := env.billingOf(t, payer)
		if got.Plan != s.plan || got.Status != s.state || got.Balance != s.balance {
			t.Fatalf("%s: billing %+v; want %s %s %d", s.name, got, s.plan, s.state, s.balance)
		}
	}
	// The other tenant saw none of it, and no route shows it another's billing.
	want := billingResponse{Plan: tenants.PlanStarter, Status: "active", Balance: 400, NumbersAllowed: 1}
	if diff := cmp.Diff(want, env.billingOf(t, other)); diff != "" {
		t.Fatalf("other tenant's billing (-want +got):\n%s", diff)
	}
	if r := env.do(t, other, "GET", "/app/billing", ""); strings.Contains(r.body, "cs_pack") || strings.Contains(r.body, "in_1") || !strings.Contains(r.body, "Welcome credits") {
		t.Fatalf("other tenant's page shows this tenant's ledger: %.300s", r.body)
	}

	t.Run("refusals", func(t *testing.T) {
		ev := invoice("evt_in9", "in_9", 50)
		tests := []struct {
			name   string
			header []string
			body   string
			status int
		}{
			{"no signature", nil, string(ev), 400},
			{"garbage signature", []string{"Stripe-Signature", "t=1,v1=00"}, string(ev), 400},
			{"over 1 MiB", []string{"Stripe-Signature", "t=1,v1=00"}, `{"id":"` + strings.Repeat("x", 1<<20) + `"}`, 413},
		}
		for _, tt := range tests {
			if r := env.do(t, env.client(), "POST", "/webhooks/stripe", tt.body, tt.header...); r.status != tt.status {
				t.Fatalf("%s: %d %.200s", tt.name, r.status, r.body)
			}
		}
		if got := env.billingOf(t, payer); got.Balance != 7400 {
			t.Fatalf("refused deliveries changed the balance: %d", got.Balance)
		}
	})
}
