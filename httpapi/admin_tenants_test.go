package httpapi

import (
	"encoding/csv"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aibud/aibud/tenants"
)

// connectedNumber adds a number on the simulator shard and marks it open,
// as the gateway's connection webhook would.
func connectedNumber(t *testing.T, env *testEnv, c *http.Client, tenantID string) string {
	t.Helper()
	id := env.createInstanceB(t, c)
	if _, err := env.store.UpdateInstance(t.Context(), tenantID, id, func(in *tenants.Instance) error {
		in.State, in.Number, in.ConnectedAt = tenants.StateOpen, "5511900000001", env.clock.Now().Add(-90*24*time.Hour)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return id
}

func draftPoll(t *testing.T, env *testEnv, c *http.Client, instanceID string) string {
	t.Helper()
	r := env.do(t, c, "POST", "/api/v1/polls", `{"question":"Coffee?","options":["Yes","No"],"instance_id":"`+instanceID+`","audience":{"phones":["+5511987650001","+5511987650002"]}}`)
	if r.status != http.StatusCreated {
		t.Fatalf("create poll = %d %s", r.status, r.body)
	}
	return decode[pollCreated](t, r).ID
}

func TestSuspendBlocksSendingAndResumeRestoresIt(t *testing.T) {
	env := newAdminEnv(t)
	owner, acct := env.signup(t, "owner@shop.example")
	admin := env.adminClient(t)
	sim := withSimulator(t, env)
	number := decode[instanceJSON](t, env.do(t, owner, "POST", "/api/v1/instances", `{"name":"Sales"}`)).ID
	in, err := env.store.Instance(t.Context(), acct.TenantID, number)
	if err != nil {
		t.Fatal(err)
	}
	base := "/api/v1/admin/tenants/" + acct.TenantID

	if r := env.do(t, admin, "POST", base+"/suspend", `{"reason":"  "}`); r.status != http.StatusBadRequest || !strings.Contains(r.body, `"field":"reason"`) {
		t.Fatalf("suspend without reason = %d %s", r.status, r.body)
	}
	r := env.do(t, admin, "POST", base+"/suspend", `{"reason":"Unpaid invoice #77"}`)
	if got := decode[tenants.Tenant](t, r); r.status != http.StatusOK || got.Status != tenants.TenantSuspended || got.SuspendedReason != "Unpaid invoice #77" {
		t.Fatalf("suspend = %d %s", r.status, r.body)
	}
	if r := env.do(t, admin, "POST", base+"/suspend", `{"reason":"again"}`); r.status != http.StatusConflict {
		t.Fatalf("suspend twice = %d, want 409", r.status)
	}

	// Webhooks are still stored: the phone links while the account is
	// suspended, and drafts can still be written.
	if err := sim.Scan(in.GatewayName, "5511987654321", "Shop"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the connection webhook stored", func() bool {
		return decode[instanceJSON](t, env.do(t, owner, "GET", "/api/v1/instances/"+number, "")).State == tenants.StateOpen
	})
	poll := draftPoll(t, env, owner, number)

	// Through the API: now and scheduled.
	for _, body := range []string{"", `{"at":"` + env.clock.Now().Add(time.Hour).UTC().Format(time.RFC3339) + `"}`} {
		r := env.do(t, owner, "POST", "/api/v1/polls/"+poll+"/send", body)
		if r.status != http.StatusForbidden || !strings.Contains(r.body, "suspended") {
			t.Fatalf("send %q while suspended = %d %s", body, r.status, r.body)
		}
	}
	// Through the composer page.
	form := url.Values{"question": {"Tea?"}, "options": {"Yes\nNo"}, "instance_id": {number},
		"audience": {"phones"}, "phones": {"+5511987650003"}}.Encode()
	if r := env.do(t, owner, "POST", "/app/polls", form); r.status != http.StatusForbidden || !strings.Contains(r.body, "suspended") {
		t.Fatalf("composer send while suspended = %d %.300s", r.status, r.body)
	}
	if bal, _ := env.store.Balance(t.Context(), acct.TenantID); bal != tenants.StarterCredits {
		t.Fatalf("credits reserved while suspended: balance %d", bal)
	}
	page := env.do(t, admin, "GET", "/admin/tenants/"+acct.TenantID, "")
	mustContain(t, "tenant page", page.body, "Unpaid invoice #77", `id="resume-tenant"`)

	r = env.do(t, admin, "POST", base+"/resume", "")
	if got := decode[tenants.Tenant](t, r); r.status != http.StatusOK || got.Status != tenants.TenantActive || got.SuspendedReason != "" {
		t.Fatalf("resume = %d %s", r.status, r.body)
	}
	if r := env.do(t, admin, "POST", base+"/resume", ""); r.status != http.StatusConflict {
		t.Fatalf("resume twice = %d, want 409", r.status)
	}
	if r := env.do(t, owner, "POST", "/api/v1/polls/"+poll+"/send", ""); r.status != http.StatusAccepted {
		t.Fatalf("send after resume = %d %s", r.status, r.body)
	}
	if r := env.do(t, owner, "POST", "/app/polls", form); r.status != http.StatusSeeOther {
		t.Fatalf("composer send after resume = %d %.300s", r.status, r.body)
	}

	// The owner can read both actions in their access log.
	var actions []tenants.AuditAction
	for _, e := range auditOf(t, env.do(t, owner, "GET", "/api/v1/audit", "")) {
		actions = append(actions, e.Action)
	}
	if strings.Join([]string{string(actions[0]), string(actions[1])}, ",") != "resume,suspend" {
		t.Fatalf("audit actions = %v", actions)
	}
}

func TestSuspendAndResumeThroughTheConsolePage(t *testing.T) {
	env := newAdminEnv(t)
	_, acct := env.signup(t, "owner@shop.example")
	admin := env.adminClient(t)
	path := "/admin/tenants/" + acct.TenantID
	if r := env.do(t, admin, "POST", path+"/suspend", "reason="); r.status != http.StatusBadRequest || !strings.Contains(r.body, "A reason is required") ||
		!strings.Contains(r.body, `id="suspend-reason" name="reason" type="text" maxlength="200" required value="" aria-invalid="true"`) {
		t.Fatalf("suspend form without reason = %d %.500s", r.status, r.body)
	}
	if r := env.do(t, admin, "POST", path+"/suspend", "reason=Spam+complaints"); r.status != http.StatusSeeOther || r.header.Get("Location") != path+"?done=suspended" {
		t.Fatalf("suspend form = %d %s", r.status, r.header.Get("Location"))
	}
	mustContain(t, "after suspend", env.do(t, admin, "GET", path+"?done=suspended", "").body, "Spam complaints", "The tenant is suspended")
	if r := env.do(t, admin, "POST", path+"/resume", ""); r.status != http.StatusSeeOther {
		t.Fatalf("resume form = %d %.300s", r.status, r.body)
	}
	if tn, _ := env.store.Tenant(t.Context(), acct.TenantID); tn.Status != tenants.TenantActive {
		t.Fatalf("status after resume = %s", tn.Status)
	}
}

func TestAdminCredits(t *testing.T) {
	env := newAdminEnv(t)
	owner, acct := env.signup(t, "owner@shop.example")
	admin := env.adminClient(t)
	base := "/api/v1/admin/tenants/" + acct.TenantID + "/credits"

	tests := []struct {
		name, body string
		status     int
		field      string
		balance    int64
	}{
		{"grant", `{"delta":100,"reason":"Goodwill for the outage"}`, http.StatusCreated, "", 500},
		{"deduct", `{"delta":-50,"reason":"Duplicate grant"}`, http.StatusCreated, "", 450},
		{"deduct below zero refused", `{"delta":-451,"reason":"Too much"}`, http.StatusBadRequest, "delta", 450},
		{"reason required", `{"delta":10,"reason":""}`, http.StatusBadRequest, "reason", 450},
		{"zero refused", `{"delta":0,"reason":"nothing"}`, http.StatusBadRequest, "delta", 450},
		{"unknown tenant", `{"delta":10,"reason":"x"}`, http.StatusNotFound, "", 450},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := base
			if tt.status == http.StatusNotFound {
				path = "/api/v1/admin/tenants/01NOSUCHTENANT/credits"
			}
			r := env.do(t, admin, "POST", path, tt.body)
			if r.status != tt.status || (tt.field != "" && !strings.Contains(r.body, `"field":"`+tt.field+`"`)) {
				t.Fatalf("= %d %s, want %d field %q", r.status, r.body, tt.status, tt.field)
			}
			if bal, _ := env.store.Balance(t.Context(), acct.TenantID); bal != tt.balance {
				t.Fatalf("balance = %d, want %d", bal, tt.balance)
			}
		})
	}

	// The console form deducts with a reason too.
	form := url.Values{"direction": {"deduct"}, "amount": {"25"}, "reason": {"Chargeback"}}.Encode()
	if r := env.do(t, admin, "POST", "/admin/tenants/"+acct.TenantID+"/credits", form); r.status != http.StatusSeeOther {
		t.Fatalf("credits form = %d %.300s", r.status, r.body)
	}
	form = url.Values{"direction": {"deduct"}, "amount": {"5000"}, "reason": {"Way too much"}}.Encode()
	if r := env.do(t, admin, "POST", "/admin/tenants/"+acct.TenantID+"/credits", form); r.status != http.StatusBadRequest || !strings.Contains(r.body, "Cannot deduct 5000 credits: the balance is 425.") {
		t.Fatalf("credits form below zero = %d %.300s", r.status, r.body)
	}

	// The tenant's own ledger names the admin on each adjustment.
	ledger := decode[creditsResponse](t, env.do(t, owner, "GET", "/api/v1/credits", ""))
	want := []struct {
		delta  int64
		reason string
	}{
		{-25, "Deducted by " + adminEmail + ": Chargeback"},
		{-50, "Deducted by " + adminEmail + ": Duplicate grant"},
		{100, "Granted by " + adminEmail + ": Goodwill for the outage"},
	}
	for i, w := range want {
		if e := ledger.Ledger[i]; e.Delta != w.delta || e.Reason != w.reason {
			t.Fatalf("ledger[%d] = %+v, want %+v", i, e, w)
		}
	}
	if ledger.Balance != 425 {
		t.Fatalf("balance = %d, want 425", ledger.Balance)
	}
	mustContain(t, "console ledger", env.do(t, admin, "GET", "/admin/tenants/"+acct.TenantID, "").body, "Deducted by "+adminEmail+": Chargeback")
}

func TestAdminSetPlan(t *testing.T) {
	env := newAdminEnv(t)
	_, acct := env.signup(t, "owner@shop.example")
	admin := env.adminClient(t)
	base := "/api/v1/admin/tenants/" + acct.TenantID + "/plan"
	if r := env.do(t, admin, "POST", base, `{"plan":"platinum","reason":"x"}`); r.status != http.StatusBadRequest || !strings.Contains(r.body, `"field":"plan"`) {
		t.Fatalf("unknown plan = %d %s", r.status, r.body)
	}
	if r := env.do(t, admin, "POST", base, `{"plan":"pro"}`); r.status != http.StatusBadRequest || !strings.Contains(r.body, `"field":"reason"`) {
		t.Fatalf("plan without reason = %d %s", r.status, r.body)
	}
	r := env.do(t, admin, "POST", base, `{"plan":"pro","reason":"Agency deal"}`)
	if got := decode[tenants.Tenant](t, r); r.status != http.StatusOK || got.Plan != tenants.PlanPro {
		t.Fatalf("set plan = %d %s", r.status, r.body)
	}
	if r := env.do(t, admin, "POST", "/admin/tenants/"+acct.TenantID+"/plan", "plan=growth&reason=Downgrade"); r.status != http.StatusSeeOther {
		t.Fatalf("plan form = %d %.300s", r.status, r.body)
	}
	if tn, _ := env.store.Tenant(t.Context(), acct.TenantID); tn.Plan != tenants.PlanGrowth {
		t.Fatalf("plan = %s, want growth", tn.Plan)
	}
}

func TestAdminTenantsListAndCSV(t *testing.T) {
	env := newAdminEnv(t)
	admin := env.adminClient(t)
	var ids []string
	for _, email := range []string{"anna@alpha.example", "bruno@beta.example", "carla@gamma.example"} {
		_, acct := env.signup(t, email)
		ids = append(ids, acct.TenantID)
		env.clock.Add(time.Minute)
	}
	env.do(t, admin, "POST", "/api/v1/admin/tenants/"+ids[0]+"/credits", `{"delta":1000,"reason":"seed"}`)
	env.store.UpdateTenant(t.Context(), ids[1], func(tn *tenants.Tenant) error { tn.Name = "=HYPERLINK(\"x\")"; return nil })
	day := func(back int) string { return env.clock.Now().UTC().AddDate(0, 0, -back).Format(time.DateOnly) }
	for _, u := range []tenants.DailyUsage{{TenantID: ids[2], Day: day(1), Sent: 5}, {TenantID: ids[2], Day: day(10), Sent: 7}, {TenantID: ids[2], Day: day(40), Sent: 100}} {
		if err := env.store.PutUsage(t.Context(), u); err != nil {
			t.Fatal(err)
		}
	}

	list := func(query string) tenantListJSON {
		t.Helper()
		r := env.do(t, admin, "GET", "/api/v1/admin/tenants"+query, "")
		if r.status != http.StatusOK {
			t.Fatalf("list %s = %d %s", query, r.status, r.body)
		}
		return decode[tenantListJSON](t, r)
	}
	order := func(l tenantListJSON) string {
		var out []string
		for _, row := range l.Tenants {
			out = append(out, row.OwnerEmail[:1])
		}
		return strings.Join(out, "")
	}
	for query, want := range map[string]string{
		"":                       "cba", // newest first
		"?sort=created&dir=asc":  "abc",
		"?sort=balance&dir=desc": "acb", // ties newest first
		"?sort=sent30&dir=desc":  "cba",
		"?sort=owner&dir=asc":    "abc",
		"?q=BETA":                "b",
		"?q=" + ids[2]:           "c",
		"?per_page=2&page=2&dir=asc&sort=created": "c",
	} {
		if got := order(list(query)); got != want {
			t.Errorf("list %q = %s, want %s", query, got, want)
		}
	}
	if l := list("?per_page=2"); l.Total != 3 || l.Pages != 2 || len(l.Tenants) != 2 {
		t.Fatalf("page 1 of 2 = %+v", l)
	}
	c := list("?q=carla").Tenants[0]
	if c.Sent7 != 5 || c.Sent30 != 12 || c.Balance != tenants.StarterCredits || c.Plan != tenants.PlanStarter || c.Status != tenants.TenantActive {
		t.Fatalf("carla's row = %+v", c)
	}
	if r := env.do(t, admin, "GET", "/api/v1/admin/tenants?sort=mood", ""); r.status != http.StatusBadRequest {
		t.Fatalf("bad sort = %d", r.status)
	}

	page := env.do(t, admin, "GET", "/admin/tenants?sort=balance&dir=desc", "")
	mustContain(t, "tenants page", page.body, "anna@alpha.example", "1,400", `aria-sort="descending"`, "/admin/tenants.csv?")

	r := env.do(t, admin, "GET", "/admin/tenants.csv?sort=created&dir=asc", "")
	if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "text/csv") {
		t.Fatalf("csv = %d %s", r.status, r.header.Get("Content-Type"))
	}
	rows, err := csv.NewReader(strings.NewReader(r.body)).ReadAll()
	if err != nil || len(rows) != 4 {
		t.Fatalf("csv rows = %d, %v: %s", len(rows), err, r.body)
	}
	if rows[0][2] != "owner_email" || rows[1][2] != "anna@alpha.example" || rows[1][6] != "1400" || rows[3][10] != "12" {
		t.Fatalf("csv = %v", rows)
	}
	if rows[2][1] != `'=HYPERLINK("x")` {
		t.Fatalf("formula not neutralised: %q", rows[2][1])
	}
}

func TestAdminTenantPage(t *testing.T) {
	env := newAdminEnv(t)
	owner, acct := env.signup(t, "owner@shop.example")
	admin := env.adminClient(t)
	number := connectedNumber(t, env, owner, acct.TenantID)
	draftPoll(t, env, owner, number)
	yesterday := env.clock.Now().UTC().AddDate(0, 0, -1).Format(time.DateOnly)
	if err := env.store.PutUsage(t.Context(), tenants.DailyUsage{TenantID: acct.TenantID, Day: yesterday, Sent: 3}); err != nil {
		t.Fatal(err)
	}

	r := env.do(t, admin, "GET", "/admin/tenants/"+acct.TenantID, "")
	if r.status != http.StatusOK {
		t.Fatalf("tenant page = %d %.300s", r.status, r.body)
	}
	mustContain(t, "tenant page", r.body, "owner@shop.example", "Coffee?", "evo-1", "open", "5511900000001",
		`id="tenant-ledger"`, "Welcome credits", `id="usage-chart"`, `id="open-support"`, `id="suspend-tenant"`)

	d := decode[tenantDetailJSON](t, env.do(t, admin, "GET", "/api/v1/admin/tenants/"+acct.TenantID, ""))
	if d.OwnerEmail != "owner@shop.example" || len(d.Numbers) != 1 || d.Numbers[0].ShardID != "evo-1" || len(d.Campaigns) != 1 ||
		len(d.Usage) != 30 || len(d.Ledger) != 1 || d.Balance != tenants.StarterCredits {
		t.Fatalf("tenant detail = %+v", d)
	}
	if raw := env.do(t, admin, "GET", "/api/v1/admin/tenants/"+acct.TenantID, "").body; strings.Contains(raw, "gateway_token") || strings.Contains(raw, "webhook_token") {
		t.Fatal("tenant detail leaks number secrets")
	}
	if r := env.do(t, admin, "GET", "/admin/tenants/01NOSUCHTENANT", ""); r.status != http.StatusNotFound {
		t.Fatalf("unknown tenant page = %d", r.status)
	}
}

func TestAdminEraseTenant(t *testing.T) {
	env := newTestEnv(t, withAdmin, withDataRights)
	if _, err := env.api.deps.Admin.CreateAdmin(t.Context(), adminEmail, adminPassword); err != nil {
		t.Fatal(err)
	}
	owner, acct := env.signup(t, "leaving@shop.example")
	_, stays := env.signup(t, "staying@shop.example")
	admin := env.adminClient(t)
	path := "/admin/tenants/" + acct.TenantID

	mustContain(t, "tenant page", env.do(t, admin, "GET", path, "").body,
		`href="/api/v1/admin/tenants/`+acct.TenantID+`/export"`, `id="erase-tenant"`)
	for _, bad := range []struct{ form, want string }{
		{url.Values{"reason": {"Asked by email"}, "confirm": {stays.TenantID}}.Encode(), "Type the tenant&#39;s id to confirm"},
		{url.Values{"reason": {""}, "confirm": {acct.TenantID}}.Encode(), "A reason is required"},
	} {
		if r := env.do(t, admin, "POST", path+"/erase", bad.form); r.status != http.StatusBadRequest || !strings.Contains(r.body, bad.want) {
			t.Fatalf("erase %s = %d %.300s", bad.form, r.status, r.body)
		}
	}
	r := env.do(t, admin, "POST", path+"/erase", url.Values{"reason": {"Asked by email"}, "confirm": {acct.TenantID}}.Encode())
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/admin/tenants?done=erased" {
		t.Fatalf("erase = %d %s %.300s", r.status, r.header.Get("Location"), r.body)
	}
	if l := decode[tenantListJSON](t, env.do(t, admin, "GET", "/api/v1/admin/tenants", "")); l.Total != 1 || l.Tenants[0].ID != stays.TenantID {
		t.Fatalf("tenants after erase = %+v", l)
	}
	entries := auditOf(t, env.do(t, admin, "GET", "/api/v1/admin/tenants/"+acct.TenantID+"/audit", ""))
	if len(entries) != 1 || entries[0].Action != tenants.AuditErase || entries[0].Detail != "Asked by email" || entries[0].ActorEmail != adminEmail {
		t.Fatalf("tombstone = %+v", entries)
	}
	if r := env.do(t, owner, "GET", "/api/v1/me", ""); r.status == http.StatusOK {
		t.Fatal("the erased tenant's owner is still logged in")
	}
	if r := env.do(t, admin, "POST", "/api/v1/admin/tenants/"+stays.TenantID+"/erase", `{"reason":""}`); r.status != http.StatusBadRequest {
		t.Fatalf("API erase without reason = %d %s", r.status, r.body)
	}
	if r := env.do(t, admin, "POST", "/api/v1/admin/tenants/"+stays.TenantID+"/erase", `{"reason":"Duplicate account"}`); r.status != http.StatusNoContent {
		t.Fatalf("API erase = %d %s", r.status, r.body)
	}
}
