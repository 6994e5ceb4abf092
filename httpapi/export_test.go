package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/aibud/aibud/store"
	"github.com/aibud/aibud/tenants"
)

// withDataRights wires tenant export, account deletion and contact export
// over the env's store, with Stripe off.
func withDataRights(cfg *Config, d *Deps) {
	st := d.Credits.(*store.Store)
	d.Exporter = st
	d.Eraser = &tenants.Eraser{Catalog: st, Numbers: d.Numbers, Data: st, Audit: st, Hasher: Argon2idHasher{},
		Contacts: st, Polls: st, NewID: store.NewID, Now: cfg.Now, Logger: cfg.Logger}
}

func TestAccountDelete(t *testing.T) {
	env := newTestEnv(t, withDataRights)
	c, me := env.signup(t, "leaving@example.com")
	other, _ := env.signup(t, "staying@example.com")
	tests := []struct {
		name, body string
		status     int
		want       string
	}{
		{"no body", ``, 400, `"field":"body"`},
		{"no password", `{}`, 400, `"field":"password"`},
		{"wrong password", `{"password":"not my password"}`, 400, `Wrong password.`},
		{"right password", `{"password":"correct horse battery"}`, 204, ``},
	}
	for _, tt := range tests {
		r := env.do(t, c, "POST", "/api/v1/account/delete", tt.body)
		if r.status != tt.status || !strings.Contains(r.body, tt.want) {
			t.Fatalf("%s: %d %s; want %d with %q", tt.name, r.status, r.body, tt.status, tt.want)
		}
	}
	if r := env.do(t, c, "GET", "/api/v1/me", ""); r.status != http.StatusUnauthorized {
		t.Errorf("me after deleting the account: %d %s; want 401", r.status, r.body)
	}
	r := env.do(t, env.client(), "POST", "/api/v1/login", `{"email":"leaving@example.com","password":"correct horse battery"}`)
	if r.status != http.StatusUnauthorized {
		t.Errorf("log-in after deleting the account: %d %s", r.status, r.body)
	}
	if _, err := env.store.Tenant(context.Background(), me.TenantID); tenants.ErrorCode(err) != tenants.ENOTFOUND {
		t.Errorf("tenant after deletion: %v", err)
	}
	page, err := env.store.AuditEntries(context.Background(), me.TenantID, "", 5)
	if err != nil || len(page.Entries) != 1 || page.Entries[0].Action != tenants.AuditErase || page.Entries[0].ActorID != me.UserID {
		t.Errorf("audit log = %+v, %v; want the owner's erase", page.Entries, err)
	}
	if r := env.do(t, other, "GET", "/api/v1/me", ""); r.status != http.StatusOK {
		t.Errorf("the other tenant's owner: %d %s", r.status, r.body)
	}
	if r := env.do(t, env.client(), "POST", "/api/v1/account/delete", `{"password":"x"}`); r.status != http.StatusUnauthorized {
		t.Errorf("logged out: %d", r.status)
	}
}

func TestContactDataExport(t *testing.T) {
	env := newTestEnv(t, withDataRights)
	c, _ := env.signup(t, "shop@example.com")
	other, _ := env.signup(t, "rival@example.com")
	if r := env.do(t, c, "POST", "/api/v1/contacts", `{"phone":"+5511987654321","name":"Ana","tags":["vip"]}`); r.status != http.StatusCreated {
		t.Fatalf("create contact: %d %s", r.status, r.body)
	}
	r := env.do(t, c, "GET", "/api/v1/contacts/+5511987654321/export", "")
	if r.status != http.StatusOK || !strings.Contains(r.header.Get("Content-Disposition"), `filename="contact-5511987654321.json"`) {
		t.Fatalf("export: %d %v %s", r.status, r.header, r.body)
	}
	var d tenants.ContactData
	if err := json.Unmarshal([]byte(r.body), &d); err != nil || d.Contact.Name != "Ana" || d.Messages == nil || d.Replies == nil {
		t.Fatalf("export body = %+v, %v", d, err)
	}
	for _, tt := range []struct {
		client *http.Client
		path   string
		status int
	}{
		{c, "/api/v1/contacts/5511000000000/export", 404},
		{other, "/api/v1/contacts/5511987654321/export", 404}, // another tenant's contact
		{env.client(), "/api/v1/contacts/5511987654321/export", 401},
	} {
		if r := env.do(t, tt.client, "GET", tt.path, ""); r.status != tt.status {
			t.Errorf("GET %s: %d %s; want %d", tt.path, r.status, r.body, tt.status)
		}
	}
}

// TestAdminTenantExport downloads an export through the console route and
// imports it into another store.
func TestAdminTenantExport(t *testing.T) {
	env := newTestEnv(t, withAdmin, withDataRights)
	if _, err := env.api.deps.Admin.CreateAdmin(t.Context(), adminEmail, adminPassword); err != nil {
		t.Fatal(err)
	}
	owner, me := env.signup(t, "exported@example.com")
	path := "/api/v1/admin/tenants/" + me.TenantID + "/export"

	r := env.do(t, env.adminClient(t), "GET", path, "")
	if r.status != http.StatusOK || r.header.Get("Content-Type") != "application/octet-stream" ||
		!strings.Contains(r.header.Get("Content-Disposition"), "aibud-tenant-"+me.TenantID) {
		t.Fatalf("export: %d %v", r.status, r.header)
	}
	dst, err := store.Open(store.Options{Dir: t.TempDir(), MaxOpenTenants: 2, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	m, err := dst.ImportTenant(context.Background(), bytes.NewReader([]byte(r.body)), "")
	if err != nil || m.TenantID != me.TenantID {
		t.Fatalf("import of the download: %+v, %v", m.Counts, err)
	}
	if bal, err := dst.Balance(context.Background(), me.TenantID); err != nil || bal != me.Credits {
		t.Errorf("imported balance = %d, %v; want %d", bal, err, me.Credits)
	}

	if r := env.do(t, env.adminClient(t), "GET", "/api/v1/admin/tenants/01UNKNOWN/export", ""); r.status != http.StatusNotFound || !strings.Contains(r.body, "Tenant not found") {
		t.Errorf("unknown tenant: %d %s", r.status, r.body)
	}
	if r := env.do(t, owner, "GET", path, ""); r.status != http.StatusNotFound || strings.Contains(r.body, "aibud-tenant-export") {
		t.Errorf("a tenant owner downloading: %d", r.status)
	}
}
