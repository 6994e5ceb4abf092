package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aibud/aibud/queue"
	"github.com/aibud/aibud/store"
	"github.com/aibud/aibud/tenants"
	"github.com/aibud/aibud/whatsapp/evolutionsim"
)

// Issue 9, part 3: nobody sees another tenant's data. Tenant A calls every
// tenant route of the router with tenant B's ids; and B's webhook token
// carrying events of A's number changes nothing in A.

// inlineSendQueue delivers a poll message at once, in the caller's
// goroutine: what the worker would do a moment later.
type inlineSendQueue struct{ campaigns *tenants.Campaigns }

func (q inlineSendQueue) EnqueueSend(ctx context.Context, tenantID string, m tenants.Message) error {
	var later *tenants.RetryLater
	if err := q.campaigns.Deliver(ctx, tenantID, m.PollID, m.Phone); err != nil && !errors.As(err, &later) {
		return err
	}
	return nil
}

// withEverything wires every optional tenant feature the program has, so
// that each route answers as it does in production: API keys, data
// rights, the inbox, billing without Stripe, and sends delivered inline.
func withEverything(cfg *Config, d *Deps) {
	withAPIKeys(1000, 1000)(cfg, d)
	withDataRights(cfg, d)
	withBilling("")(cfg, d)
	st := d.Credits.(*store.Store)
	d.Inbox = &tenants.Inbox{Replies: st, Polls: st, Contacts: d.Contacts, Active: st, Now: cfg.Now, Logger: cfg.Logger}
	d.Campaigns.Queue = inlineSendQueue{d.Campaigns}
}

// isolationTenant is one tenant's account and the ids of what it owns.
type isolationTenant struct {
	client     *http.Client
	acct       signupResponse
	instance   tenants.Instance
	phone      string // a contact's phone, digits
	pollID     string
	replyID    string
	keyID      string
	endpointID string
	deliveryID string
	secrets    []string // ids and texts that must never reach another tenant
}

// isolationFixture is the env, the simulator and both tenants.
type isolationFixture struct {
	env   *testEnv
	sim   *evolutionsim.Sim
	hooks *tenants.Hooks
	a, b  *isolationTenant
}

func newIsolationFixture(t *testing.T) *isolationFixture {
	t.Helper()
	env := newTestEnv(t, withEverything)
	sim := withSimulator(t, env)
	hooks := &tenants.Hooks{Store: env.store, Sender: queue.NewHookSender(true), AllowPrivate: true,
		NewID: store.NewID, Now: time.Now, Logger: env.api.log}
	hooks.Queue = inlineHookQueue{hooks}
	env.api.EnableWebhooks(hooks)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	t.Cleanup(receiver.Close)

	f := &isolationFixture{env: env, sim: sim, hooks: hooks}
	f.a = f.newTenant(t, "alpha", "5511966660001", "5511955550001", receiver.URL)
	f.b = f.newTenant(t, "bravo", "5511966660002", "5511955550002", receiver.URL)
	return f
}

// newTenant signs up and, through the API and the simulator, gives the
// tenant a connected number, a contact, a sent poll with a vote and a
// reply, an API key and a webhook endpoint with a delivery.
func (f *isolationFixture) newTenant(t *testing.T, name, number, phone, hookURL string) *isolationTenant {
	t.Helper()
	env, ctx := f.env, t.Context()
	c, acct := env.signup(t, name+"@example.com")
	tn := &isolationTenant{client: c, acct: acct, phone: phone}
	r := env.do(t, c, "POST", "/api/v1/instances", `{"name":"`+name+` line"}`)
	if r.status != http.StatusCreated {
		t.Fatalf("%s: create instance = %d %s", name, r.status, r.body)
	}
	in, err := env.store.Instance(ctx, acct.TenantID, decode[instanceJSON](t, r).ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.sim.Scan(in.GatewayName, number, name+" profile"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, name+"'s number open", func() bool {
		in, err = env.store.Instance(ctx, acct.TenantID, in.ID)
		return err == nil && in.State == tenants.StateOpen
	})
	tn.instance = in
	if r := env.do(t, c, "POST", "/api/v1/contacts", `{"phone":"+`+phone+`","name":"`+name+` lead name","tags":["`+name+`tag"]}`); r.status != http.StatusCreated {
		t.Fatalf("%s: create contact = %d %s", name, r.status, r.body)
	}
	tn.pollID = f.sendPoll(t, tn, name+" secret question?", name+"OptionOne", name+"OptionTwo")
	waID := f.sentTo(t, phone)
	if _, err := f.sim.Vote(in.GatewayName, evolutionsim.Vote{From: phone, Poll: waID, Options: []string{name + "OptionOne"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.sim.Reply(in.GatewayName, evolutionsim.Reply{From: phone, Text: name + " secret reply text", Quoted: waID}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, name+"'s vote and reply", func() bool {
		counts := f.counts(t, tn, tn.pollID)
		return counts.Voted == 1 && counts.Replied == 1
	})
	replies, err := env.store.Replies(ctx, acct.TenantID, "", 0)
	if err != nil || len(replies) != 1 {
		t.Fatalf("%s: replies %v, %v", name, replies, err)
	}
	tn.replyID = replies[0].ID

	key := decode[apiKeyCreated](t, env.do(t, c, "POST", "/api/v1/api-keys", `{"name":"`+name+`-key"}`))
	tn.keyID = key.ID
	ep, err := f.hooks.Create(ctx, acct.TenantID, hookURL+"/"+name+"-hook", []string{tenants.HookCreditsLow})
	if err != nil {
		t.Fatal(err)
	}
	tn.endpointID = ep.ID
	if err := f.hooks.Emit(ctx, acct.TenantID, tenants.HookCreditsLow, tenants.LowBalanceData(40)); err != nil {
		t.Fatal(err)
	}
	ds, err := f.hooks.Deliveries(ctx, acct.TenantID, ep.ID, 10)
	if err != nil || len(ds) != 1 {
		t.Fatalf("%s: deliveries %v, %v", name, ds, err)
	}
	tn.deliveryID = ds[0].ID
	tn.secrets = []string{acct.TenantID, acct.UserID, name + "@example.com", in.ID, in.GatewayName, in.WebhookToken,
		number, name + " profile", phone, name + " lead name", name + "tag", tn.pollID, name + " secret question",
		name + "OptionOne", tn.replyID, name + " secret reply text", key.ID, key.Prefix, name + "-key",
		ep.ID, name + "-hook", tn.deliveryID}
	return tn
}

// sendPoll creates a poll to everyone through the API and sends it.
func (f *isolationFixture) sendPoll(t *testing.T, tn *isolationTenant, question string, options ...string) string {
	t.Helper()
	body, _ := json.Marshal(pollRequest{Question: question, Options: options, InstanceID: tn.instance.ID, Audience: tenants.Audience{All: true}})
	r := f.env.do(t, tn.client, "POST", "/api/v1/polls", string(body))
	if r.status != http.StatusCreated {
		t.Fatalf("create poll = %d %s", r.status, r.body)
	}
	id := decode[struct{ ID string }](t, r).ID
	if r := f.env.do(t, tn.client, "POST", "/api/v1/polls/"+id+"/send", ""); r.status != http.StatusAccepted {
		t.Fatalf("send poll = %d %s", r.status, r.body)
	}
	return id
}

// sentTo is the gateway id of the last message the simulator sent to phone.
func (f *isolationFixture) sentTo(t *testing.T, phone string) string {
	t.Helper()
	var id string
	waitFor(t, 5*time.Second, "a message to "+phone, func() bool {
		for _, s := range f.sim.Sent() {
			if s.Number == phone {
				id = s.ID
			}
		}
		return id != ""
	})
	return id
}

func (f *isolationFixture) counts(t *testing.T, tn *isolationTenant, pollID string) tenants.PollCounts {
	t.Helper()
	r := f.env.do(t, tn.client, "GET", "/api/v1/polls/"+pollID, "")
	if r.status != http.StatusOK {
		t.Fatalf("get poll %s = %d %s", pollID, r.status, r.body)
	}
	return decode[struct{ Counts tenants.PollCounts }](t, r).Counts
}

// leaked returns the first of tn's secrets that body contains.
func (tn *isolationTenant) leaked(body string, except ...string) string {
	for _, s := range tn.secrets {
		if s != "" && !slices.Contains(except, s) && strings.Contains(body, s) {
			return s
		}
	}
	return ""
}

// idFor says which of B's ids fills each path parameter, by the longest
// path prefix before it. A parameter this table does not know fails the
// test: a new kind of id needs a line here.
func (tn *isolationTenant) idFor(path, param string) (string, bool) {
	prefix := path[:strings.Index(path, param)]
	table := []struct{ prefix, param, value string }{
		{"/api/v1/polls/", ":id", tn.pollID},
		{"/app/polls/", ":id", tn.pollID},
		{"/api/v1/instances/", ":id", tn.instance.ID},
		{"/app/settings/numbers/", ":id", tn.instance.ID},
		{"/api/v1/replies/", ":id", tn.replyID},
		{"/app/inbox/", ":id", tn.replyID},
		{"/api/v1/api-keys/", ":id", tn.keyID},
		{"/app/settings/api-keys/", ":id", tn.keyID},
		{"/api/v1/webhooks/deliveries/", ":id", tn.deliveryID},
		{"/app/settings/webhooks/deliveries/", ":id", tn.deliveryID},
		{"/api/v1/webhooks/", ":id", tn.endpointID},
		{"/app/settings/webhooks/", ":id", tn.endpointID},
		{"/api/v1/contacts/", ":phone", tn.phone},
		{"/app/contacts/", ":phone", tn.phone},
		{"/app/conversations/", ":phone", tn.phone},
	}
	for _, row := range table {
		if row.prefix == prefix && row.param == param {
			return row.value, true
		}
	}
	return "", false
}

// plausibleBody is a body that passes each route's input checks, so that
// the handler gets as far as looking the id up.
func plausibleBody(path string) string {
	if strings.HasPrefix(path, "/api/") {
		return `{"intent":"interested","name":"x","phone":"+5511955559999","events":["credits.low"]}`
	}
	return "intent=interested&action=remove&number=5511955559999&phone=5511955559999&name=x"
}

// isolationSkipped are the routes A does not call with B's ids, and why.
var isolationSkipped = map[string]string{
	// Identity routes: no tenant id in the request; they act on the
	// caller's own session or create a new tenant.
	"POST /api/v1/signup":         "creates a new tenant; no id of another to pass",
	"POST /api/v1/login":          "authenticates the caller; no tenant id in the request",
	"POST /api/v1/logout":         "ends the caller's own session",
	"POST /api/v1/account/delete": "deletes the caller's own account (tested in export_test.go)",
}

// isolationWrite is a call of a write without path parameters that
// names B's objects in its body, and the answers allowed.
type isolationWrite struct {
	body   string
	status []int
	why    string // when 200 is allowed: why that is no leak
}

// isolationWrites are the routes without path parameters that take ids in
// the body: A passes B's ids there. The body is JSON for /api and a form for
// /app; every other write without parameters must be listed in
// isolationSkipped or isolationOwnWrites.
func isolationWrites(b *isolationTenant) map[string]isolationWrite {
	poll := `{"question":"q?","options":["x","y"],"instance_id":"` + b.instance.ID + `","audience":{"all":true}}`
	form := url.Values{"question": {"q?"}, "options": {"x\ny"}, "instance_id": {b.instance.ID}, "audience": {"all"}}.Encode()
	const preview = "another tenant's number is unknown to A's preview: the page shows that in the cost line, the API answers 400 like create"
	return map[string]isolationWrite{
		// 400 naming instance_id: "That WhatsApp number does not exist.",
		// the answer an id that exists nowhere gets.
		"POST /api/v1/polls":         {body: poll, status: []int{http.StatusNotFound, http.StatusBadRequest}},
		"POST /app/polls":            {body: form, status: []int{http.StatusNotFound, http.StatusBadRequest}},
		"POST /api/v1/polls/preview": {body: poll, status: []int{http.StatusBadRequest}, why: preview},
		"POST /app/polls/preview":    {body: form, status: []int{http.StatusOK}, why: preview},
	}
}

// isolationOwnWrites are writes without ids in the request: they create or
// change the caller's own things, so all there is to check is that the
// answer shows nothing of B. Bodies that would change A's account for the
// rest of the test (account settings) are sent empty.
var isolationOwnWrites = map[string]string{
	"POST /api/v1/contacts":           `{"phone":"+5511955559999","name":"alpha second"}`,
	"POST /api/v1/contacts/import":    ``,
	"POST /api/v1/instances":          `{"name":"second"}`,
	"POST /api/v1/api-keys":           `{"name":"alpha-2"}`,
	"POST /api/v1/billing/checkout":   `{"plan":"growth"}`,
	"POST /api/v1/billing/portal":     `{}`,
	"POST /api/v1/webhooks":           `{}`,
	"POST /app/billing/checkout":      "plan=growth",
	"POST /app/billing/portal":        "",
	"POST /app/contacts/import":       "",
	"POST /app/contacts/import/run":   "",
	"POST /app/settings/account":      "",
	"POST /app/settings/api-keys":     "name=alpha-3",
	"POST /app/settings/auto-replies": "",
	"POST /app/settings/numbers":      "name=second",
	"POST /app/settings/webhooks":     "",
}

// isolationExceptions are routes with B's id that answer other than 404,
// and why that is no leak.
var isolationExceptions = map[string]struct {
	status int
	why    string
}{}

func TestTenantIsolation(t *testing.T) {
	f := newIsolationFixture(t)
	env, a, b := f.env, f.a, f.b
	beforeB := f.counts(t, b, b.pollID)

	seen := map[string]bool{}
	for _, rt := range env.api.Routes() {
		if !strings.HasPrefix(rt.Path, "/api/v1/") && !strings.HasPrefix(rt.Path, "/app/") && rt.Path != "/app" ||
			strings.HasPrefix(rt.Path, "/api/v1/admin") || strings.HasPrefix(rt.Path, "/api/v1/operator/") ||
			strings.HasSuffix(rt.Path, "/*") || rt.Method == "echo_route_not_found" {
			continue
		}
		route := rt.Method + " " + rt.Path
		if seen[route] {
			continue
		}
		seen[route] = true
		t.Run(route, func(t *testing.T) {
			if why, ok := isolationSkipped[route]; ok {
				t.Skip(why)
			}
			path, params := rt.Path, 0
			for _, seg := range strings.Split(rt.Path, "/") {
				if !strings.HasPrefix(seg, ":") {
					continue
				}
				id, ok := b.idFor(rt.Path, seg)
				if !ok {
					t.Fatalf("no id of B for %s in %s: add a line to idFor", seg, rt.Path)
				}
				path = strings.Replace(path, seg, id, 1)
				params++
			}
			switch {
			case params > 0:
				f.wantNotFound(t, rt.Method, rt.Path, path)
			case rt.Method == http.MethodGet:
				f.wantNothingOfB(t, route, path, "")
				// Filters naming B's poll or number find nothing either;
				// the page may echo the filter, so only the ids are allowed.
				f.wantNothingOfB(t, route, path+"?poll_id="+b.pollID+"&instance_id="+b.instance.ID+"&lead="+b.phone, "", b.pollID, b.instance.ID, b.phone)
			default:
				if w, ok := isolationWrites(b)[route]; ok {
					r := env.do(t, a.client, rt.Method, path, w.body)
					if !slices.Contains(w.status, r.status) {
						t.Errorf("A %s with B's instance = %d %.300s; want one of %v", route, r.status, r.body, w.status)
					}
					if s := b.leaked(r.body); s != "" {
						t.Errorf("A %s with B's instance shows B's %q: %.300s", route, s, r.body)
					}
					return
				}
				body, ok := isolationOwnWrites[route]
				if !ok {
					t.Fatalf("%s is a write without path parameters that the isolation test does not know: add it to isolationWrites (it takes ids), isolationOwnWrites or isolationSkipped", route)
				}
				f.wantNothingOfB(t, route, path, body)
			}
		})
	}

	// A table line for a route that is gone is a mistake too.
	listed := slices.Concat(slices.Collect(maps.Keys(isolationSkipped)), slices.Collect(maps.Keys(isolationOwnWrites)),
		slices.Collect(maps.Keys(isolationWrites(b))), slices.Collect(maps.Keys(isolationExceptions)))
	for _, route := range listed {
		if !seen[route] {
			t.Errorf("the isolation tables list %s, which the router does not have", route)
		}
	}

	// Nothing A did touched B.
	if after := f.counts(t, b, b.pollID); after != beforeB {
		t.Errorf("B's poll counts changed: %+v → %+v", beforeB, after)
	}
	ctx := t.Context()
	if in, err := env.store.Instance(ctx, b.acct.TenantID, b.instance.ID); err != nil || in.State != tenants.StateOpen {
		t.Errorf("B's number after A's calls: %+v, %v", in.State, err)
	}
	if ct, err := env.store.Contact(ctx, b.acct.TenantID, b.phone); err != nil || ct.OptedOut {
		t.Errorf("B's contact after A's calls: opted out %v, %v", ct.OptedOut, err)
	}
	if r, err := env.store.Reply(ctx, b.acct.TenantID, b.replyID); err != nil || r.HumanIntent != "" {
		t.Errorf("B's reply after A's calls: label %q, %v", r.HumanIntent, err)
	}
	if r := env.do(t, b.client, "GET", "/api/v1/api-keys", ""); !strings.Contains(r.body, b.keyID) || strings.Contains(r.body, `"revoked_at":"2`) {
		t.Errorf("B's API key after A's calls: %.300s", r.body)
	}
	if eps, err := f.hooks.List(ctx, b.acct.TenantID); err != nil || len(eps) != 1 || eps[0].Disabled {
		t.Errorf("B's webhook endpoint after A's calls: %+v, %v", eps, err)
	}
}

// wantNotFound calls route as A with B's ids in path: 404 (or the listed
// exception), and no trace of B. As a control, B itself finds a GET.
func (f *isolationFixture) wantNotFound(t *testing.T, method, route, path string) {
	t.Helper()
	key := method + " " + route
	r := f.env.do(t, f.a.client, method, path, plausibleBody(route))
	want := http.StatusNotFound
	if ex, ok := isolationExceptions[key]; ok {
		want = ex.status
	}
	if r.status != want {
		t.Errorf("A %s %s = %d %.300s; want %d", method, path, r.status, r.body, want)
	}
	if s := f.b.leaked(r.body); s != "" {
		t.Errorf("A %s %s shows B's %q: %.300s", method, path, s, r.body)
	}
	if method == http.MethodGet {
		if r := f.env.do(t, f.b.client, method, path, ""); r.status == http.StatusNotFound {
			t.Errorf("control: B %s %s = 404; the id does not name B's object, so A's 404 proves nothing", method, path)
		}
	}
}

// wantNothingOfB calls a route without path parameters as A.
func (f *isolationFixture) wantNothingOfB(t *testing.T, route, path, body string, except ...string) {
	t.Helper()
	method, _, _ := strings.Cut(route, " ")
	r := f.env.do(t, f.a.client, method, path, body)
	// 503: billing routes without Stripe keys, as on a server without them.
	if r.status >= 500 && r.status != http.StatusServiceUnavailable {
		t.Errorf("A %s = %d %.300s", route, r.status, r.body)
	}
	if s := f.b.leaked(r.body, except...); s != "" {
		t.Errorf("A %s %s shows B's %q: %.300s", method, path, s, r.body)
	}
}

// hookCapture records the webhooks a simulator instance posts.
type hookCapture struct {
	mu     sync.Mutex
	bodies []string
}

func (h *hookCapture) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	h.bodies = append(h.bodies, string(b))
	h.mu.Unlock()
}

func (h *hookCapture) snapshot() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.bodies)
}

// TestTenantIsolationWebhookToken: the gateway's real events for A's number
// (statuses of A's poll message, a vote on it and a reply) posted with B's
// webhook token change nothing in A or B; the same events with A's token
// do, so the events themselves are good.
func TestTenantIsolationWebhookToken(t *testing.T) {
	f := newIsolationFixture(t)
	env, a, b := f.env, f.a, f.b

	// A's number now posts its events to a recorder instead of Aibud.
	capture := &hookCapture{}
	rec := httptest.NewServer(capture)
	t.Cleanup(rec.Close)
	shard, err := env.store.Shard(t.Context(), "evo-1")
	if err != nil {
		t.Fatal(err)
	}
	set, _ := json.Marshal(map[string]any{"webhook": map[string]any{"enabled": true, "url": rec.URL,
		"events": []string{"MESSAGES_UPSERT", "MESSAGES_UPDATE"}}})
	req, _ := http.NewRequest("POST", shard.URL+"/webhook/set/"+a.instance.GatewayName, bytes.NewReader(set))
	req.Header.Set("apikey", "global-key")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		t.Fatalf("webhook/set = %d", resp.StatusCode)
	}

	phone := "5511955551234"
	if r := env.do(t, a.client, "POST", "/api/v1/contacts", `{"phone":"+`+phone+`"}`); r.status != http.StatusCreated {
		t.Fatalf("contact = %d %s", r.status, r.body)
	}
	body, _ := json.Marshal(pollRequest{Question: "Second?", Options: []string{"Yes", "No"}, InstanceID: a.instance.ID,
		Audience: tenants.Audience{Phones: []string{"+" + phone}}})
	r := env.do(t, a.client, "POST", "/api/v1/polls", string(body))
	if r.status != http.StatusCreated {
		t.Fatalf("create poll = %d %s", r.status, r.body)
	}
	pollID := decode[struct{ ID string }](t, r).ID
	if r := env.do(t, a.client, "POST", "/api/v1/polls/"+pollID+"/send", ""); r.status != http.StatusAccepted {
		t.Fatalf("send = %d %s", r.status, r.body)
	}
	waID := f.sentTo(t, phone)
	if _, err := f.sim.Vote(a.instance.GatewayName, evolutionsim.Vote{From: phone, Poll: waID, Options: []string{"Yes"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.sim.Reply(a.instance.GatewayName, evolutionsim.Reply{From: phone, Text: "hijacked reply", Quoted: waID}); err != nil {
		t.Fatal(err)
	}
	var events []string
	waitFor(t, 5*time.Second, "A's read receipt, vote and reply at the recorder", func() bool {
		events = capture.snapshot()
		joined := strings.Join(events, "\n")
		return strings.Contains(joined, "READ") && strings.Contains(joined, "pollUpdateMessage") && strings.Contains(joined, "hijacked reply")
	})

	beforeA, beforeB := f.counts(t, a, pollID), f.counts(t, b, b.pollID)
	for _, ev := range events {
		if r := env.do(t, env.client(), "POST", "/webhooks/evolution/"+b.instance.WebhookToken, ev); r.status != http.StatusBadRequest {
			t.Errorf("A's event with B's token = %d %s; want 400", r.status, r.body)
		}
	}
	if got := f.counts(t, a, pollID); got != beforeA || got.Voted != 0 || got.Replied != 0 || got.Read != 0 {
		t.Errorf("A's poll after its events came with B's token: %+v, before %+v", got, beforeA)
	}
	if got := f.counts(t, b, b.pollID); got != beforeB {
		t.Errorf("B's poll after A's events came with B's token: %+v, before %+v", got, beforeB)
	}
	for _, tn := range []*isolationTenant{a, b} {
		replies, _ := env.store.Replies(t.Context(), tn.acct.TenantID, "", 0)
		for _, rp := range replies {
			if rp.Text == "hijacked reply" {
				t.Errorf("tenant %s stored the reply sent with B's token", tn.acct.TenantID)
			}
		}
	}

	// The control: the same events with A's own token are applied.
	for _, ev := range events {
		if r := env.do(t, env.client(), "POST", "/webhooks/evolution/"+a.instance.WebhookToken, ev); r.status != http.StatusOK {
			t.Errorf("A's event with A's token = %d %s", r.status, r.body)
		}
	}
	if got := f.counts(t, a, pollID); got.Voted != 1 || got.Replied != 1 || got.Read != 1 {
		t.Errorf("A's poll after its events with its own token: %+v; want 1 read, voted, replied", got)
	}
}
