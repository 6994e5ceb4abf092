package main

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aibud/aibud/queue/redistest"
)

// TestSandboxCampaign is `make run` with no gateway configured: a number
// connects with the sandbox's "simulate the scan", a poll goes out, and the
// campaign page's simulate buttons vote and reply — the product on one
// machine, nothing reaching WhatsApp.
func TestSandboxCampaign(t *testing.T) {
	env := testEnv{"AIBUD_DATA_DIR": t.TempDir(), "REDIS_URL": redistest.Start(t),
		"AIBUD_SEND_INTERVAL": "off", "AIBUD_SEND_JITTER": "off", "AIBUD_DAILY_CAP": "off", "AIBUD_WARMUP": "off", "AIBUD_QUIET_HOURS": "off"}
	env.setAddr(t)
	m, base, _ := runAibud(t, env)
	c := newAPIClient(t, base)
	acct := c.signup()
	status, body := c.call("POST", "/api/v1/instances", map[string]string{"name": "Sandbox line"})
	if status != http.StatusCreated || !strings.Contains(string(body), `"sandbox":true`) {
		t.Fatalf("create instance = %d %s", status, body)
	}
	inst := decode[struct{ ID string }](t, body)
	form := func(path string, vals url.Values) int {
		t.Helper()
		req, _ := http.NewRequest("POST", base+path, strings.NewReader(vals.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		client := *c.http
		client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if st := form("/app/settings/numbers/"+inst.ID+"/sandbox-scan", nil); st != http.StatusSeeOther {
		t.Fatalf("simulate scan = %d", st)
	}
	if _, body := c.call("GET", "/api/v1/instances/"+inst.ID, nil); !strings.Contains(string(body), `"state":"open"`) {
		t.Fatalf("after the simulated scan: %s", body)
	}
	csv, phones := leadsCSV(3)
	req, _ := http.NewRequest("POST", base+"/api/v1/contacts/import", strings.NewReader(csv))
	req.Header.Set("Content-Type", "text/csv")
	if resp, err := c.http.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("import: %v", err)
	}
	status, body = c.call("POST", "/api/v1/polls", map[string]any{"question": "Coffee or tea?", "options": []string{"Coffee", "Tea"},
		"instance_id": inst.ID, "audience": map[string]any{"all": true}})
	if status != http.StatusCreated {
		t.Fatalf("create poll = %d %s", status, body)
	}
	poll := decode[struct{ ID string }](t, body)
	if status, body := c.call("POST", "/api/v1/polls/"+poll.ID+"/send", nil); status != http.StatusAccepted {
		t.Fatalf("send = %d %s", status, body)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		_, body = c.call("GET", "/api/v1/polls/"+poll.ID, nil)
		// leadsCSV's first number ends in 000, which the sandbox treats as
		// not on WhatsApp so the failure path can be tried too.
		if strings.Contains(string(body), `"read":2`) && strings.Contains(string(body), `"failed":1`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sandbox statuses did not reach read: %s", body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if st := form("/app/polls/"+poll.ID+"/simulate", url.Values{"phone": {phones[1]}, "option": {"Tea"}}); st != http.StatusSeeOther {
		t.Fatalf("simulate vote = %d", st)
	}
	if st := form("/app/polls/"+poll.ID+"/simulate", url.Values{"phone": {phones[2]}, "text": {"I prefer coffee, thanks!"}}); st != http.StatusSeeOther {
		t.Fatalf("simulate reply = %d", st)
	}
	_, body = c.call("GET", "/api/v1/polls/"+poll.ID, nil)
	if !strings.Contains(string(body), `{"option":"Tea","votes":1}`) {
		t.Fatalf("results after a simulated vote: %s", body)
	}
	_, body = c.call("GET", "/api/v1/replies?poll_id="+poll.ID, nil)
	if !strings.Contains(string(body), "I prefer coffee") {
		t.Fatalf("replies after a simulated reply: %s", body)
	}
	if got := len(m.Sandbox.Sent()); got != 2 {
		t.Fatalf("sandbox sent %d messages, want 2", got)
	}
	if bal, err := m.Store.Balance(context.Background(), acct.TenantID); err != nil || bal != 398 {
		t.Fatalf("balance = %d (%v), want 398 (the failed send refunded)", bal, err)
	}
}
