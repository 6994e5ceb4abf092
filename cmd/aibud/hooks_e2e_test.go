package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aibud/aibud/httpapi/browsertest"
	"github.com/aibud/aibud/tenants"
	"github.com/aibud/aibud/whatsapp/evolutionsim"
)

// hookEvent is one event a tenant's endpoint received.
type hookEvent struct {
	Event string         `json:"event"`
	Data  map[string]any `json:"data"`
}

// eventSink is a tenant's webhook endpoint that checks every signature.
type eventSink struct {
	mu      sync.Mutex
	secret  string
	events  []hookEvent
	badSigs int
}

func (s *eventSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	defer s.mu.Unlock()
	if tenants.VerifyHook(s.secret, r.Header.Get("Aibud-Signature"), body, time.Now(), 5*time.Minute) != nil {
		s.badSigs++
	}
	var ev hookEvent
	json.Unmarshal(body, &ev)
	s.events = append(s.events, ev)
}

func (s *eventSink) find(event string, match func(map[string]any) bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ev := range s.events {
		if ev.Event == event && match(ev.Data) {
			return true
		}
	}
	return false
}

// TestWebhooksEndToEnd: the real program tells a tenant's endpoint about a
// campaign as it runs: the low balance, votes (tapped and written), a
// classified reply, an opt-out and the campaign's end, each signed.
func TestWebhooksEndToEnd(t *testing.T) {
	ce := newCampaignEnv(t, map[string]string{"AIBUD_WEBHOOKS_ALLOW_PRIVATE": "on"})
	tenantID, instanceID := ce.connect()
	sink := &eventSink{}
	srv := httptest.NewServer(sink)
	t.Cleanup(srv.Close)
	status, body := ce.client.call("POST", "/api/v1/webhooks", map[string]any{"url": srv.URL + "/aibud", "events": tenants.HookEvents})
	if status != http.StatusCreated {
		t.Fatalf("create webhook = %d %s", status, body)
	}
	ep := decode[struct{ ID, Secret string }](t, body)
	sink.mu.Lock()
	sink.secret = ep.Secret
	sink.mu.Unlock()

	ctx := context.Background()
	if _, err := ce.m.Store.Grant(ctx, tenantID, -345, "test: near the low-balance line", ""); err != nil {
		t.Fatal(err)
	}
	csv, phones := leadsCSV(10)
	ce.importCSV(csv)
	pollID, _ := ce.createAndSend(instanceID) // 55 − 10 = 45 credits: below 50
	ce.waitFor(10*time.Second, "campaign done", func() bool { return ce.poll(pollID).Status == "done" })
	pollWA := map[string]string{}
	for _, s := range ce.sim.Sent() {
		pollWA[s.Number] = s.ID
	}
	in, _ := ce.m.Store.Instances(ctx, tenantID)
	name := in[0].GatewayName
	if _, err := ce.sim.Vote(name, evolutionsim.Vote{From: phones[0], Poll: pollWA[phones[0]], Options: []string{"Monday"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := ce.sim.Reply(name, evolutionsim.Reply{From: phones[1], Text: "Tuesday works for me", Quoted: pollWA[phones[1]]}); err != nil {
		t.Fatal(err)
	}
	if _, err := ce.sim.Reply(name, evolutionsim.Reply{From: phones[2], Text: "PARAR"}); err != nil {
		t.Fatal(err)
	}
	str := func(m map[string]any, k string) string { s, _ := m[k].(string); return s }
	want := []struct {
		event string
		match func(map[string]any) bool
	}{
		{tenants.HookCreditsLow, func(d map[string]any) bool { return d["balance"] == 45.0 && d["threshold"] == 50.0 }},
		{tenants.HookCampaignCompleted, func(d map[string]any) bool { return str(d, "poll_id") == pollID && d["recipients"] == 10.0 }},
		{tenants.HookPollVoted, func(d map[string]any) bool {
			return str(d, "phone") == phones[0] && d["from_text"] == false && len(d["options"].([]any)) == 1
		}},
		{tenants.HookReplyClassified, func(d map[string]any) bool {
			return str(d, "phone") == phones[1] && str(d, "intent") == "interested" && str(d, "poll_id") == pollID
		}},
		{tenants.HookPollVoted, func(d map[string]any) bool { return str(d, "phone") == phones[1] && d["from_text"] == true }},
		{tenants.HookContactOptedOut, func(d map[string]any) bool { return str(d, "phone") == phones[2] && str(d, "source") == "reply" }},
	}
	for _, w := range want {
		ce.waitFor(10*time.Second, w.event+" delivered", func() bool { return sink.find(w.event, w.match) })
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	optOuts := 0
	for _, ev := range sink.events {
		if ev.Event == tenants.HookContactOptedOut {
			optOuts++
		}
	}
	if sink.badSigs != 0 || optOuts != 1 {
		t.Fatalf("%d bad signatures, %d opt-out events (want 1) in %+v", sink.badSigs, optOuts, sink.events)
	}
}

// TestBrowserWebhooks: a client adds an endpoint on the webhooks page, sees
// the secret once, watches a delivery arrive in the log and replays it.
// Screenshots go to testdata/screenshots/webhooks.
func TestBrowserWebhooks(t *testing.T) {
	ce := newCampaignEnv(t, map[string]string{"AIBUD_WEBHOOKS_ALLOW_PRIVATE": "on"})
	ce.client.signup()
	csv, phones := leadsCSV(1)
	ce.importCSV(csv)
	sink := &eventSink{}
	srv := httptest.NewServer(sink)
	t.Cleanup(srv.Close)

	ctx := browsertest.New(t)
	console := browsertest.WatchConsole(t, ctx)
	shots := filepath.Join(browsertest.ModuleDir(t), "testdata", "screenshots", "webhooks")
	snap := func(name string) {
		t.Helper()
		browsertest.Screenshots(t, ctx, shots, name, browsertest.Desktop, browsertest.Phone)
	}
	browsertest.Navigate(t, ctx, ce.base+"/login")
	browsertest.Fill(t, ctx, "#email", testAccount["email"])
	browsertest.Fill(t, ctx, "#password", testAccount["password"])
	browsertest.ClickAndWait(t, ctx, "form.form button[type=submit]")
	if resp := browsertest.Navigate(t, ctx, ce.base+"/app/settings/webhooks"); resp.Status != http.StatusOK {
		t.Fatalf("webhooks page = %d", resp.Status)
	}
	snap("01-empty")
	browsertest.Fill(t, ctx, "#hook-url", srv.URL+"/aibud")
	if resp := browsertest.ClickAndWait(t, ctx, "#add-endpoint button[type=submit]"); resp.Status != http.StatusCreated {
		t.Fatalf("add endpoint = %d", resp.Status)
	}
	secret := browsertest.Text(t, ctx, "#secret")
	if !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("secret shown = %q", secret)
	}
	snap("02-secret")
	sink.mu.Lock()
	sink.secret = secret
	sink.mu.Unlock()

	if status, body := ce.client.call("POST", "/api/v1/contacts/"+phones[0]+"/opt-out", nil); status != http.StatusOK {
		t.Fatalf("opt-out = %d %s", status, body)
	}
	ce.waitFor(10*time.Second, "contact.opted_out delivered", func() bool {
		return sink.find(tenants.HookContactOptedOut, func(d map[string]any) bool { return d["phone"] == phones[0] })
	})
	browsertest.Navigate(t, ctx, ce.base+"/app/settings/webhooks")
	browsertest.WaitText(t, ctx, `#hook-log tr[data-status="delivered"]`, "contact.opted_out")
	snap("03-delivered")
	browsertest.ClickAndWait(t, ctx, `#hook-log tr[data-status="delivered"] button`)
	browsertest.WaitText(t, ctx, ".alert", "Queued again")
	ce.waitFor(10*time.Second, "the replay delivered", func() bool {
		sink.mu.Lock()
		defer sink.mu.Unlock()
		return len(sink.events) == 2 && sink.badSigs == 0
	})
	browsertest.Navigate(t, ctx, ce.base+"/app/settings/webhooks")
	if n := browsertest.Count(t, ctx, `#hook-log tr[data-status="delivered"]`); n != 2 {
		t.Fatalf("%d delivered rows after the replay, want 2", n)
	}
	snap("04-replayed")
	for _, e := range console.Errors() {
		t.Errorf("browser console: %s", e)
	}
}
