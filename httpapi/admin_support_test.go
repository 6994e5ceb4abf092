package httpapi

import (
	"io/fs"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aibud/aibud/assets"
	"github.com/aibud/aibud/tenants"
)

// supportCookieOf returns the support cookie the client holds, or nil.
func supportCookieOf(t *testing.T, env *testEnv, c *http.Client) *http.Cookie {
	t.Helper()
	for _, ck := range c.Jar.Cookies(mustURL(t, env.srv.URL)) {
		if ck.Name == supportCookie {
			return ck
		}
	}
	return nil
}

func openSupport(t *testing.T, env *testEnv, admin *http.Client, tenantID, reason string) {
	t.Helper()
	r := env.do(t, admin, "POST", "/admin/tenants/"+tenantID+"/support", url.Values{"reason": {reason}}.Encode())
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/app" {
		t.Fatalf("open support view = %d %s %.300s", r.status, r.header.Get("Location"), r.body)
	}
	if supportCookieOf(t, env, admin) == nil {
		t.Fatal("no support cookie after opening the view")
	}
}

func auditOf(t *testing.T, r result) []tenants.AuditEntry {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("audit = %d %s", r.status, r.body)
	}
	return decode[auditPageJSON](t, r).Entries
}

func TestSupportView(t *testing.T) {
	env := newAdminEnv(t)
	owner, acct := env.signup(t, "owner@shop.example")
	otherOwner, other := env.signup(t, "other@rival.example")
	admin := env.adminClient(t)

	openSupport(t, env, admin, acct.TenantID, "ticket 42")

	// The admin sees the tenant's dashboard and API as the tenant.
	if r := env.do(t, admin, "GET", "/app", ""); r.status != http.StatusOK || !strings.Contains(r.body, "Overview") {
		t.Fatalf("dashboard in support view = %d %.300s", r.status, r.body)
	}
	me := decode[meResponse](t, env.do(t, admin, "GET", "/api/v1/me", ""))
	if me.Tenant.ID != acct.TenantID || me.User.Role != tenants.RoleAdmin || me.User.Email != "owner@shop.example" {
		t.Fatalf("me in support view = %+v", me)
	}

	// It cannot change anything: every write is 403, pages and API alike.
	for _, w := range []struct{ path, body string }{
		{"/api/v1/polls", `{"question":"Q?","options":["a","b"],"instance_id":"x","audience":{"all":true}}`},
		{"/api/v1/instances", `{"name":"Mine now"}`},
		{"/app/settings/account", "name=Hijacked&region=US&time_zone=UTC"},
		{"/app/settings/numbers", "name=Mine"},
		{"/app/polls", "question=Q&options=a%0Ab&audience=all"},
	} {
		if r := env.do(t, admin, "POST", w.path, w.body); r.status != http.StatusForbidden || !strings.Contains(r.body, "read-only support view") {
			t.Errorf("POST %s in support view = %d, want 403: %.200s", w.path, r.status, r.body)
		}
	}
	if tn, _ := env.store.Tenant(t.Context(), acct.TenantID); tn.Name != "Acme" {
		t.Fatalf("tenant renamed through the support view: %q", tn.Name)
	}

	// The opening is audited, readable by the admin and by the owner, and
	// by nobody else.
	openSupport(t, env, admin, acct.TenantID, "")
	for name, r := range map[string]result{
		"admin": env.do(t, admin, "GET", "/api/v1/admin/tenants/"+acct.TenantID+"/audit", ""),
		"owner": env.do(t, owner, "GET", "/api/v1/audit", ""),
	} {
		entries := auditOf(t, r)
		if len(entries) != 2 {
			t.Fatalf("%s sees %d audit entries, want 2: %+v", name, len(entries), entries)
		}
		first, second := entries[1], entries[0] // newest first
		if first.Action != tenants.AuditSupportView || first.ActorEmail != adminEmail || !strings.Contains(first.Detail, "ticket 42") ||
			second.Action != tenants.AuditSupportView || first.TenantID != acct.TenantID {
			t.Fatalf("%s audit = %+v", name, entries)
		}
	}
	page := env.do(t, owner, "GET", "/app/audit", "")
	mustContain(t, "owner's access log", page.body, "Support view", adminEmail, "ticket 42")
	if entries := auditOf(t, env.do(t, otherOwner, "GET", "/api/v1/audit", "")); len(entries) != 0 {
		t.Fatalf("another tenant's owner sees %d entries", len(entries))
	}
	tenantPage := env.do(t, admin, "GET", "/admin/tenants/"+acct.TenantID, "")
	mustContain(t, "console access log", tenantPage.body, "ticket 42", adminEmail)

	// Requests in the view write nothing more.
	for range 3 {
		env.do(t, admin, "GET", "/app", "")
	}
	if n := len(auditOf(t, env.do(t, owner, "GET", "/api/v1/audit", ""))); n != 2 {
		t.Fatalf("audit entries after browsing = %d, want 2", n)
	}

	// Ending it goes back to the console; /app is no longer the tenant's.
	r := env.do(t, admin, "POST", "/admin/support/end", "")
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/admin/tenants/"+acct.TenantID {
		t.Fatalf("end = %d %s", r.status, r.header.Get("Location"))
	}
	if r := env.do(t, admin, "GET", "/app", ""); r.status != http.StatusSeeOther || !strings.HasPrefix(r.header.Get("Location"), "/login") {
		t.Fatalf("/app after ending = %d %s", r.status, r.header.Get("Location"))
	}
	_ = other
}

func TestSupportViewExpiresAndCannotBeForged(t *testing.T) {
	env := newAdminEnv(t)
	owner, acct := env.signup(t, "owner@shop.example")
	admin := env.adminClient(t)
	u := mustURL(t, env.srv.URL)
	adminUser, err := env.store.UserByEmail(t.Context(), adminEmail)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("an hour later the view is gone", func(t *testing.T) {
		openSupport(t, env, admin, acct.TenantID, "")
		env.clock.Add(supportTTL + time.Second)
		if r := env.do(t, admin, "GET", "/app", ""); r.status != http.StatusSeeOther {
			t.Fatalf("/app with an expired view = %d, want a redirect to log in", r.status)
		}
	})

	// A tenant owner who plants a support cookie stays themselves: their
	// own session is used and writes work.
	forged := map[string]string{
		"signed with another secret": forgeSupport(t, []byte("not the server secret, not at all!!"), env.srv.URL, adminUser.ID, acct.TenantID, env.clock.Now().Add(time.Hour)),
		"naming a non-admin":         forgeSupport(t, env.api.cfg.Secret, env.srv.URL, acct.UserID, acct.TenantID, env.clock.Now().Add(time.Hour)),
	}
	for _, ck := range owner.Jar.Cookies(u) {
		if ck.Name == sessionCookie {
			forged["a session token"] = ck.Value
		}
	}
	for name, token := range forged {
		t.Run(name, func(t *testing.T) {
			owner.Jar.SetCookies(u, []*http.Cookie{{Name: supportCookie, Value: token, Path: "/"}})
			me := decode[meResponse](t, env.do(t, owner, "GET", "/api/v1/me", ""))
			if me.User.Role != tenants.RoleOwner {
				t.Fatalf("forged support cookie accepted: %+v", me)
			}
			if r := env.do(t, owner, "POST", "/api/v1/instances", `{"name":"Still mine"}`); r.status == http.StatusForbidden {
				t.Fatalf("owner blocked by a forged support cookie: %s", r.body)
			}
		})
	}
}

// TestLayoutBanners checks the support-view and suspension banners and the
// access-log link of the layout. It runs once those lines are in
// layout.html (the layout belongs to another file's owner).
func TestLayoutBanners(t *testing.T) {
	layout, err := fs.ReadFile(assets.Templates(), "layout.html")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(layout), `id="support-banner"`) {
		t.Skip("layout.html has no support banner yet")
	}
	env := newAdminEnv(t)
	owner, acct := env.signup(t, "owner@shop.example")
	admin := env.adminClient(t)
	page := env.do(t, owner, "GET", "/app", "")
	if strings.Contains(page.body, `id="support-banner"`) || strings.Contains(page.body, `id="suspended-banner"`) {
		t.Fatal("banners shown to an owner of an active tenant")
	}
	mustContain(t, "owner's nav", page.body, `href="/app/audit"`)
	env.do(t, admin, "POST", "/api/v1/admin/tenants/"+acct.TenantID+"/suspend", `{"reason":"Unpaid <invoice>"}`)
	mustContain(t, "suspended owner's composer", env.do(t, owner, "GET", "/app/polls/new", "").body,
		`id="suspended-banner"`, "Unpaid &lt;invoice&gt;")
	openSupport(t, env, admin, acct.TenantID, "")
	mustContain(t, "support view", env.do(t, admin, "GET", "/app", "").body,
		`id="support-banner"`, "Support view (read-only)", `action="/admin/support/end"`)
	console := env.do(t, admin, "GET", "/admin/tenants", "").body
	if strings.Contains(console, "Get started") {
		t.Fatal("the console shows the public header")
	}
}
