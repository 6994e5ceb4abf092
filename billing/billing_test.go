package billing

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aibud/aibud/billing/stripemock"
	"github.com/aibud/aibud/tenants"
	"github.com/stripe/stripe-go/v76/webhook"
)

// recorder sits between the client and stripe-mock and keeps what was sent,
// so tests see the parameters and not only stripe-mock's canned answers.
type recorder struct {
	mu       sync.Mutex
	requests []recorded
}

type recorded struct {
	method, path, idempotencyKey string
	form                         url.Values
}

func (r *recorder) last(t *testing.T) recorded {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.requests) == 0 {
		t.Fatal("no request reached stripe-mock")
	}
	return r.requests[len(r.requests)-1]
}

func newMockClient(t *testing.T) (*Client, *recorder) {
	t.Helper()
	target, _ := url.Parse(stripemock.Start(t))
	rec := &recorder{}
	proxy := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		form, _ := url.ParseQuery(string(body))
		rec.mu.Lock()
		rec.requests = append(rec.requests, recorded{req.Method, req.URL.Path, req.Header.Get("Idempotency-Key"), form})
		rec.mu.Unlock()
		req.Body = io.NopCloser(strings.NewReader(string(body)))
		proxy.ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	return New(Config{SecretKey: "sk_test_aibud", WebhookSecret: "whsec_test", APIURL: srv.URL}), rec
}

func TestClientAgainstStripeMock(t *testing.T) {
	c, rec := newMockClient(t)
	ctx := context.Background()

	cus, err := c.CreateCustomer(ctx, tenants.CustomerRequest{TenantID: "T1", Name: "Acme", Email: "owner@acme.test"})
	if err != nil || !strings.HasPrefix(cus, "cus_") {
		t.Fatalf("CreateCustomer = %q, %v", cus, err)
	}
	r := rec.last(t)
	if r.path != "/v1/customers" || r.form.Get("metadata[tenant_id]") != "T1" || r.form.Get("email") != "owner@acme.test" || r.idempotencyKey != "aibud-customer-T1" {
		t.Fatalf("customer request = %+v", r)
	}

	tests := []struct {
		name string
		req  tenants.CheckoutRequest
		want map[string]string // form fields sent to Stripe
	}{
		{"plan", tenants.CheckoutRequest{TenantID: "T1", CustomerID: cus, PriceID: "price_growth", Plan: tenants.PlanGrowth, SuccessURL: "https://app.test/ok", CancelURL: "https://app.test/no"},
			map[string]string{"mode": "subscription", "client_reference_id": "T1", "customer": cus, "line_items[0][price]": "price_growth",
				"metadata[tenant_id]": "T1", "metadata[plan]": "growth", "subscription_data[metadata][tenant_id]": "T1", "success_url": "https://app.test/ok"}},
		{"pack", tenants.CheckoutRequest{TenantID: "T1", CustomerID: cus, PriceID: "price_pack", Pack: tenants.Pack5000, SuccessURL: "https://app.test/ok", CancelURL: "https://app.test/no"},
			map[string]string{"mode": "payment", "client_reference_id": "T1", "line_items[0][quantity]": "1",
				"metadata[pack]": "5000", "payment_intent_data[metadata][tenant_id]": "T1", "cancel_url": "https://app.test/no"}},
	}
	for _, tt := range tests {
		t.Run("checkout "+tt.name, func(t *testing.T) {
			u, err := c.CheckoutSession(ctx, tt.req)
			if err != nil || !strings.HasPrefix(u, "https://") {
				t.Fatalf("CheckoutSession = %q, %v", u, err)
			}
			r := rec.last(t)
			for k, v := range tt.want {
				if got := r.form.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
		})
	}

	t.Run("portal", func(t *testing.T) {
		u, err := c.PortalSession(ctx, tenants.PortalRequest{CustomerID: cus, ReturnURL: "https://app.test/billing"})
		if err != nil || u == "" {
			t.Fatalf("PortalSession = %q, %v", u, err)
		}
		if r := rec.last(t); r.path != "/v1/billing_portal/sessions" || r.form.Get("flow_data[type]") != "" {
			t.Fatalf("portal request = %+v", r)
		}
		if _, err := c.PortalSession(ctx, tenants.PortalRequest{CustomerID: cus, ReturnURL: "https://app.test/billing", SubscriptionID: "sub_1"}); err != nil {
			t.Fatal(err)
		}
		if r := rec.last(t); r.form.Get("flow_data[type]") != "subscription_update" || r.form.Get("flow_data[subscription_update][subscription]") != "sub_1" {
			t.Fatalf("plan-change portal request = %+v", r.form)
		}
	})
	t.Run("cancel", func(t *testing.T) {
		if err := c.CancelSubscription(ctx, "sub_1"); err != nil {
			t.Fatal(err)
		}
		if r := rec.last(t); r.path != "/v1/subscriptions/sub_1" || r.form.Get("cancel_at_period_end") != "true" {
			t.Fatalf("cancel request = %+v", r)
		}
	})
}

// TestClientStripeRefuses: a request Stripe refuses (here a price that does
// not exist) is a configuration error, internal with its detail kept.
func TestClientStripeRefuses(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"error":{"type":"invalid_request_error","code":"resource_missing","param":"line_items[0][price]","message":"No such price: 'price_x'"}}`)
	}))
	t.Cleanup(srv.Close)
	c := New(Config{SecretKey: "sk_test_aibud", APIURL: srv.URL})
	_, err := c.CheckoutSession(context.Background(), tenants.CheckoutRequest{TenantID: "T1", CustomerID: "cus_1", Plan: tenants.PlanGrowth,
		PriceID: "price_x", SuccessURL: "https://app.test/ok", CancelURL: "https://app.test/no"})
	if tenants.ErrorCode(err) != tenants.EINTERNAL || !strings.Contains(err.Error(), "resource_missing") {
		t.Fatalf("err = %v; want internal with Stripe's code", err)
	}
}

func TestClientStripeDown(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) }))
	srv.Close() // nothing listens there any more
	c := New(Config{SecretKey: "sk_test_aibud", APIURL: srv.URL, HTTPClient: &http.Client{Timeout: time.Second}})
	_, err := c.CreateCustomer(context.Background(), tenants.CustomerRequest{TenantID: "T1"})
	if tenants.ErrorCode(err) != tenants.EUNAVAILABLE || strings.Contains(tenants.ErrorMessage(err), "127.0.0.1") {
		t.Fatalf("err = %v; want unavailable without internal detail", err)
	}
}

// stripeMockEvent fetches one of stripe-mock's own event fixtures: its
// api_version is null, which ConstructEvent alone would refuse.
func TestParseStripeMockEvent(t *testing.T) {
	base := stripemock.Start(t)
	req, _ := http.NewRequest(http.MethodGet, base+"/v1/events/evt_1", nil)
	req.Header.Set("Authorization", "Bearer sk_test_aibud")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	c := New(Config{SecretKey: "sk_test_aibud", WebhookSecret: "whsec_test", APIURL: base})
	signed := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: "whsec_test"})
	ev, err := c.ParseWebhook(signed.Payload, signed.Header)
	if err != nil || ev.ID == "" || ev.Type == "" {
		t.Fatalf("ParseWebhook(stripe-mock event) = %+v, %v", ev, err)
	}
}
