package httpapi

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aibud/aibud/queue"
	"github.com/aibud/aibud/store"
	"github.com/aibud/aibud/tenants"
)

// inlineHookQueue delivers at once, in the caller's goroutine: what the
// worker would do a moment later.
type inlineHookQueue struct{ hooks *tenants.Hooks }

func (q inlineHookQueue) EnqueueHook(ctx context.Context, tenantID, id string) error {
	_ = q.hooks.Deliver(ctx, tenantID, id) // a failed attempt stays in the log
	return nil
}

// hookReceiver is the tenant's endpoint: it checks signatures and answers
// status.
type hookReceiver struct {
	mu      sync.Mutex
	status  int
	secret  string
	calls   int
	badSigs int
	srv     *httptest.Server
}

func newHookReceiver(t *testing.T) *hookReceiver {
	r := &hookReceiver{status: 200}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		r.calls++
		if r.secret != "" && tenants.VerifyHook(r.secret, req.Header.Get("Aibud-Signature"), body, time.Now(), time.Minute) != nil {
			r.badSigs++
		}
		w.WriteHeader(r.status)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *hookReceiver) set(status int, secret string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.status = status
	if secret != "" {
		r.secret = secret
	}
}

func newHooksEnv(t *testing.T) (*testEnv, *tenants.Hooks) {
	env := newTestEnv(t)
	hooks := &tenants.Hooks{Store: env.store, Sender: queue.NewHookSender(true), AllowPrivate: true,
		NewID: store.NewID, Now: time.Now, Logger: env.api.log}
	hooks.Queue = inlineHookQueue{hooks}
	env.api.EnableWebhooks(hooks)
	return env, hooks
}

func TestHooksAPI(t *testing.T) {
	env, hooks := newHooksEnv(t)
	rc := newHookReceiver(t)
	c, acct := env.signup(t, "hooks@example.com")
	other, _ := env.signup(t, "other@example.com")
	anon := env.client()

	if r := env.do(t, anon, "GET", "/api/v1/webhooks", ""); r.status != 401 {
		t.Fatalf("anonymous list = %d", r.status)
	}
	for _, tt := range []struct{ body, field string }{
		{`{"url":"ftp://x.example/","events":["poll.voted"]}`, "url"},
		{`{"url":"` + rc.srv.URL + `","events":[]}`, "events"},
		{`{"url":"` + rc.srv.URL + `","events":["poll.sent"]}`, "events"},
		{`{"url":` + `"` + rc.srv.URL + `"`, "body"},
	} {
		r := env.do(t, c, "POST", "/api/v1/webhooks", tt.body)
		if r.status != 400 || !strings.Contains(r.body, `"field":"`+tt.field+`"`) {
			t.Errorf("create %s = %d %s, want 400 naming %s", tt.body, r.status, r.body, tt.field)
		}
	}
	r := env.do(t, c, "POST", "/api/v1/webhooks", `{"url":"`+rc.srv.URL+`/in","events":["poll.voted","credits.low"]}`)
	if r.status != 201 {
		t.Fatalf("create = %d %s", r.status, r.body)
	}
	var ep endpointJSON
	json.Unmarshal([]byte(r.body), &ep)
	if !strings.HasPrefix(ep.Secret, "whsec_") || ep.URL != rc.srv.URL+"/in" || len(ep.Events) != 2 {
		t.Fatalf("created = %s", r.body)
	}
	rc.set(200, ep.Secret)
	if r := env.do(t, c, "GET", "/api/v1/webhooks", ""); r.status != 200 || strings.Contains(r.body, ep.Secret) || !strings.Contains(r.body, `"secret_hint":"`+ep.Secret[:10]) {
		t.Fatalf("list = %d %s (the secret must not be shown again)", r.status, r.body)
	}
	if r := env.do(t, other, "GET", "/api/v1/webhooks", ""); r.status != 200 || strings.Contains(r.body, ep.ID) {
		t.Fatalf("another tenant's list = %s", r.body)
	}

	ctx := context.Background()
	rc.set(500, "")
	if err := hooks.Emit(ctx, acct.TenantID, tenants.HookCreditsLow, tenants.LowBalanceData(40)); err != nil {
		t.Fatal(err)
	}
	var log struct{ Deliveries []deliveryJSON }
	r = env.do(t, c, "GET", "/api/v1/webhooks/"+ep.ID+"/deliveries", "")
	json.Unmarshal([]byte(r.body), &log)
	if r.status != 200 || len(log.Deliveries) != 1 || log.Deliveries[0].LastCode != 500 || log.Deliveries[0].Status != "pending" ||
		!strings.Contains(string(log.Deliveries[0].Payload), `"balance":40`) {
		t.Fatalf("deliveries = %d %s", r.status, r.body)
	}
	first := log.Deliveries[0].ID
	if r := env.do(t, c, "POST", "/api/v1/webhooks/deliveries/"+first+"/replay", ""); r.status != 409 {
		t.Fatalf("replay while retrying = %d %s", r.status, r.body)
	}
	if err := hooks.GiveUp(ctx, acct.TenantID, first); err != nil {
		t.Fatal(err)
	}
	rc.set(200, "")
	if r := env.do(t, other, "POST", "/api/v1/webhooks/deliveries/"+first+"/replay", ""); r.status != 404 {
		t.Fatalf("another tenant's replay = %d", r.status)
	}
	r = env.do(t, c, "POST", "/api/v1/webhooks/deliveries/"+first+"/replay", "")
	if r.status != 202 || !strings.Contains(r.body, `"replay_of":"`+first+`"`) {
		t.Fatalf("replay = %d %s", r.status, r.body)
	}
	r = env.do(t, c, "GET", "/api/v1/webhooks/"+ep.ID+"/deliveries", "")
	json.Unmarshal([]byte(r.body), &log)
	if len(log.Deliveries) != 2 || log.Deliveries[0].Status != "delivered" || log.Deliveries[0].LastCode != 200 || log.Deliveries[1].Status != "failed" {
		t.Fatalf("log after replay = %s", r.body)
	}
	rc.mu.Lock()
	calls, bad := rc.calls, rc.badSigs
	rc.mu.Unlock()
	if calls != 2 || bad != 0 {
		t.Fatalf("receiver: %d calls, %d bad signatures", calls, bad)
	}

	if r := env.do(t, other, "DELETE", "/api/v1/webhooks/"+ep.ID, ""); r.status != 404 {
		t.Fatalf("another tenant's delete = %d", r.status)
	}
	if r := env.do(t, c, "DELETE", "/api/v1/webhooks/"+ep.ID, ""); r.status != 204 {
		t.Fatalf("delete = %d %s", r.status, r.body)
	}
	if r := env.do(t, c, "GET", "/api/v1/webhooks/"+ep.ID+"/deliveries", ""); r.status != 404 {
		t.Fatalf("deliveries of a deleted endpoint = %d", r.status)
	}
	// Private destinations are refused unless the operator allows them.
	hooks.AllowPrivate = false
	for _, u := range []string{rc.srv.URL, "http://10.0.0.1/x", "http://[::1]:8080/"} {
		r := env.do(t, c, "POST", "/api/v1/webhooks", `{"url":"`+u+`","events":["poll.voted"]}`)
		if r.status != 400 || !strings.Contains(r.body, "public addresses only") {
			t.Errorf("create %s with private destinations off = %d %s", u, r.status, r.body)
		}
	}
}

func TestHooksPage(t *testing.T) {
	env, hooks := newHooksEnv(t)
	rc := newHookReceiver(t)
	c, acct := env.signup(t, "page@example.com")
	if r := env.do(t, env.client(), "GET", "/app/settings/webhooks", ""); r.status != 303 {
		t.Fatalf("anonymous page = %d", r.status)
	}
	r := env.do(t, c, "GET", "/app/settings/webhooks", "")
	if r.status != 200 || !strings.Contains(r.body, "No webhook endpoint yet") || !strings.Contains(r.body, "Aibud-Signature") {
		t.Fatalf("page = %d", r.status)
	}
	r = env.do(t, c, "POST", "/app/settings/webhooks", "url=ftp%3A%2F%2Fx&events=poll.voted")
	if r.status != 400 || !strings.Contains(r.body, "http:// or https://") || !strings.Contains(r.body, `value="ftp://x"`) {
		t.Fatalf("bad form = %d", r.status)
	}
	form := url.Values{"url": {rc.srv.URL}, "events": {"campaign.completed", "reply.classified"}}
	r = env.do(t, c, "POST", "/app/settings/webhooks", form.Encode())
	eps, _ := hooks.List(context.Background(), acct.TenantID)
	if r.status != 201 || len(eps) != 1 || !strings.Contains(r.body, eps[0].Secret) || !strings.Contains(r.body, "not shown again") {
		t.Fatalf("create form = %d, %d endpoints", r.status, len(eps))
	}
	ep := eps[0]
	if r := env.do(t, c, "GET", "/app/settings/webhooks", ""); strings.Contains(r.body, ep.Secret) || !strings.Contains(r.body, ep.SecretHint()) {
		t.Fatal("the secret is shown again")
	}
	if err := hooks.Emit(context.Background(), acct.TenantID, tenants.HookCampaignCompleted, tenants.CompletedData(tenants.Poll{ID: "p1"})); err != nil {
		t.Fatal(err)
	}
	ds, _ := hooks.Deliveries(context.Background(), acct.TenantID, "", 10)
	r = env.do(t, c, "GET", "/app/settings/webhooks/log", "")
	if r.status != 200 || len(ds) != 1 || !strings.Contains(r.body, `data-status="delivered"`) || !strings.Contains(r.body, "/deliveries/"+ds[0].ID+"/replay") {
		t.Fatalf("log fragment = %d %s", r.status, r.body)
	}
	if r := env.do(t, c, "POST", "/app/settings/webhooks/deliveries/"+ds[0].ID+"/replay", ""); r.status != 303 {
		t.Fatalf("replay form = %d", r.status)
	}
	if ds, _ = hooks.Deliveries(context.Background(), acct.TenantID, "", 10); len(ds) != 2 || ds[0].Status != tenants.DeliveryDelivered {
		t.Fatalf("after replay: %+v", ds)
	}
	if r := env.do(t, c, "POST", "/app/settings/webhooks/"+ep.ID+"/pause", ""); r.status != 303 {
		t.Fatalf("pause = %d", r.status)
	}
	if r := env.do(t, c, "GET", "/app/settings/webhooks", ""); !strings.Contains(r.body, "Paused") || !strings.Contains(r.body, "/resume") {
		t.Fatal("paused endpoint not shown as paused")
	}
	if r := env.do(t, c, "POST", "/app/settings/webhooks/deliveries/"+ds[0].ID+"/replay", ""); r.status != 409 || !strings.Contains(r.body, "paused") {
		t.Fatalf("replay to a paused endpoint = %d", r.status)
	}
	if r := env.do(t, c, "POST", "/app/settings/webhooks/"+ep.ID+"/delete", ""); r.status != 303 {
		t.Fatalf("delete = %d", r.status)
	}
	if eps, _ := hooks.List(context.Background(), acct.TenantID); len(eps) != 0 {
		t.Fatalf("endpoints after delete: %v", eps)
	}
}
