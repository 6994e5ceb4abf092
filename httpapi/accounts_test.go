package httpapi

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aibud/aibud/tenants"
	"github.com/google/go-cmp/cmp"
)

func TestAccountAPI(t *testing.T) {
	env := newTestEnv(t)
	owner, acct := env.signup(t, "owner@example.com")
	anon := env.client()

	tests := []struct {
		name     string
		client   *http.Client
		method   string
		path     string
		body     string
		status   int
		contains string
	}{
		{"signup taken email, other case", anon, "POST", "/api/v1/signup", `{"email":" OWNER@example.com ","password":"0123456789"}`, 409, `"code":"conflict"`},
		{"signup bad json", anon, "POST", "/api/v1/signup", `{"email":`, 400, `"field":"body"`},
		{"signup not an object", anon, "POST", "/api/v1/signup", `[1,2]`, 400, `not valid JSON`},
		{"signup two objects", anon, "POST", "/api/v1/signup", `{"email":"x@y.co"} {}`, 400, `one JSON object`},
		{"signup missing email", anon, "POST", "/api/v1/signup", `{"password":"0123456789"}`, 400, `"field":"email"`},
		{"signup bad email", anon, "POST", "/api/v1/signup", `{"email":"not-an-email","password":"0123456789"}`, 400, `"field":"email"`},
		{"signup display-name email", anon, "POST", "/api/v1/signup", `{"email":"Bob <b@x.co>","password":"0123456789"}`, 400, `"field":"email"`},
		{"signup short password", anon, "POST", "/api/v1/signup", `{"email":"new@example.com","password":"short"}`, 400, `"field":"password"`},
		{"signup long password", anon, "POST", "/api/v1/signup", `{"email":"new@example.com","password":"` + strings.Repeat("p", 129) + `"}`, 400, `"field":"password"`},
		{"signup long company", anon, "POST", "/api/v1/signup", `{"email":"new@example.com","password":"0123456789","company":"` + strings.Repeat("c", 101) + `"}`, 400, `"field":"company"`},
		{"signup oversized body", anon, "POST", "/api/v1/signup", `{"email":"big@example.com","password":"0123456789","company":"` + strings.Repeat("x", 5000) + `"}`, 413, `too large`},
		{"login wrong password", anon, "POST", "/api/v1/login", `{"email":"owner@example.com","password":"wrong password"}`, 401, `Wrong email or password`},
		{"login unknown email", anon, "POST", "/api/v1/login", `{"email":"nobody@example.com","password":"whatever123"}`, 401, `Wrong email or password`},
		{"login bad json", anon, "POST", "/api/v1/login", `nope`, 400, `"field":"body"`},
		{"me without session", anon, "GET", "/api/v1/me", "", 401, `"code":"unauthorized"`},
		{"credits without session", anon, "GET", "/api/v1/credits", "", 401, `"code":"unauthorized"`},
		{"me", owner, "GET", "/api/v1/me", "", 200, `"credits":400`},
		{"credits", owner, "GET", "/api/v1/credits", "", 200, `"balance":400`},
		{"credits bad limit", owner, "GET", "/api/v1/credits?limit=0", "", 400, `"field":"limit"`},
		{"credits bad cursor", owner, "GET", "/api/v1/credits?cursor=zzz", "", 400, `"field":"cursor"`},
		{"unknown api route", owner, "GET", "/api/v1/nope", "", 404, `"code":"not_found"`},
		{"wrong method", owner, "DELETE", "/api/v1/me", "", 405, `method_not_allowed`},
		{"healthz", anon, "GET", "/healthz", "", 200, `"ok"`},
		{"readyz", anon, "GET", "/readyz", "", 200, `"ready"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := env.do(t, tt.client, tt.method, tt.path, tt.body)
			if r.status != tt.status || !strings.Contains(r.body, tt.contains) {
				t.Fatalf("%s %s = %d %s; want %d containing %q", tt.method, tt.path, r.status, r.body, tt.status, tt.contains)
			}
		})
	}

	// Nothing the bad requests did changed the stored account.
	r := env.do(t, owner, "GET", "/api/v1/me", "")
	var me meResponse
	if err := json.Unmarshal([]byte(r.body), &me); err != nil {
		t.Fatal(err)
	}
	want := meResponse{
		User:    meUser{ID: acct.UserID, Email: "owner@example.com", Role: tenants.RoleOwner},
		Tenant:  meTenant{ID: acct.TenantID, Name: "Acme", Plan: tenants.PlanStarter, Status: tenants.TenantActive},
		Credits: 400,
	}
	if diff := cmp.Diff(want, me); diff != "" {
		t.Fatalf("me (-want +got):\n%s", diff)
	}
}

func TestSignupResponseAndLedger(t *testing.T) {
	env := newTestEnv(t)
	c, acct := env.signup(t, "first@example.com")
	if acct.Plan != tenants.PlanStarter || acct.Credits != 400 || acct.TenantID == "" || acct.UserID == "" {
		t.Fatalf("signup response = %+v", acct)
	}
	r := env.do(t, c, "GET", "/api/v1/credits?limit=10", "")
	var got creditsResponse
	if err := json.Unmarshal([]byte(r.body), &got); err != nil {
		t.Fatal(err)
	}
	if got.Balance != 400 || len(got.Ledger) != 1 || got.Ledger[0].Delta != 400 || got.Ledger[0].Reason != tenants.ReasonSignup || got.Ledger[0].BalanceAfter != 400 {
		t.Fatalf("credits = %+v", got)
	}
}

func TestLogoutRevokesSession(t *testing.T) {
	env := newTestEnv(t)
	c, _ := env.signup(t, "leaver@example.com")
	u := mustURL(t, env.srv.URL)
	stolen := c.Jar.Cookies(u) // a copy of the cookie, as an attacker would keep it
	if r := env.do(t, c, "POST", "/api/v1/logout", ""); r.status != http.StatusNoContent {
		t.Fatalf("logout = %d %s", r.status, r.body)
	}
	if r := env.do(t, c, "GET", "/api/v1/me", ""); r.status != http.StatusUnauthorized {
		t.Fatalf("me after logout = %d", r.status)
	}
	replay := env.client()
	replay.Jar.SetCookies(u, stolen)
	if r := env.do(t, replay, "GET", "/api/v1/me", ""); r.status != http.StatusUnauthorized || !strings.Contains(r.body, "ended") {
		t.Fatalf("replayed cookie after logout = %d %s; want 401", r.status, r.body)
	}
	// Logging in again works and gives a fresh session.
	r := env.do(t, c, "POST", "/api/v1/login", `{"email":"Leaver@Example.com","password":"correct horse battery"}`)
	if r.status != http.StatusOK || !strings.Contains(r.body, `"credits":400`) {
		t.Fatalf("login = %d %s", r.status, r.body)
	}
	if r := env.do(t, c, "GET", "/api/v1/me", ""); r.status != http.StatusOK {
		t.Fatalf("me after login = %d", r.status)
	}
}

func TestForgedAndExpiredSessions(t *testing.T) {
	env := newTestEnv(t)
	c, _ := env.signup(t, "victim@example.com")
	u := mustURL(t, env.srv.URL)
	good := c.Jar.Cookies(u)[0].Value

	forgedKey := &tokenIssuer{secret: []byte("another-secret-another-secret-!!"), issuer: "http://127.0.0.1", now: env.clock.Now}
	forged, _ := forgedKey.sign(tenants.Session{ID: "x", UserID: "y", CreatedAt: env.clock.Now(), ExpiresAt: env.clock.Now().Add(time.Hour)})
	parts := strings.Split(good, ".")
	tampered := parts[0] + "." + parts[1] + "x." + parts[2]

	for name, value := range map[string]string{"forged signature": forged, "tampered payload": tampered, "garbage": "abc", "alg none": "eyJhbGciOiJub25lIn0.eyJqdGkiOiJ4In0."} {
		t.Run(name, func(t *testing.T) {
			cl := env.client()
			cl.Jar.SetCookies(u, []*http.Cookie{{Name: sessionCookie, Value: value}})
			if r := env.do(t, cl, "GET", "/api/v1/me", ""); r.status != http.StatusUnauthorized {
				t.Fatalf("me = %d %s", r.status, r.body)
			}
			if r := env.do(t, cl, "GET", "/app", ""); r.status != http.StatusSeeOther || r.header.Get("Location") != "/login?next=%2Fapp" {
				t.Fatalf("page = %d %s", r.status, r.header.Get("Location"))
			}
		})
	}
	t.Run("expired", func(t *testing.T) {
		env.clock.Add(tenants.SessionTTL + time.Minute)
		defer env.clock.Add(-tenants.SessionTTL - time.Minute)
		if r := env.do(t, c, "GET", "/api/v1/me", ""); r.status != http.StatusUnauthorized {
			t.Fatalf("me with expired session = %d %s", r.status, r.body)
		}
	})
}

func TestLoginThrottle(t *testing.T) {
	env := newTestEnv(t)
	env.signup(t, "target@example.com")
	c := env.client()
	for i := range 10 {
		if r := env.do(t, c, "POST", "/api/v1/login", `{"email":"target@example.com","password":"wrong-`+string(rune('a'+i))+`-guess"}`); r.status != 401 {
			t.Fatalf("attempt %d = %d", i, r.status)
		}
	}
	// The right password is refused now too, with a Retry-After.
	r := env.do(t, c, "POST", "/api/v1/login", `{"email":"target@example.com","password":"correct horse battery"}`)
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" {
		t.Fatalf("11th attempt = %d Retry-After %q %s", r.status, r.header.Get("Retry-After"), r.body)
	}
	// The form says so too.
	if r := env.do(t, c, "POST", "/login", "email=target%40example.com&password=x"); r.status != 429 || !strings.Contains(r.body, "Too many failed log-ins") {
		t.Fatalf("form when throttled = %d", r.status)
	}
	env.clock.Add(15*time.Minute + time.Second)
	if r := env.do(t, c, "POST", "/api/v1/login", `{"email":"target@example.com","password":"correct horse battery"}`); r.status != 200 {
		t.Fatalf("after the window = %d %s", r.status, r.body)
	}
}

func TestPages(t *testing.T) {
	env := newTestEnv(t)
	anon := env.client()
	tests := []struct {
		name, method, path, body string
		headers                  []string
		status                   int
		contains                 string
		location                 string
	}{
		{name: "landing", method: "GET", path: "/", status: 200, contains: "Get started"},
		{name: "signup page", method: "GET", path: "/signup", status: 200, contains: "Create account"},
		{name: "login page", method: "GET", path: "/login?next=/app/credits", status: 200, contains: `value="/app/credits"`},
		{name: "overview needs login", method: "GET", path: "/app", status: 303, location: "/login?next=%2Fapp"},
		{name: "credits needs login", method: "GET", path: "/app/credits", status: 303, location: "/login?next=%2Fapp%2Fcredits"},
		{name: "signup form short password", method: "POST", path: "/signup", body: "email=p%40example.com&password=short", status: 400, contains: "at least 10 characters"},
		{name: "signup form", method: "POST", path: "/signup", body: "email=p%40example.com&password=0123456789&company=Plants", status: 303, location: "/app"},
		{name: "signup form taken", method: "POST", path: "/signup", body: "email=p%40example.com&password=0123456789", status: 409, contains: "already exists"},
		{name: "login form wrong", method: "POST", path: "/login", body: "email=p%40example.com&password=nope", status: 401, contains: "Wrong email or password"},
		{name: "login form offsite next", method: "POST", path: "/login", body: "email=p%40example.com&password=0123456789&next=//evil.example", status: 303, location: "/app"},
		{name: "cross-site form post refused", method: "POST", path: "/signup", body: "email=q%40example.com&password=0123456789", headers: []string{"Sec-Fetch-Site", "cross-site"}, status: 403},
		{name: "cross-origin post refused", method: "POST", path: "/api/v1/signup", body: `{"email":"q@example.com","password":"0123456789"}`, headers: []string{"Origin", "https://evil.example"}, status: 403},
		{name: "static css", method: "GET", path: "/static/app.css", status: 200, contains: "--brand"},
		{name: "missing page", method: "GET", path: "/nope", status: 404, contains: "Not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := env.do(t, anon, tt.method, tt.path, tt.body, tt.headers...)
			if r.status != tt.status || !strings.Contains(r.body, tt.contains) || (tt.location != "" && r.header.Get("Location") != tt.location) {
				t.Fatalf("%s %s = %d (Location %q) %.300s", tt.method, tt.path, r.status, r.header.Get("Location"), r.body)
			}
		})
	}
	// The session from the form sign-up (and the later log-in) shows the overview.
	r := env.do(t, anon, "GET", "/app", "")
	if r.status != 200 || !strings.Contains(r.body, `id="credit-balance" data-testid="credits">400<`) || !strings.Contains(r.body, "Plants") {
		t.Fatalf("overview = %d %.500s", r.status, r.body)
	}
	if r.header.Get("Content-Security-Policy") == "" || r.header.Get("X-Frame-Options") != "DENY" {
		t.Fatalf("security headers missing: %v", r.header)
	}
	if r := env.do(t, anon, "GET", "/signup", ""); r.status != 303 || r.header.Get("Location") != "/app" {
		t.Fatalf("signup page when logged in = %d", r.status)
	}
	if r := env.do(t, anon, "POST", "/logout", ""); r.status != 303 || r.header.Get("Location") != "/login" {
		t.Fatalf("logout form = %d", r.status)
	}
	if r := env.do(t, anon, "GET", "/app", ""); r.status != 303 {
		t.Fatalf("overview after logout = %d", r.status)
	}
}

func TestCreditsPagePagination(t *testing.T) {
	env := newTestEnv(t)
	c, acct := env.signup(t, "pager@example.com")
	for i := range 30 {
		if _, err := env.store.Reserve(t.Context(), acct.TenantID, "poll-"+string(rune('A'+i)), 1); err != nil {
			t.Fatal(err)
		}
	}
	r := env.do(t, c, "GET", "/app/credits", "")
	if r.status != 200 || strings.Count(r.body, "<tr>") != 26 || !strings.Contains(r.body, "Show older entries") {
		t.Fatalf("credits page: %d, %d rows", r.status, strings.Count(r.body, "<tr>"))
	}
	i := strings.Index(r.body, "/app/credits?cursor=")
	cursor := r.body[i+len("/app/credits?cursor=") : i+strings.Index(r.body[i:], `"`)]
	r = env.do(t, c, "GET", "/app/credits?cursor="+cursor, "", "HX-Request", "true")
	if r.status != 200 || strings.Contains(r.body, "<html") || strings.Count(r.body, "<tr>") != 6 || strings.Contains(r.body, "Show older") {
		t.Fatalf("next rows: %d %.300s", r.status, r.body)
	}
	if !strings.Contains(r.body, "Welcome credits") {
		t.Fatalf("last page lacks the signup entry")
	}
}
