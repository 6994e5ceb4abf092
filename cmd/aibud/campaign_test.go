package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aibud/aibud/queue/redistest"
	"github.com/aibud/aibud/tenants"
	"github.com/aibud/aibud/whatsapp/evolutionsim"
)

// campaignEnv is a running aibud wired to a real Evolution simulator and a
// real redis-server, with pacing off so campaigns finish in a test's time.
type campaignEnv struct {
	t      testing.TB
	env    testEnv
	redis  *redistest.Server
	sim    *evolutionsim.Sim
	m      *Main
	base   string
	stop   func()
	client *apiClient
}

func newCampaignEnv(t testing.TB, pacing map[string]string) *campaignEnv {
	t.Helper()
	sim := evolutionsim.New(evolutionsim.Config{GlobalKey: "sim-key", QRInterval: time.Hour, Seed: 42})
	simSrv := httptest.NewServer(sim.Handler())
	t.Cleanup(func() { simSrv.Close(); sim.Close() })
	rs := redistest.StartServer(t)
	env := testEnv{"AIBUD_DATA_DIR": t.TempDir(), "REDIS_URL": rs.URL,
		"EVOLUTION_API_URL": simSrv.URL, "EVOLUTION_API_KEY": "sim-key",
		"AIBUD_SEND_INTERVAL": "off", "AIBUD_SEND_JITTER": "off", "AIBUD_DAILY_CAP": "off",
		"AIBUD_WARMUP": "off", "AIBUD_QUIET_HOURS": "off", "AIBUD_ROLES": "web,worker"}
	for k, v := range pacing {
		env[k] = v
	}
	env.setAddr(t)
	ce := &campaignEnv{t: t, env: env, redis: rs, sim: sim}
	ce.start()
	ce.client = newAPIClient(t, ce.base)
	return ce
}

// start runs (or re-runs, on the same data and Redis) the program.
func (ce *campaignEnv) start() {
	ce.t.Helper()
	cfg, err := LoadConfig(nil, ce.env.getenv)
	if err != nil {
		ce.t.Fatal(err)
	}
	cfg.SendRetryBackoff = 100 * time.Millisecond
	m := NewMain(cfg, testLogger(ce.t))
	if err := m.Run(context.Background()); err != nil {
		m.Close()
		ce.t.Fatalf("Run: %v", err)
	}
	ce.m, ce.base = m, "http://"+m.Addr()
	stopped := false
	ce.stop = func() {
		if !stopped {
			stopped = true
			if err := m.Close(); err != nil {
				ce.t.Errorf("Close: %v", err)
			}
		}
	}
	ce.t.Cleanup(ce.stop)
}

// connect signs up, adds a number and has the simulator scan it.
func (ce *campaignEnv) connect() (tenantID, instanceID string) {
	ce.t.Helper()
	acct := ce.client.signup()
	status, body := ce.client.call("POST", "/api/v1/instances", map[string]string{"name": "Sales"})
	if status != http.StatusCreated {
		ce.t.Fatalf("create instance = %d %s", status, body)
	}
	inst := decode[struct{ ID string }](ce.t, body)
	in, err := ce.m.Store.Instance(context.Background(), acct.TenantID, inst.ID)
	if err != nil {
		ce.t.Fatal(err)
	}
	if err := ce.sim.Scan(in.GatewayName, "5511900000001", "Acme"); err != nil {
		ce.t.Fatal(err)
	}
	ce.waitFor(5*time.Second, "number connected", func() bool {
		_, body := ce.client.call("GET", "/api/v1/instances/"+inst.ID, nil)
		return strings.Contains(string(body), `"state":"open"`)
	})
	return acct.TenantID, inst.ID
}

func (ce *campaignEnv) waitFor(d time.Duration, what string, fn func() bool) {
	ce.t.Helper()
	deadline := time.Now().Add(d)
	for !fn() {
		if time.Now().After(deadline) {
			ce.t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// leadsCSV makes n leads with valid Brazilian mobile numbers and a tag.
func leadsCSV(n int) (string, []string) {
	var b strings.Builder
	b.WriteString("phone,name,tags\n")
	var phones []string
	for i := range n {
		phone := fmt.Sprintf("55119%08d", 71000000+i)
		phones = append(phones, phone)
		fmt.Fprintf(&b, "+%s,Lead %d,campaign\n", phone, i)
	}
	return b.String(), phones
}

func (ce *campaignEnv) importCSV(csv string) { ce.client.importCSV(csv) }

// importCSV posts a CSV file of contacts.
func (c *apiClient) importCSV(csv string) {
	c.tb.Helper()
	req, _ := http.NewRequest("POST", c.base+"/api/v1/contacts/import", strings.NewReader(csv))
	req.Header.Set("Content-Type", "text/csv")
	resp, err := c.http.Do(req)
	if err != nil {
		c.tb.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		c.tb.Fatalf("import = %d", resp.StatusCode)
	}
}

type apiPoll struct {
	ID      string             `json:"id"`
	Status  string             `json:"status"`
	Counts  tenants.PollCounts `json:"counts"`
	Results []struct {
		Option string `json:"option"`
		Votes  int    `json:"votes"`
	} `json:"results"`
	Unreadable int    `json:"unreadable_votes"`
	Withdrawn  int    `json:"withdrawn_votes"`
	Paused     string `json:"paused"`
}

func (ce *campaignEnv) poll(id string) apiPoll { return ce.client.poll(id) }

func (c *apiClient) poll(id string) apiPoll {
	c.tb.Helper()
	status, body := c.call("GET", "/api/v1/polls/"+id, nil)
	if status != http.StatusOK {
		c.tb.Fatalf("get poll = %d %s", status, body)
	}
	return decode[apiPoll](c.tb, body)
}

func (ce *campaignEnv) createAndSend(instanceID string) (string, map[string]int64) {
	return ce.client.createAndSend(instanceID)
}

// createAndSend writes a poll to everyone and sends it.
func (c *apiClient) createAndSend(instanceID string) (string, map[string]int64) {
	c.tb.Helper()
	status, body := c.call("POST", "/api/v1/polls", map[string]any{
		"question": "Which day suits you?", "options": []string{"Monday", "Tuesday", "Wednesday"},
		"instance_id": instanceID, "audience": map[string]any{"all": true},
	})
	if status != http.StatusCreated {
		c.tb.Fatalf("create poll = %d %s", status, body)
	}
	created := decode[struct {
		ID         string
		Recipients int
		Cost       int64
	}](c.tb, body)
	status, body = c.call("POST", "/api/v1/polls/"+created.ID+"/send", nil)
	if status != http.StatusAccepted {
		c.tb.Fatalf("send = %d %s", status, body)
	}
	return created.ID, decode[map[string]int64](c.tb, body)
}

// sentTo counts the simulator's sent messages per number.
func (ce *campaignEnv) sentTo() map[string]int {
	out := map[string]int{}
	for _, s := range ce.sim.Sent() {
		out[s.Number]++
	}
	return out
}

func (ce *campaignEnv) balance() (int64, int64) { return ce.client.balance() }

// balance returns the credit balance and the sum of the whole ledger.
func (c *apiClient) balance() (int64, int64) {
	c.tb.Helper()
	var sum int64
	cursor := ""
	var bal int64
	for {
		status, body := c.call("GET", "/api/v1/credits?limit=200&cursor="+cursor, nil)
		if status != 200 {
			c.tb.Fatalf("credits = %d %s", status, body)
		}
		page := decode[apiCredits](c.tb, body)
		bal = page.Balance
		for _, e := range page.Ledger {
			sum += e.Delta
		}
		if page.NextCursor == "" {
			return bal, sum
		}
		cursor = page.NextCursor
	}
}

// TestCampaignEndToEnd: import → poll → send → statuses → votes (changed,
// withdrawn, unreadable) → replies → results and credits exact.
func TestCampaignEndToEnd(t *testing.T) {
	ce := newCampaignEnv(t, nil)
	_, instanceID := ce.connect()
	csv, phones := leadsCSV(20)
	ce.importCSV(csv)
	failing := phones[19]
	ce.sim.FailNumber(failing, evolutionsim.FailNotOnWhatsApp)

	pollID, sent := ce.createAndSend(instanceID)
	if sent["queued"] != 20 || sent["credits_reserved"] != 20 {
		t.Fatalf("send = %v", sent)
	}
	var p apiPoll
	ce.waitFor(10*time.Second, "every message sent and read", func() bool {
		p = ce.poll(pollID)
		return p.Counts.Queued == 0 && p.Counts.Read == 19
	})
	if p.Counts.Failed != 1 || p.Counts.Total != 20 || p.Status != "done" {
		t.Fatalf("counts = %+v status %s", p.Counts, p.Status)
	}
	got := ce.sentTo()
	for _, ph := range phones[:19] {
		if got[ph] != 1 {
			t.Fatalf("%s received %d messages, want 1", ph, got[ph])
		}
	}
	if got[failing] != 0 || len(got) != 19 {
		t.Fatalf("simulator log = %v", got)
	}
	if bal, sum := ce.balance(); bal != 381 || sum != bal {
		t.Fatalf("balance %d, ledger sum %d; want 381 (400 - 19 sent)", bal, sum)
	}

	pollWA := map[string]string{}
	for _, s := range ce.sim.Sent() {
		pollWA[s.Number] = s.ID
	}
	in, _ := ce.m.Store.Instances(context.Background(), ce.client.me().Tenant.ID)
	name := in[0].GatewayName
	vote := func(phone string, mode evolutionsim.VoteMode, opts ...string) {
		t.Helper()
		if _, err := ce.sim.Vote(name, evolutionsim.Vote{From: phone, Poll: pollWA[phone], Options: opts, Mode: mode}); err != nil {
			t.Fatal(err)
		}
	}
	vote(phones[0], evolutionsim.VoteNormal, "Monday")
	vote(phones[1], evolutionsim.VoteNormal, "Tuesday")
	time.Sleep(1100 * time.Millisecond) // votes carry second-resolution timestamps
	vote(phones[1], evolutionsim.VoteNormal, "Wednesday")
	vote(phones[2], evolutionsim.VoteNormal, "Monday")
	time.Sleep(1100 * time.Millisecond)
	vote(phones[2], evolutionsim.VoteEmpty)
	vote(phones[3], evolutionsim.VoteEncrypted, "Tuesday")
	if _, err := ce.sim.Reply(name, evolutionsim.Reply{From: phones[4], Text: "Tuesday works for me", Quoted: pollWA[phones[4]]}); err != nil {
		t.Fatal(err)
	}
	if _, err := ce.sim.Reply(name, evolutionsim.Reply{From: phones[5], Text: "who is this?"}); err != nil {
		t.Fatal(err)
	}
	if _, err := ce.sim.Reply(name, evolutionsim.Reply{From: "5511988880000", Text: "hello, I saw your ad"}); err != nil {
		t.Fatal(err)
	}
	// "Tuesday works for me" is read by the classifier and counts as a vote.
	ce.waitFor(5*time.Second, "votes, replies and the vote read from a reply", func() bool {
		p = ce.poll(pollID)
		return p.Counts.Voted == 3 && p.Counts.Replied == 2 && p.Withdrawn == 1 && p.Unreadable == 1
	})
	want := map[string]int{"Monday": 1, "Tuesday": 1, "Wednesday": 1}
	for _, r := range p.Results {
		if want[r.Option] != r.Votes {
			t.Fatalf("results = %+v, want %v", p.Results, want)
		}
	}
	status, body := ce.client.call("GET", "/api/v1/replies?poll_id="+pollID, nil)
	if status != 200 || !strings.Contains(string(body), "Tuesday works for me") || !strings.Contains(string(body), "who is this?") || strings.Contains(string(body), "saw your ad") {
		t.Fatalf("replies = %d %s", status, body)
	}
	// Someone who wrote first became a contact.
	if status, body := ce.client.call("GET", "/api/v1/contacts/5511988880000", nil); status != 200 {
		t.Fatalf("inbound contact = %d %s", status, body)
	}
	status, body = ce.client.call("GET", "/api/v1/polls/"+pollID+"/recipients", nil)
	if status != 200 || !strings.Contains(string(body), `"options":["Wednesday"]`) {
		t.Fatalf("recipients = %d %.400s", status, body)
	}
	if status, _ := ce.client.call("POST", "/api/v1/polls/"+pollID+"/cancel", nil); status != http.StatusConflict {
		t.Fatalf("cancel a finished poll = %d", status)
	}
	// Today's usage, counted from the records.
	status, body = ce.client.call("GET", "/api/v1/usage?days=7", nil)
	days := decode[[]tenants.DailyUsage](t, body)
	if status != 200 || len(days) != 7 {
		t.Fatalf("usage = %d %s", status, body)
	}
	today := days[6]
	if today.Sent != 19 || today.Failed != 1 || today.Read != 19 || today.Votes != 5 || today.Replies != 3 || today.CreditsSpent != 19 || today.Balance != 381 {
		t.Fatalf("today's usage = %+v", today)
	}
	if status, _ := ce.client.call("GET", "/api/v1/usage?days=0", nil); status != 400 {
		t.Fatalf("usage days=0 = %d", status)
	}
	// The operator's metrics saw the campaign (replies are classified in
	// the background, so wait for those).
	var metrics []byte
	ce.waitFor(5*time.Second, "classifications counted", func() bool {
		resp, err := http.Get(ce.base + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		metrics, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		return strings.Contains(string(metrics), `aibud_classification_duration_seconds_count{classifier="rules"} 3`)
	})
	for _, series := range []string{`aibud_messages_sent_total{outcome="sent"} 19`, `aibud_messages_sent_total{outcome="failed"} 1`,
		`aibud_credits_spent_total 19`, `aibud_webhook_events_total{type="poll_vote"}`, `aibud_queue_depth{queue="default"}`,
		"aibud_open_tenant_dbs", `aibud_http_request_duration_seconds_count{method="POST",route="/api/v1/polls/:id/send"`,
		`aibud_classification_duration_seconds_count{classifier="rules"}`} {
		if !strings.Contains(string(metrics), series) {
			t.Errorf("/metrics lacks %s", series)
		}
	}
	// Erasing a lead removes their message, vote and replies too.
	if status, body := ce.client.call("DELETE", "/api/v1/contacts/"+phones[4], nil); status != http.StatusNoContent {
		t.Fatalf("erase = %d %s", status, body)
	}
	if status, body := ce.client.call("DELETE", "/api/v1/contacts/"+phones[1], nil); status != http.StatusNoContent {
		t.Fatalf("erase = %d %s", status, body)
	}
	p = ce.poll(pollID)
	if p.Counts.Total != 18 || p.Counts.Voted != 1 || p.Counts.Replied != 1 {
		t.Fatalf("after erasing two leads the poll counts %+v", p.Counts)
	}
	_, body = ce.client.call("GET", "/api/v1/replies?poll_id="+pollID, nil)
	if strings.Contains(string(body), "Tuesday works for me") {
		t.Fatalf("erased lead's reply still listed: %s", body)
	}
	if status, _ := ce.client.call("GET", "/app/conversations/"+phones[1], nil); status != 404 {
		t.Fatalf("erased lead's conversation = %d", status)
	}
	if status, _ := ce.client.call("POST", "/api/v1/polls/"+pollID+"/send", nil); status != http.StatusConflict {
		t.Fatalf("send twice = %d", status)
	}
}

// TestCampaignSurvivesFailures: Redis flushed, the process stopped and
// started again, Redis killed and restarted empty, all mid-campaign; every
// recipient still gets exactly one message and credits are exact.
func TestCampaignSurvivesFailures(t *testing.T) {
	ce := newCampaignEnv(t, map[string]string{"AIBUD_SEND_INTERVAL": "120ms"})
	_, instanceID := ce.connect()
	csv, phones := leadsCSV(30)
	ce.importCSV(csv)
	pollID, _ := ce.createAndSend(instanceID)
	ctx := context.Background()
	sentAtLeast := func(n int) func() bool { return func() bool { return len(ce.sim.Sent()) >= n } }

	ce.waitFor(10*time.Second, "5 sent", sentAtLeast(5))
	ce.redis.FlushAll() // every queued task is gone
	if err := ce.m.CampaignTasks.ReconcileAll(ctx); err != nil {
		t.Fatal(err)
	}
	ce.waitFor(10*time.Second, "12 sent", sentAtLeast(12))
	ce.stop()  // the process stops mid-campaign…
	ce.start() // …and starts again on the same data and Redis
	ce.client = newAPIClient(t, ce.base)
	if status, _ := ce.client.call("POST", "/api/v1/login", map[string]string{"email": testAccount["email"], "password": testAccount["password"]}); status != 200 {
		t.Fatalf("login after restart = %d", status)
	}
	ce.waitFor(10*time.Second, "20 sent", sentAtLeast(20))
	ce.redis.Restart() // Redis loses everything
	ce.waitFor(5*time.Second, "redis back", func() bool { return ce.m.Redis.Ping(ctx) == nil })
	if err := ce.m.CampaignTasks.ReconcileAll(ctx); err != nil {
		t.Fatal(err)
	}
	var p apiPoll
	ce.waitFor(20*time.Second, "campaign done", func() bool {
		p = ce.poll(pollID)
		return p.Counts.Queued == 0
	})
	got := ce.sentTo()
	for _, ph := range phones {
		if got[ph] != 1 {
			t.Fatalf("%s received %d messages, want exactly 1 (log %v)", ph, got[ph], got)
		}
	}
	if bal, sum := ce.balance(); bal != 370 || sum != bal {
		t.Fatalf("balance %d, ledger sum %d; want 370", bal, sum)
	}
}

// TestCampaignGatewayTrouble: a number the gateway refuses is failed and
// refunded; a number that fails for a while is retried until it goes; a
// short balance refuses the whole send.
func TestCampaignGatewayTrouble(t *testing.T) {
	ce := newCampaignEnv(t, nil)
	_, instanceID := ce.connect()
	csv, phones := leadsCSV(6)
	ce.importCSV(csv)
	ce.sim.FailNumber(phones[0], evolutionsim.FailNotOnWhatsApp)
	ce.sim.FailNumber(phones[1], evolutionsim.FailServerError)
	pollID, _ := ce.createAndSend(instanceID)
	ce.waitFor(10*time.Second, "the flaky number retried", func() bool {
		n := 0
		for _, c := range ce.sim.Calls() {
			if strings.Contains(string(c.Body), phones[1]) && strings.Contains(c.Path, "sendPoll") {
				n++
			}
		}
		return n >= 3
	})
	ce.sim.FailNumber(phones[1], evolutionsim.FailNone)
	var p apiPoll
	ce.waitFor(10*time.Second, "campaign done", func() bool {
		p = ce.poll(pollID)
		return p.Counts.Queued == 0
	})
	if p.Counts.Failed != 1 || p.Counts.Sent != 5 {
		t.Fatalf("counts = %+v", p.Counts)
	}
	if got := ce.sentTo(); got[phones[1]] != 1 || got[phones[0]] != 0 {
		t.Fatalf("simulator log = %v", got)
	}
	if bal, sum := ce.balance(); bal != 395 || sum != bal {
		t.Fatalf("balance %d, ledger sum %d; want 395", bal, sum)
	}

	// 395 credits cannot pay for 400 recipients: refused whole, nothing spent.
	more, _ := leadsCSV(400)
	ce.importCSV(more)
	status, body := ce.client.call("POST", "/api/v1/polls", map[string]any{
		"question": "Big one?", "options": []string{"Yes", "No"}, "instance_id": instanceID, "audience": map[string]any{"all": true}})
	if status != http.StatusCreated {
		t.Fatalf("create = %d %s", status, body)
	}
	big := decode[struct{ ID string }](t, body)
	status, body = ce.client.call("POST", "/api/v1/polls/"+big.ID+"/send", nil)
	if status != http.StatusPaymentRequired || !strings.Contains(string(body), `"balance":395`) || !strings.Contains(string(body), `"need":400`) {
		t.Fatalf("send beyond balance = %d %s", status, body)
	}
	if bal, _ := ce.balance(); bal != 395 {
		t.Fatalf("refused send changed the balance to %d", bal)
	}
}

// TestCampaignCancel: cancelling mid-campaign stops the rest and refunds
// each unsent message once.
func TestCampaignCancel(t *testing.T) {
	ce := newCampaignEnv(t, map[string]string{"AIBUD_SEND_INTERVAL": "400ms"})
	_, instanceID := ce.connect()
	csv, _ := leadsCSV(10)
	ce.importCSV(csv)
	pollID, _ := ce.createAndSend(instanceID)
	ce.waitFor(10*time.Second, "2 sent", func() bool { return len(ce.sim.Sent()) >= 2 })
	status, body := ce.client.call("POST", "/api/v1/polls/"+pollID+"/cancel", nil)
	if status != 200 {
		t.Fatalf("cancel = %d %s", status, body)
	}
	if refunded := decode[map[string]int](t, body)["refunded"]; refunded == 0 {
		t.Fatalf("cancel refunded nothing")
	}
	time.Sleep(1500 * time.Millisecond) // anything still queued would have gone by now
	// A send already in the worker's hands when the cancel came is either
	// sent or cancelled by the worker itself; either way exactly once.
	sent := len(ce.sim.Sent())
	p := ce.poll(pollID)
	if p.Status != "cancelled" || p.Counts.Cancelled+sent != 10 || p.Counts.Queued != 0 {
		t.Fatalf("poll after cancel = %s %+v, %d sent", p.Status, p.Counts, sent)
	}
	if bal, sum := ce.balance(); bal != int64(400-sent) || sum != bal {
		t.Fatalf("balance %d, ledger sum %d; want %d", bal, sum, 400-sent)
	}
}

// TestReplyPipeline: a reply is classified and moves its lead; a picked
// option counts as a vote; a STOP mid-campaign stops every further message
// to that number at once.
func TestReplyPipeline(t *testing.T) {
	ce := newCampaignEnv(t, map[string]string{"AIBUD_SEND_INTERVAL": "400ms"})
	tenantID, instanceID := ce.connect()
	csv, phones := leadsCSV(5)
	ce.importCSV(csv)
	pollID, _ := ce.createAndSend(instanceID)
	in, _ := ce.m.Store.Instances(context.Background(), tenantID)
	name := in[0].GatewayName
	ce.waitFor(10*time.Second, "first message sent", func() bool { return len(ce.sim.Sent()) >= 1 })

	// The last lead in line writes STOP before their poll went out.
	if _, err := ce.sim.Reply(name, evolutionsim.Reply{From: phones[4], Text: "PARAR"}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := ce.sim.Reply(name, evolutionsim.Reply{From: phones[0], Text: "sim, terça serve pra mim 👍"}); err != nil {
		t.Fatal(err)
	}
	type replyJSON struct {
		Phone          string
		Text           string
		Classification *tenants.Classification
	}
	var got []replyJSON
	ce.waitFor(5*time.Second, "reply classified", func() bool {
		_, body := ce.client.call("GET", "/api/v1/replies", nil)
		got = decode[struct{ Replies []replyJSON }](t, body).Replies
		for _, r := range got {
			if r.Phone == phones[0] && r.Classification != nil {
				return true
			}
		}
		return false
	})
	t.Logf("reply stored → classified and visible in %v", time.Since(start))
	var c *tenants.Classification
	for _, r := range got {
		if r.Phone == phones[0] {
			c = r.Classification
		}
	}
	if c.Intent != tenants.IntentInterested || c.Classifier != "rules" {
		t.Fatalf("classification = %+v", c)
	}
	_, body := ce.client.call("GET", "/api/v1/contacts/"+phones[0], nil)
	if !strings.Contains(string(body), `"lead_status":"hot"`) {
		t.Fatalf("lead after an interested reply = %s", body)
	}
	_, body = ce.client.call("GET", "/api/v1/contacts/"+phones[4], nil)
	if !strings.Contains(string(body), `"opted_out":true`) {
		t.Fatalf("contact after PARAR = %s", body)
	}
	var p apiPoll
	ce.waitFor(10*time.Second, "campaign done", func() bool { p = ce.poll(pollID); return p.Counts.Queued == 0 })
	if got := ce.sentTo(); got[phones[4]] != 0 || len(got) != 4 {
		t.Fatalf("after STOP the simulator log is %v; %s must get nothing", got, phones[4])
	}
	if p.Counts.Cancelled != 1 {
		t.Fatalf("counts = %+v, want the opted-out message not sent", p.Counts)
	}
	if bal, sum := ce.balance(); bal != 396 || sum != bal {
		t.Fatalf("balance %d, ledger sum %d; want 396 (the opted-out credit refunded)", bal, sum)
	}
	// The inbox page shows the reply with its label.
	status, page := ce.client.call("GET", "/app/inbox?intent=interested", nil)
	if status != 200 || !strings.Contains(string(page), "terça serve") || !strings.Contains(string(page), `data-intent="interested"`) {
		t.Fatalf("inbox = %d", status)
	}
}

// TestAutoReplies: an interested reply gets the tenant's answer (one
// credit), a second reply the same day gets none, an opt-out gets the
// confirmation once and nothing after.
func TestAutoReplies(t *testing.T) {
	ce := newCampaignEnv(t, nil)
	tenantID, instanceID := ce.connect()
	csv, phones := leadsCSV(2)
	ce.importCSV(csv)
	form := func(path, body string) {
		t.Helper()
		req, _ := http.NewRequest("POST", ce.base+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := ce.client.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("POST %s = %d", path, resp.StatusCode)
		}
	}
	form("/app/settings/auto-replies", "enabled=on&template_interested=Great!+We+will+call+you+today.&opt_out_confirmation=Done%2C+no+more+messages.")
	pollID, _ := ce.createAndSend(instanceID)
	ce.waitFor(10*time.Second, "sent", func() bool { return ce.poll(pollID).Counts.Queued == 0 })
	in, _ := ce.m.Store.Instances(context.Background(), tenantID)
	name := in[0].GatewayName
	texts := func(to string) []string {
		var out []string
		for _, s := range ce.sim.Sent() {
			if s.Number == to && s.Type == "text" {
				out = append(out, s.Text)
			}
		}
		return out
	}
	ce.sim.Reply(name, evolutionsim.Reply{From: phones[0], Text: "yes, I'm interested!"})
	ce.waitFor(5*time.Second, "automatic answer", func() bool { return len(texts(phones[0])) == 1 })
	ce.sim.Reply(name, evolutionsim.Reply{From: phones[0], Text: "count me in, really"})
	ce.sim.Reply(name, evolutionsim.Reply{From: phones[1], Text: "STOP"})
	ce.waitFor(5*time.Second, "opt-out confirmation", func() bool { return len(texts(phones[1])) == 1 })
	time.Sleep(500 * time.Millisecond) // room for a wrong second answer to show up
	if got := texts(phones[0]); len(got) != 1 || got[0] != "Great! We will call you today." {
		t.Fatalf("answers to %s = %q, want one", phones[0], got)
	}
	if got := texts(phones[1]); got[0] != "Done, no more messages." {
		t.Fatalf("opt-out confirmation = %q", got)
	}
	// 400 − 2 poll messages − 2 answers.
	if bal, sum := ce.balance(); bal != 396 || sum != bal {
		t.Fatalf("balance %d, ledger sum %d; want 396", bal, sum)
	}
}

// TestCampaignScheduled: a poll sent for a later time waits as "scheduled"
// with its credits reserved, and goes out when the time comes.
func TestCampaignScheduled(t *testing.T) {
	ce := newCampaignEnv(t, nil)
	_, instanceID := ce.connect()
	csv, _ := leadsCSV(3)
	ce.importCSV(csv)
	status, body := ce.client.call("POST", "/api/v1/polls", map[string]any{
		"question": "Later?", "options": []string{"Yes", "No"}, "instance_id": instanceID, "audience": map[string]any{"all": true}})
	if status != http.StatusCreated {
		t.Fatalf("create = %d %s", status, body)
	}
	id := decode[struct{ ID string }](t, body).ID
	if status, body := ce.client.call("POST", "/api/v1/polls/"+id+"/send", map[string]any{"at": time.Now().Add(-2 * time.Hour)}); status != 400 || !strings.Contains(string(body), `"field":"at"`) {
		t.Fatalf("send in the past = %d %s", status, body)
	}
	at := time.Now().Add(2 * time.Second)
	status, body = ce.client.call("POST", "/api/v1/polls/"+id+"/send", map[string]any{"at": at})
	if status != http.StatusAccepted || !strings.Contains(string(body), `"credits_reserved":3`) {
		t.Fatalf("schedule = %d %s", status, body)
	}
	if p := ce.poll(id); p.Status != "scheduled" || len(ce.sim.Sent()) != 0 {
		t.Fatalf("right after scheduling: status %s, %d sent", p.Status, len(ce.sim.Sent()))
	}
	if bal, _ := ce.balance(); bal != 397 {
		t.Fatalf("balance while scheduled = %d, want 397 (reserved)", bal)
	}
	ce.waitFor(10*time.Second, "scheduled sends", func() bool { return len(ce.sim.Sent()) == 3 })
	for _, s := range ce.sim.Sent() {
		if s.At.Before(at.Add(-50 * time.Millisecond)) {
			t.Fatalf("a message went at %v, before the scheduled %v", s.At, at)
		}
	}
}
