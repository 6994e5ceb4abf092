package tenants_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aibud/aibud/store"
	"github.com/aibud/aibud/tenants"
)

// The operator's use case over a real store; only password hashing (slow
// by design) and the gateways are replaced.

type plainHasher struct{}

func (plainHasher) Hash(p string) (string, error)    { return "plain:" + p, nil }
func (plainHasher) Verify(h, p string) (bool, error) { return h == "plain:"+p, nil }
func (fakeGateways) Gateway(s tenants.Shard) (tenants.Gateway, error) {
	if s.Kind == tenants.ShardSandbox || strings.Contains(s.URL, "nohealth") {
		return struct{ tenants.Gateway }{}, nil // no health check
	}
	return healthGateway{down: strings.Contains(s.URL, "down")}, nil
}

type fakeGateways struct{}

// healthGateway is a gateway that only answers health checks.
type healthGateway struct {
	tenants.Gateway
	down bool
}

func (g healthGateway) Health(ctx context.Context) error {
	if g.down {
		return errors.New("connection refused")
	}
	return nil
}

type adminEnv struct {
	a     *tenants.Admin
	st    *store.Store
	clock *clock
	ops   tenants.User // a platform admin
}

func newAdminEnv(t *testing.T) *adminEnv {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	c := &clock{now: t0}
	st, err := store.Open(store.Options{Dir: t.TempDir(), MaxOpenTenants: 4, Logger: logger, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	a := &tenants.Admin{Catalog: st, Credits: st, Instances: st, Polls: st, Shards: st, Gateways: fakeGateways{}, Audit: st,
		Billing: &tenants.Billing{Catalog: st, Credits: st, Now: c.Now, Logger: logger},
		Usage:   &tenants.Usage{Catalog: st, Counter: st, Snapshots: st, Now: c.Now, Logger: logger},
		Hasher:  plainHasher{}, NewID: store.NewID, Now: c.Now, Logger: logger}
	ops, err := a.CreateAdmin(t.Context(), "Ops@Aibud.example", "operator password")
	if err != nil {
		t.Fatal(err)
	}
	return &adminEnv{a: a, st: st, clock: c, ops: ops}
}

// tenant signs up a tenant with its owner and the Starter credits.
func (e *adminEnv) tenant(t *testing.T, email string) tenants.Account {
	t.Helper()
	acc := &tenants.Accounts{Catalog: e.st, Databases: e.st, Credits: e.st, Hasher: plainHasher{}, NewID: store.NewID, Now: e.clock.Now, Logger: e.a.Logger}
	a, err := acc.Signup(t.Context(), tenants.SignupInput{Email: email, Password: "correct horse battery", Company: strings.Split(email, "@")[0]})
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Add(time.Minute)
	return a
}

func TestAdminAccounts(t *testing.T) {
	e := newAdminEnv(t)
	ctx := t.Context()
	owner := e.tenant(t, "owner@shop.example")
	if e.ops.Email != "ops@aibud.example" || e.ops.Role != tenants.RoleAdmin || e.ops.TenantID != "" {
		t.Fatalf("admin = %+v", e.ops)
	}
	if _, err := e.a.CreateAdmin(ctx, "ops@aibud.example", "another password"); tenants.ErrorCode(err) != tenants.ECONFLICT {
		t.Fatalf("duplicate admin: %v", err)
	}
	if _, err := e.a.CreateAdmin(ctx, "new@aibud.example", "short"); tenants.ErrorField(err) != "password" {
		t.Fatalf("short password: %v", err)
	}
	for _, c := range []struct{ email, password string }{{"ops@aibud.example", "wrong password"}, {"owner@shop.example", "correct horse battery"}, {"nobody@x.example", "whatever pw"}} {
		if _, err := e.a.Login(ctx, c.email, c.password); !errors.Is(err, tenants.ErrBadLogin) {
			t.Fatalf("login %s: %v, want ErrBadLogin", c.email, err)
		}
	}
	u, err := e.a.Login(ctx, "OPS@aibud.example", "operator password")
	if err != nil || u.ID != e.ops.ID {
		t.Fatalf("login = %+v, %v", u, err)
	}
	s, err := e.a.StartSession(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := e.a.ResumeSession(ctx, s.ID); err != nil || got.ID != u.ID {
		t.Fatalf("resume = %+v, %v", got, err)
	}
	if _, err := e.a.StartSession(ctx, owner.User); tenants.ErrorCode(err) != tenants.EFORBIDDEN {
		t.Fatalf("console session for an owner: %v", err)
	}
	tenantSession, _ := (&tenants.Accounts{Catalog: e.st, NewID: store.NewID, Now: e.clock.Now}).StartSession(ctx, owner)
	if _, err := e.a.ResumeSession(ctx, tenantSession.ID); tenants.ErrorCode(err) != tenants.EUNAUTHORIZED {
		t.Fatalf("tenant session as console session: %v", err)
	}
	e.clock.Add(tenants.AdminSessionTTL)
	if _, err := e.a.ResumeSession(ctx, s.ID); tenants.ErrorCode(err) != tenants.EUNAUTHORIZED {
		t.Fatalf("expired console session: %v", err)
	}
}

func TestAdminSuspendResume(t *testing.T) {
	e := newAdminEnv(t)
	ctx := t.Context()
	acct := e.tenant(t, "owner@shop.example")
	id := acct.Tenant.ID
	if _, err := e.a.Suspend(ctx, acct.User, id, "I suspend myself"); tenants.ErrorCode(err) != tenants.EFORBIDDEN {
		t.Fatalf("owner as actor: %v", err)
	}
	if _, err := e.a.Suspend(ctx, e.ops, id, " "); tenants.ErrorField(err) != "reason" {
		t.Fatalf("no reason: %v", err)
	}
	if _, err := e.a.Suspend(ctx, e.ops, id, strings.Repeat("x", 201)); tenants.ErrorField(err) != "reason" {
		t.Fatalf("long reason: %v", err)
	}
	tn, err := e.a.Suspend(ctx, e.ops, id, " Chargeback ")
	if err != nil || tn.Status != tenants.TenantSuspended || tn.SuspendedReason != "Chargeback" {
		t.Fatalf("suspend = %+v, %v", tn, err)
	}
	if _, err := e.a.Suspend(ctx, e.ops, id, "again"); tenants.ErrorCode(err) != tenants.ECONFLICT {
		t.Fatalf("suspend twice: %v", err)
	}
	if tn, err = e.a.Resume(ctx, e.ops, id, ""); err != nil || tn.Status != tenants.TenantActive || tn.SuspendedReason != "" {
		t.Fatalf("resume = %+v, %v", tn, err)
	}
	if _, err := e.a.Resume(ctx, e.ops, id, ""); tenants.ErrorCode(err) != tenants.ECONFLICT {
		t.Fatalf("resume twice: %v", err)
	}
	if _, err := e.a.Suspend(ctx, e.ops, "01NOSUCH", "x"); tenants.ErrorCode(err) != tenants.ENOTFOUND {
		t.Fatalf("unknown tenant: %v", err)
	}
	page, err := e.a.AuditLog(ctx, id, "", 10)
	if err != nil || len(page.Entries) != 2 || page.Entries[0].Action != tenants.AuditResume || page.Entries[1].Detail != "Chargeback" || page.Entries[1].ActorEmail != "ops@aibud.example" {
		t.Fatalf("audit = %+v, %v", page, err)
	}
}

func TestAdminAdjustCredits(t *testing.T) {
	e := newAdminEnv(t)
	ctx := t.Context()
	id := e.tenant(t, "owner@shop.example").Tenant.ID
	entry, err := e.a.AdjustCredits(ctx, e.ops, id, 250, "Sorry for the outage")
	if err != nil || entry.Delta != 250 || entry.BalanceAfter != 650 || entry.Reason != "Granted by ops@aibud.example: Sorry for the outage" {
		t.Fatalf("grant = %+v, %v", entry, err)
	}
	if entry, err = e.a.AdjustCredits(ctx, e.ops, id, -600, "Reverse a mistake"); err != nil || entry.BalanceAfter != 50 || !strings.HasPrefix(entry.Reason, "Deducted by ops@aibud.example") {
		t.Fatalf("deduct = %+v, %v", entry, err)
	}
	tests := []struct {
		name   string
		delta  int64
		reason string
		field  string
	}{
		{"below zero", -51, "too much", "delta"},
		{"zero", 0, "nothing", "delta"},
		{"typo-sized", tenants.MaxAdjustment + 1, "oops", "delta"},
		{"no reason", 5, "", "reason"},
		{"reason too long with the email", 5, strings.Repeat("r", 190), "reason"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := e.a.AdjustCredits(ctx, e.ops, id, tt.delta, tt.reason); tenants.ErrorField(err) != tt.field {
				t.Fatalf("err = %v, want field %s", err, tt.field)
			}
			if bal, _ := e.st.Balance(ctx, id); bal != 50 {
				t.Fatalf("balance = %d, want 50", bal)
			}
		})
	}
	page, _ := e.a.AuditLog(ctx, id, "", 10)
	if len(page.Entries) != 2 || page.Entries[0].Detail != "-600 credits: Reverse a mistake" {
		t.Fatalf("audit = %+v", page.Entries)
	}
}

func TestAdminSupportView(t *testing.T) {
	e := newAdminEnv(t)
	ctx := t.Context()
	acct := e.tenant(t, "owner@shop.example")
	v, err := e.a.OpenSupportView(ctx, e.ops, acct.Tenant.ID, "ticket 7")
	if err != nil || v.Owner.ID != acct.User.ID || v.Tenant.ID != acct.Tenant.ID {
		t.Fatalf("open = %+v, %v", v, err)
	}
	got, admin, err := e.a.SupportAccount(ctx, e.ops.ID, acct.Tenant.ID, v.Owner.ID)
	if err != nil || admin.ID != e.ops.ID || got.User.Email != "owner@shop.example" || got.User.Role != tenants.RoleAdmin || got.User.PasswordHash != "" || got.Tenant.ID != acct.Tenant.ID {
		t.Fatalf("support account = %+v, %+v, %v", got, admin, err)
	}
	for name, adminID := range map[string]string{"a tenant owner": acct.User.ID, "an unknown user": "01NOSUCH", "nobody": ""} {
		if _, _, err := e.a.SupportAccount(ctx, adminID, acct.Tenant.ID, v.Owner.ID); tenants.ErrorCode(err) != tenants.EUNAUTHORIZED {
			t.Fatalf("support view by %s: %v", name, err)
		}
	}
	page, _ := e.a.AuditLog(ctx, acct.Tenant.ID, "", 10)
	if len(page.Entries) != 1 || page.Entries[0].Action != tenants.AuditSupportView || !strings.Contains(page.Entries[0].Detail, "ticket 7") {
		t.Fatalf("audit = %+v", page.Entries)
	}
}

func TestAdminListTenants(t *testing.T) {
	e := newAdminEnv(t)
	ctx := t.Context()
	a := e.tenant(t, "anna@alpha.example")
	b := e.tenant(t, "bruno@beta.example")
	c := e.tenant(t, "carla@gamma.example")
	e.a.AdjustCredits(ctx, e.ops, b.Tenant.ID, 100, "seed")
	today := e.clock.Now().UTC()
	for back, sent := range map[int]int{1: 3, 6: 4, 7: 10, 29: 20, 30: 1000} {
		e.st.PutUsage(ctx, tenants.DailyUsage{TenantID: a.Tenant.ID, Day: today.AddDate(0, 0, -back).Format(time.DateOnly), Sent: sent})
	}
	// A tenant whose database is gone still lists, marked unavailable.
	ghost := tenants.Tenant{ID: store.NewID(), Name: "ghost", Plan: tenants.PlanStarter, Status: tenants.TenantActive, CreatedAt: t0.Add(-time.Hour)}
	if err := e.st.PutTenant(ctx, ghost); err != nil {
		t.Fatal(err)
	}

	names := func(q tenants.TenantQuery) string {
		t.Helper()
		l, err := e.a.ListTenants(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range l.Rows {
			out = append(out, r.Tenant.Name)
		}
		return strings.Join(out, ",")
	}
	tests := []struct {
		q    tenants.TenantQuery
		want string
	}{
		{tenants.TenantQuery{}, "carla,bruno,anna,ghost"},
		{tenants.TenantQuery{Sort: tenants.SortName}, "anna,bruno,carla,ghost"},
		{tenants.TenantQuery{Sort: tenants.SortBalance, Desc: true}, "bruno,carla,anna,ghost"},
		{tenants.TenantQuery{Sort: tenants.SortSent7, Desc: true, PerPage: 1}, "anna"},
		{tenants.TenantQuery{Search: "GAMMA"}, "carla"},
		{tenants.TenantQuery{Search: b.Tenant.ID}, "bruno"},
		{tenants.TenantQuery{PerPage: 3, Page: 2}, "ghost"},
		{tenants.TenantQuery{PerPage: 3, Page: 9}, ""},
		{tenants.TenantQuery{PerPage: 1, All: true}, "carla,bruno,anna,ghost"},
	}
	for _, tt := range tests {
		if got := names(tt.q); got != tt.want {
			t.Errorf("ListTenants(%+v) = %s, want %s", tt.q, got, tt.want)
		}
	}
	l, _ := e.a.ListTenants(ctx, tenants.TenantQuery{Sort: tenants.SortName})
	if r := l.Rows[0]; r.OwnerEmail != "anna@alpha.example" || r.Sent7 != 7 || r.Sent30 != 37 || r.Balance != 400 || r.Unavailable {
		t.Fatalf("anna = %+v", r)
	}
	if r := l.Rows[3]; !r.Unavailable || r.OwnerEmail != "" {
		t.Fatalf("ghost = %+v", r)
	}
	if l.Total != 4 || l.Pages != 1 {
		t.Fatalf("list = %+v", l)
	}
	for _, q := range []tenants.TenantQuery{{Sort: "mood"}, {PerPage: tenants.MaxTenantsPerPage + 1}} {
		if _, err := e.a.ListTenants(ctx, q); tenants.ErrorCode(err) != tenants.EINVALID {
			t.Fatalf("ListTenants(%+v): %v", q, err)
		}
	}
	_ = c
}

func TestAdminShards(t *testing.T) {
	e := newAdminEnv(t)
	ctx := t.Context()
	tests := []struct {
		name  string
		shard tenants.Shard
		field string
	}{
		{"bad id", tenants.Shard{ID: "Evo 2", URL: "https://e.example", APIKey: "k"}, "id"},
		{"bad url", tenants.Shard{ID: "evo-2", URL: "evo.example", APIKey: "k"}, "url"},
		{"credentials in url", tenants.Shard{ID: "evo-2", URL: "https://u:p@e.example", APIKey: "k"}, "url"},
		{"no key", tenants.Shard{ID: "evo-2", URL: "https://e.example"}, "api_key"},
		{"capacity", tenants.Shard{ID: "evo-2", URL: "https://e.example", APIKey: "k", Capacity: 5000}, "capacity"},
		{"sandbox", tenants.Shard{ID: "evo-2", Kind: tenants.ShardSandbox, URL: "https://e.example", APIKey: "k"}, "kind"},
	}
	for _, tt := range tests {
		if _, err := e.a.AddShard(ctx, e.ops, tt.shard); tenants.ErrorField(err) != tt.field {
			t.Errorf("%s: %v, want field %s", tt.name, err, tt.field)
		}
	}
	if r, _ := e.a.ShardsReport(ctx); !r.AllFull || len(r.Shards) != 0 {
		t.Fatalf("no shards: %+v", r)
	}
	up, err := e.a.AddShard(ctx, e.ops, tenants.Shard{ID: "evo-1", URL: "https://up.example/", APIKey: "k", Capacity: 5})
	if err != nil || up.Capacity != 5 || up.URL != "https://up.example" || up.Kind != tenants.ShardEvolution {
		t.Fatalf("add = %+v, %v", up, err)
	}
	if _, err := e.a.AddShard(ctx, e.ops, tenants.Shard{ID: "evo-1", URL: "https://x.example", APIKey: "k"}); tenants.ErrorCode(err) != tenants.ECONFLICT {
		t.Fatalf("duplicate: %v", err)
	}
	e.a.AddShard(ctx, e.ops, tenants.Shard{ID: "evo-2", URL: "https://down.example", APIKey: "k"})
	e.a.AddShard(ctx, e.ops, tenants.Shard{ID: "evo-3", URL: "https://nohealth.example", APIKey: "k"})
	e.st.PutShard(ctx, tenants.Shard{ID: "sandbox", Kind: tenants.ShardSandbox, Capacity: 1000})

	r, err := e.a.ShardsReport(ctx)
	if err != nil || r.AllFull || len(r.Shards) != 4 {
		t.Fatalf("report = %+v, %v", r, err)
	}
	health := map[string]tenants.ShardHealth{}
	for _, s := range r.Shards {
		health[s.Shard.ID] = s.Health
	}
	if h := health["evo-1"]; !h.Checked || !h.OK {
		t.Errorf("evo-1 health = %+v", h)
	}
	if h := health["evo-2"]; !h.Checked || h.OK || !strings.Contains(h.Detail, "refused") {
		t.Errorf("evo-2 health = %+v", h)
	}
	if h := health["evo-3"]; h.Checked || h.OK {
		t.Errorf("evo-3 health = %+v", h)
	}
	if h := health["sandbox"]; !h.Checked || !h.OK || !strings.Contains(h.Detail, "sandbox") {
		t.Errorf("sandbox health = %+v", h)
	}

	// Every shard at 80% or more, or draining: the operator is warned.
	for _, id := range []string{"evo-2", "evo-3", "sandbox"} {
		if s, err := e.a.DrainShard(ctx, e.ops, id, true); err != nil || !s.Draining {
			t.Fatalf("drain %s = %+v, %v", id, s, err)
		}
	}
	for i := range 4 {
		if s, _, err := e.st.PlaceInstance(ctx, "tok"+string(rune('a'+i)), tenants.InstanceRoute{}); err != nil || s.ID != "evo-1" {
			t.Fatalf("placed on %s: %v", s.ID, err)
		}
	}
	if r, _ := e.a.ShardsReport(ctx); !r.AllFull {
		t.Fatalf("evo-1 at 80%% and the rest draining: not all full: %+v", r)
	}
	if _, err := e.a.DrainShard(ctx, e.ops, "evo-2", false); err != nil {
		t.Fatal(err)
	}
	if r, _ := e.a.ShardsReport(ctx); r.AllFull {
		t.Fatal("evo-2 takes numbers again, yet all full")
	}
	if _, err := e.a.DrainShard(ctx, e.ops, "evo-9", true); tenants.ErrorCode(err) != tenants.ENOTFOUND {
		t.Fatalf("drain unknown: %v", err)
	}
}
