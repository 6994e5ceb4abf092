package httpapi

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aibud/aibud/store"
	"github.com/aibud/aibud/tenants"
	"github.com/golang-jwt/jwt/v5"
)

const (
	adminEmail    = "ops@aibud.example"
	adminPassword = "operator password 1"
)

// withAdmin wires the operator console over the test env's store, with a
// hand-set-plan billing (no Stripe), like a server without Stripe keys.
func withAdmin(cfg *Config, d *Deps) {
	st := d.Credits.(*store.Store)
	billing := &tenants.Billing{Catalog: st, Credits: st, Now: cfg.Now, Logger: cfg.Logger}
	d.Admin = &tenants.Admin{Catalog: st, Credits: st, Billing: billing, Usage: d.Usage, Instances: st, Polls: st,
		Shards: st, Gateways: d.Numbers.Gateways, Audit: st, Hasher: Argon2idHasher{}, NewID: store.NewID,
		Now: cfg.Now, Logger: cfg.Logger}
}

// newAdminEnv is a test env with the console and one platform admin.
func newAdminEnv(t *testing.T) *testEnv {
	t.Helper()
	env := newTestEnv(t, withAdmin)
	if _, err := env.api.deps.Admin.CreateAdmin(t.Context(), adminEmail, adminPassword); err != nil {
		t.Fatal(err)
	}
	return env
}

// adminClient logs the platform admin in through the operator log-in form.
func (e *testEnv) adminClient(t *testing.T) *http.Client {
	t.Helper()
	c := e.client()
	form := url.Values{"email": {adminEmail}, "password": {adminPassword}}.Encode()
	if r := e.do(t, c, "POST", "/operator/login", form); r.status != http.StatusSeeOther || r.header.Get("Location") != "/admin/tenants" {
		t.Fatalf("operator login = %d %s", r.status, r.body)
	}
	return c
}

// concretePath fills a route's parameters: tenant ids, shard ids, any rest.
func concretePath(path, tenantID string) string {
	path = strings.ReplaceAll(path, "/tenants/:id", "/tenants/"+tenantID)
	path = strings.ReplaceAll(path, "/shards/:id", "/shards/evo-1")
	for _, p := range []string{":id", ":cursor", ":name"} {
		path = strings.ReplaceAll(path, p, "x")
	}
	return strings.ReplaceAll(path, "*", "anything")
}

func isConsole(path string) bool {
	return path == "/admin" || strings.HasPrefix(path, "/admin/") || path == "/api/v1/admin" || strings.HasPrefix(path, "/api/v1/admin/")
}

// TestAdminRoutesAreInvisible sends every console route the router knows
// (so a route added later is covered without touching this test) as a
// logged-out visitor, a tenant owner (on their own tenant) and another
// tenant's owner: all get 404, the answer to a path that does not exist.
// The admin gets through on every one of them.
func TestAdminRoutesAreInvisible(t *testing.T) {
	env := newAdminEnv(t)
	withSimulator(t, env)
	owner, acct := env.signup(t, "owner@shop.example")
	other, _ := env.signup(t, "other@rival.example")
	visitor := env.client()
	admin := env.adminClient(t)

	type route struct{ method, path string }
	var routes []route
	for _, r := range env.api.Routes() {
		if !isConsole(r.Path) {
			continue
		}
		methods := []string{r.Method}
		if !strings.HasPrefix(r.Method, "echo_") && r.Method != "" && strings.ToUpper(r.Method) == r.Method {
			// also the other method, so a 405 cannot give the route away
			methods = append(methods, map[string]string{"GET": "POST", "POST": "GET"}[r.Method])
		} else {
			methods = []string{"GET", "POST"} // the catch-all under the prefix
		}
		for _, m := range methods {
			if m != "" {
				routes = append(routes, route{m, concretePath(r.Path, acct.TenantID)})
			}
		}
	}
	if len(routes) < 40 {
		t.Fatalf("only %d console routes found: %v", len(routes), routes)
	}
	t.Logf("%d console requests per caller", len(routes))
	// Logging out goes last, since the admin's own pass runs them too.
	slices.SortStableFunc(routes, func(a, b route) int {
		return map[bool]int{true: 1, false: 0}[strings.HasSuffix(a.path, "/logout")] - map[bool]int{true: 1, false: 0}[strings.HasSuffix(b.path, "/logout")]
	})
	for _, who := range []struct {
		name string
		c    *http.Client
	}{{"logged-out visitor", visitor}, {"the tenant's owner", owner}, {"another tenant's owner", other}} {
		for _, r := range routes {
			body := ""
			if r.method == "POST" {
				body = `{"reason":"x","delta":5,"plan":"pro","id":"evo-9","url":"http://127.0.0.1:1","api_key":"k"}`
			}
			got := env.do(t, who.c, r.method, r.path, body)
			if got.status != http.StatusNotFound {
				t.Errorf("%s: %s %s = %d, want 404: %.200s", who.name, r.method, r.path, got.status, got.body)
			}
			if strings.Contains(got.body, "admin") && !strings.HasPrefix(r.path, "/api/") {
				t.Errorf("%s: %s %s: the 404 page mentions the console: %.300s", who.name, r.method, r.path, got.body)
			}
		}
	}
	// Nothing the strangers sent changed the tenant.
	if tn, _ := env.store.Tenant(t.Context(), acct.TenantID); tn.Status != tenants.TenantActive || tn.Plan != tenants.PlanStarter {
		t.Fatalf("tenant changed by non-admins: %+v", tn)
	}
	if bal, _ := env.store.Balance(t.Context(), acct.TenantID); bal != tenants.StarterCredits {
		t.Fatalf("balance = %d, want %d", bal, tenants.StarterCredits)
	}
	// The admin reaches every registered route (the catch-all excepted).
	for _, r := range env.api.Routes() {
		if !isConsole(r.Path) || strings.HasPrefix(r.Method, "echo_") || strings.HasSuffix(r.Path, "/logout") {
			continue
		}
		body := ""
		if r.Method == "POST" {
			body = `{}`
		}
		if got := env.do(t, admin, r.Method, concretePath(r.Path, acct.TenantID), body); got.status == http.StatusNotFound {
			t.Errorf("admin: %s %s = 404: %.200s", r.Method, r.Path, got.body)
		}
	}
}

func TestOperatorLogin(t *testing.T) {
	env := newAdminEnv(t)
	env.signup(t, "owner@shop.example")
	tests := []struct {
		name, email, password string
		status                int
	}{
		{"wrong password", adminEmail, "not the password", http.StatusUnauthorized},
		{"unknown email", "nobody@aibud.example", adminPassword, http.StatusUnauthorized},
		{"a tenant owner is not an operator", "owner@shop.example", "correct horse battery", http.StatusUnauthorized},
		{"admin", adminEmail, adminPassword, http.StatusSeeOther},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := env.client()
			r := env.do(t, c, "POST", "/operator/login", url.Values{"email": {tt.email}, "password": {tt.password}}.Encode())
			if r.status != tt.status {
				t.Fatalf("login = %d, want %d: %.300s", r.status, tt.status, r.body)
			}
			want := http.StatusNotFound
			if tt.status == http.StatusSeeOther {
				want = http.StatusOK
			}
			if got := env.do(t, c, "GET", "/admin/tenants", ""); got.status != want {
				t.Fatalf("console after login = %d, want %d", got.status, want)
			}
		})
	}

	t.Run("json log-in", func(t *testing.T) {
		c := env.client()
		r := env.do(t, c, "POST", "/api/v1/operator/login", `{"email":"`+adminEmail+`","password":"`+adminPassword+`"}`)
		if r.status != http.StatusOK || !strings.Contains(r.body, `"role":"admin"`) {
			t.Fatalf("json login = %d %s", r.status, r.body)
		}
		if got := env.do(t, c, "GET", "/api/v1/admin/tenants", ""); got.status != http.StatusOK {
			t.Fatalf("api after json login = %d %s", got.status, got.body)
		}
	})

	t.Run("log-out revokes the session", func(t *testing.T) {
		c := env.adminClient(t)
		u := mustURL(t, env.srv.URL)
		stolen := c.Jar.Cookies(u)
		if r := env.do(t, c, "POST", "/admin/logout", ""); r.status != http.StatusSeeOther {
			t.Fatalf("logout = %d", r.status)
		}
		replay := env.client()
		replay.Jar.SetCookies(u, stolen)
		if r := env.do(t, replay, "GET", "/admin/tenants", ""); r.status != http.StatusNotFound {
			t.Fatalf("old cookie after logout = %d, want 404", r.status)
		}
	})

	t.Run("a tenant session token is no console session", func(t *testing.T) {
		owner, _ := env.signup(t, "sneaky@shop.example")
		u := mustURL(t, env.srv.URL)
		for _, ck := range owner.Jar.Cookies(u) {
			if ck.Name == sessionCookie {
				owner.Jar.SetCookies(u, []*http.Cookie{{Name: adminCookie, Value: ck.Value, Path: "/"}})
			}
		}
		if r := env.do(t, owner, "GET", "/admin/tenants", ""); r.status != http.StatusNotFound {
			t.Fatalf("tenant token as console cookie = %d, want 404", r.status)
		}
	})

	t.Run("console session ends after its TTL", func(t *testing.T) {
		c := env.adminClient(t)
		env.clock.Add(tenants.AdminSessionTTL + time.Minute)
		if r := env.do(t, c, "GET", "/admin/tenants", ""); r.status != http.StatusNotFound {
			t.Fatalf("expired console session = %d, want 404", r.status)
		}
	})
}

// forgeSupport signs a support token with the given secret.
func forgeSupport(t *testing.T, secret []byte, issuer, adminID, tenantID string, exp time.Time) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, supportClaims{TenantID: tenantID, RegisteredClaims: jwt.RegisteredClaims{
		Subject: adminID, Issuer: issuer, Audience: jwt.ClaimStrings{supportAudience}, ExpiresAt: jwt.NewNumericDate(exp),
	}}).SignedString(secret)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}
