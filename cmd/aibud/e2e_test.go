package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aibud/aibud/httpapi/browsertest"
	"github.com/aibud/aibud/queue/redistest"
	"github.com/aibud/aibud/tenants"
	"github.com/google/go-cmp/cmp"
)

// End-to-end tests: the real program (config, Badger, redis-server, HTTP
// server, templates) driven over HTTP and through headless Chromium.

func TestMain(m *testing.M) { browsertest.Main(m) }

// testEnv is the environment of one test's aibud: a free loopback port, a
// temp data dir and a real redis-server. A restart reuses it.
type testEnv map[string]string

func newTestEnv(tb testing.TB) testEnv {
	tb.Helper()
	env := testEnv{"AIBUD_DATA_DIR": tb.TempDir(), "REDIS_URL": redistest.Start(tb)}
	env.setAddr(tb)
	return env
}

// setAddr picks a free loopback port for both the listener and the public
// URL, so that links and session tokens name the address really served.
func (e testEnv) setAddr(tb testing.TB) {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	e["AIBUD_ADDR"], e["AIBUD_PUBLIC_URL"] = addr, "http://"+addr
}

func (e testEnv) getenv(key string) string { return e[key] }

// startAibud runs the real program on a free port with a temp data dir and
// its own redis-server, and closes it when the test ends.
func startAibud(tb testing.TB) (*Main, string) {
	tb.Helper()
	m, base, _ := runAibud(tb, newTestEnv(tb))
	return m, base
}

// runAibud starts aibud with env and returns its base URL and a stop func
// that closes it; the test's cleanup stops it too if the test did not.
func runAibud(tb testing.TB, env testEnv) (*Main, string, func()) {
	tb.Helper()
	for attempt := 1; ; attempt++ {
		cfg, err := LoadConfig([]string{}, env.getenv)
		if err != nil {
			tb.Fatalf("LoadConfig: %v", err)
		}
		m := NewMain(cfg, testLogger(tb))
		err = m.Run(context.Background())
		if err == nil {
			var once sync.Once
			stop := func() {
				once.Do(func() {
					if err := m.Close(); err != nil {
						tb.Errorf("Close: %v", err)
					}
				})
			}
			tb.Cleanup(stop)
			return m, "http://" + m.Addr(), stop
		}
		if cerr := m.Close(); cerr != nil {
			tb.Logf("close after failed start: %v", cerr)
		}
		// Another process may have taken the port between setAddr and Run.
		if !errors.Is(err, syscall.EADDRINUSE) || attempt == 3 {
			tb.Fatalf("Run: %v", err)
		}
		env.setAddr(tb)
	}
}

// testLogger sends the program's warnings and errors to the test log; the
// access log and other info lines would drown the failures.
func testLogger(tb testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tbWriter{tb}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type tbWriter struct{ tb testing.TB }

func (w tbWriter) Write(p []byte) (int, error) {
	w.tb.Logf("aibud: %s", bytes.TrimRight(p, "\n"))
	return len(p), nil
}

// TestBrowserSignupLoginLogout walks the account life cycle in Chromium and
// leaves a screenshot of every step, at desktop and phone sizes, in
// testdata/screenshots/signup.
func TestBrowserSignupLoginLogout(t *testing.T) {
	_, base := startAibud(t)
	ctx := browsertest.New(t)
	console := browsertest.WatchConsole(t, ctx)
	shots := filepath.Join(browsertest.ModuleDir(t), "testdata", "screenshots", "signup")
	t.Logf("screenshots: %s", shots)
	snap := func(name string) {
		t.Helper()
		browsertest.Screenshots(t, ctx, shots, name, browsertest.Desktop, browsertest.Phone)
	}

	if resp := browsertest.Navigate(t, ctx, base+"/"); resp.Status != http.StatusOK {
		t.Fatalf("GET / = %d", resp.Status)
	}
	snap("01-landing")
	if got := browsertest.Text(t, ctx, ".hero-actions .btn-primary"); got != "Get started" {
		t.Fatalf("hero call to action = %q, want Get started", got)
	}
	browsertest.ClickAndWait(t, ctx, ".hero-actions .btn-primary")
	wantPath(t, ctx, "/signup")
	snap("02-signup")

	// A short password is refused with the reason, next to the field, and
	// what was typed (except the password) is kept.
	const email, password, company = "Ana@Example.com", "correct horse battery", "Acme Imports"
	browsertest.Fill(t, ctx, "#email", email)
	browsertest.Fill(t, ctx, "#password", "short")
	browsertest.Fill(t, ctx, "#company", company)
	if resp := browsertest.ClickAndWait(t, ctx, "form.form button[type=submit]"); resp.Status != http.StatusBadRequest {
		t.Errorf("sign-up with a short password = %d, want 400", resp.Status)
	}
	browsertest.WaitText(t, ctx, ".alert-error", "at least 10 characters")
	if n := browsertest.Count(t, ctx, `#password[aria-invalid="true"]`); n != 1 {
		t.Errorf("password field not marked invalid")
	}
	if got := browsertest.Value(t, ctx, "#company"); got != company {
		t.Errorf("company after the error = %q, want %q kept", got, company)
	}
	snap("03-signup-error")

	browsertest.Fill(t, ctx, "#email", email)
	browsertest.Fill(t, ctx, "#password", password)
	if resp := browsertest.ClickAndWait(t, ctx, "form.form button[type=submit]"); resp.Status != http.StatusOK {
		t.Fatalf("sign-up landed with %d", resp.Status)
	}
	wantPath(t, ctx, "/app")
	wantOverview(t, ctx, company)
	snap("04-overview")

	browsertest.ClickAndWait(t, ctx, `.panel-head a[href="/app/credits"]`) // "See the full ledger"
	wantPath(t, ctx, "/app/credits")
	browsertest.WaitText(t, ctx, "#ledger-rows tr", "Welcome credits")
	if got := browsertest.Text(t, ctx, "#ledger-rows tr td.num"); got != "+400" {
		t.Errorf("signup ledger change = %q, want +400", got)
	}
	if got := browsertest.Text(t, ctx, "#credit-balance"); got != "400" {
		t.Errorf("credits page balance = %q, want 400", got)
	}
	snap("05-credits")

	browsertest.ClickAndWait(t, ctx, `form[action="/logout"] button`)
	wantPath(t, ctx, "/login")
	snap("06-login")
	browsertest.Navigate(t, ctx, base+"/app")
	if u := wantPath(t, ctx, "/login"); u.Query().Get("next") != "/app" {
		t.Errorf("after logout /app went to %s, want /login?next=/app", u)
	}

	// A wrong password is refused without saying which half was wrong,
	// and the email and the way back to /app are kept.
	browsertest.Fill(t, ctx, "#email", email)
	browsertest.Fill(t, ctx, "#password", "not the password")
	if resp := browsertest.ClickAndWait(t, ctx, "form.form button[type=submit]"); resp.Status != http.StatusUnauthorized {
		t.Errorf("log-in with a wrong password = %d, want 401", resp.Status)
	}
	browsertest.WaitText(t, ctx, ".alert-error", "Wrong email or password.")
	if got := browsertest.Value(t, ctx, "#email"); got != email {
		t.Errorf("email after the error = %q, want %q kept", got, email)
	}
	snap("07-login-error")

	browsertest.Fill(t, ctx, "#password", password)
	browsertest.ClickAndWait(t, ctx, "form.form button[type=submit]")
	wantPath(t, ctx, "/app")
	wantOverview(t, ctx, company)

	// The two error steps answer 400 and 401 on purpose.
	for _, e := range console.Errors("the server responded with a status of 40") {
		t.Errorf("browser console: %s", e)
	}
}

// wantPath fails the test unless the tab is at path, and returns its URL.
func wantPath(t *testing.T, ctx context.Context, path string) *url.URL {
	t.Helper()
	u := browsertest.Location(t, ctx)
	if u.Path != path {
		t.Fatalf("at %s, want path %s", u, path)
	}
	return u
}

// wantOverview checks the dashboard of a new Starter account.
func wantOverview(t *testing.T, ctx context.Context, company string) {
	t.Helper()
	got := map[string]string{
		"credits": browsertest.Text(t, ctx, "#credit-balance"),
		"plan":    browsertest.Text(t, ctx, "#plan-name"),
		"tenant":  browsertest.Text(t, ctx, "#tenant-name"),
	}
	want := map[string]string{"credits": "400", "plan": "Starter", "tenant": company}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("overview (-want +got):\n%s", diff)
	}
}

// apiClient calls a running aibud as a script would: JSON in and out,
// cookies kept in a jar.
type apiClient struct {
	tb   testing.TB
	base string
	http *http.Client
}

func newAPIClient(tb testing.TB, base string) *apiClient {
	jar, err := cookiejar.New(nil)
	if err != nil {
		tb.Fatal(err)
	}
	return &apiClient{tb: tb, base: base, http: &http.Client{Jar: jar}}
}

// call sends body (if any) as JSON and returns the status and raw answer.
func (c *apiClient) call(method, path string, body any) (int, []byte) {
	c.tb.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			c.tb.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.tb.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.tb.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		c.tb.Fatalf("%s %s: read: %v", method, path, err)
	}
	return resp.StatusCode, out
}

// sessionCookie returns the aibud_session cookie the jar holds, or nil.
func (c *apiClient) sessionCookie() *http.Cookie {
	u, _ := url.Parse(c.base)
	for _, ck := range c.http.Jar.Cookies(u) {
		if ck.Name == "aibud_session" {
			return ck
		}
	}
	return nil
}

// The API's wire format, written out here so that a renamed JSON field
// fails these tests.
type (
	apiSignup struct {
		TenantID string `json:"tenant_id"`
		UserID   string `json:"user_id"`
		Plan     string `json:"plan"`
		Credits  int64  `json:"credits"`
	}
	apiMe struct {
		User struct {
			ID, Email, Role string
		} `json:"user"`
		Tenant struct {
			ID, Name, Plan, Status string
		} `json:"tenant"`
		Credits int64 `json:"credits"`
	}
	apiCredits struct {
		Balance int64 `json:"balance"`
		Ledger  []struct {
			Delta        int64  `json:"delta"`
			Reason       string `json:"reason"`
			Ref          string `json:"ref"`
			BalanceAfter int64  `json:"balance_after"`
		} `json:"ledger"`
		NextCursor string `json:"next_cursor"`
	}
	apiError struct {
		Error struct {
			Code, Message, Field string
		} `json:"error"`
	}
)

func decode[T any](tb testing.TB, body []byte) T {
	tb.Helper()
	var v T
	if err := json.Unmarshal(body, &v); err != nil {
		tb.Fatalf("decode %T from %s: %v", v, body, err)
	}
	return v
}

var testAccount = map[string]string{"email": " Ana@Example.com ", "password": "correct horse battery", "company": "Acme Imports"}

// signup creates testAccount through the API and returns the answer.
func (c *apiClient) signup() apiSignup {
	c.tb.Helper()
	status, body := c.call("POST", "/api/v1/signup", testAccount)
	if status != http.StatusCreated {
		c.tb.Fatalf("signup = %d %s", status, body)
	}
	return decode[apiSignup](c.tb, body)
}

// me returns /api/v1/me, failing unless it answers 200.
func (c *apiClient) me() apiMe {
	c.tb.Helper()
	status, body := c.call("GET", "/api/v1/me", nil)
	if status != http.StatusOK {
		c.tb.Fatalf("me = %d %s", status, body)
	}
	return decode[apiMe](c.tb, body)
}

// TestServeAPIEndToEnd runs the account life cycle over HTTP against the
// real program: each step sees the state the previous ones left.
func TestServeAPIEndToEnd(t *testing.T) {
	_, base := startAibud(t)
	c := newAPIClient(t, base)
	var tenantID string
	var revoked *http.Cookie
	steps := []struct {
		name, method, path string
		body               any
		wantStatus         int
		check              func(t *testing.T, body []byte)
	}{
		{"signup", "POST", "/api/v1/signup", testAccount, http.StatusCreated, func(t *testing.T, body []byte) {
			got := decode[apiSignup](t, body)
			if got.TenantID == "" || got.UserID == "" {
				t.Errorf("signup ids missing: %s", body)
			}
			tenantID = got.TenantID
			if got.Plan != "starter" || got.Credits != 400 {
				t.Errorf("signup = plan %q, %d credits; want starter, 400", got.Plan, got.Credits)
			}
			if c.sessionCookie() == nil {
				t.Error("signup set no session cookie")
			}
		}},
		{"same email again", "POST", "/api/v1/signup", testAccount, http.StatusConflict, func(t *testing.T, body []byte) {
			if got := decode[apiError](t, body).Error.Code; got != "conflict" {
				t.Errorf("code = %q, want conflict", got)
			}
		}},
		{"me", "GET", "/api/v1/me", nil, http.StatusOK, func(t *testing.T, body []byte) {
			got := decode[apiMe](t, body)
			if got.Tenant.ID != tenantID {
				t.Errorf("me tenant = %q, want %q", got.Tenant.ID, tenantID)
			}
			got.User.ID, got.Tenant.ID = "", ""
			want := apiMe{Credits: 400}
			want.User.Email, want.User.Role = "ana@example.com", "owner"
			want.Tenant.Name, want.Tenant.Plan, want.Tenant.Status = "Acme Imports", "starter", "active"
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("me (-want +got):\n%s", diff)
			}
		}},
		{"credits", "GET", "/api/v1/credits", nil, http.StatusOK, func(t *testing.T, body []byte) {
			got := decode[apiCredits](t, body)
			want := apiCredits{Balance: 400, Ledger: []struct {
				Delta        int64  `json:"delta"`
				Reason       string `json:"reason"`
				Ref          string `json:"ref"`
				BalanceAfter int64  `json:"balance_after"`
			}{{Delta: 400, Reason: "signup", Ref: "signup:" + tenantID, BalanceAfter: 400}}}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("credits (-want +got):\n%s", diff)
			}
			revoked = c.sessionCookie()
		}},
		{"bad ledger limit", "GET", "/api/v1/credits?limit=0", nil, http.StatusBadRequest, func(t *testing.T, body []byte) {
			if got := decode[apiError](t, body).Error.Field; got != "limit" {
				t.Errorf("field = %q, want limit", got)
			}
		}},
		{"logout", "POST", "/api/v1/logout", nil, http.StatusNoContent, func(t *testing.T, body []byte) {
			if c.sessionCookie() != nil {
				t.Error("logout left the session cookie in the jar")
			}
		}},
		{"me after logout", "GET", "/api/v1/me", nil, http.StatusUnauthorized, func(t *testing.T, body []byte) {
			if got := decode[apiError](t, body).Error.Code; got != "unauthorized" {
				t.Errorf("code = %q, want unauthorized", got)
			}
		}},
	}
	for _, s := range steps {
		status, body := c.call(s.method, s.path, s.body)
		if status != s.wantStatus {
			t.Fatalf("%s: %s %s = %d %s, want %d", s.name, s.method, s.path, status, body, s.wantStatus)
		}
		s.check(t, body)
	}

	// Logout revokes the session server-side: a copy of the old cookie
	// no longer works.
	req, _ := http.NewRequest("GET", base+"/api/v1/me", nil)
	req.AddCookie(revoked)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("me with the cookie of a logged-out session = %d, want 401", resp.StatusCode)
	}
}

// TestServeRestartKeepsData signs up, stops the program and starts a new
// one on the same data dir and address: the account, its credits and the
// open session are all still there.
func TestServeRestartKeepsData(t *testing.T) {
	env := newTestEnv(t)
	_, base, stop := runAibud(t, env)
	c := newAPIClient(t, base)
	first := c.signup()
	stop()

	_, base2, _ := runAibud(t, env)
	if base2 != base {
		t.Fatalf("restarted on %s, want the same address %s", base2, base)
	}
	if got := c.me(); got.Tenant.ID != first.TenantID || got.Credits != 400 {
		t.Errorf("old session after restart: tenant %q with %d credits, want %q with 400", got.Tenant.ID, got.Credits, first.TenantID)
	}

	fresh := newAPIClient(t, base)
	status, body := fresh.call("POST", "/api/v1/login", map[string]string{"email": "ana@example.com", "password": testAccount["password"]})
	if status != http.StatusOK {
		t.Fatalf("login after restart = %d %s", status, body)
	}
	if got := decode[apiMe](t, body); got.Tenant.ID != first.TenantID || got.Credits != 400 {
		t.Errorf("login after restart: tenant %q with %d credits, want %q with 400", got.Tenant.ID, got.Credits, first.TenantID)
	}
}

// TestServeGeneratesSecretOnce: without AIBUD_SECRET the first start writes
// a private key file to the data dir and later starts reuse it.
func TestServeGeneratesSecretOnce(t *testing.T) {
	env := newTestEnv(t)
	path := filepath.Join(env["AIBUD_DATA_DIR"], "secret")
	_, _, stop := runAibud(t, env)
	stop()

	info, err := os.Stat(path)
	if err != nil {
		t.Fatalf("no generated secret: %v", err)
	}
	if mode := info.Mode().Perm(); mode != 0o600 {
		t.Errorf("secret file mode = %v, want -rw-------", mode)
	}
	key, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(key) < 32 {
		t.Errorf("secret is %d bytes, want at least 32", len(key))
	}

	_, _, stop = runAibud(t, env)
	stop()
	again, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(key, again) {
		t.Error("second start replaced the secret; sessions would not survive restarts")
	}
}

func TestConfig(t *testing.T) {
	defaults := Config{
		Addr: ":8080", DataDir: "./data", PublicURL: "http://localhost:8080", MaxOpenTenants: 256,
		Roles: []string{"web", "worker", "cron"}, LogLevel: slog.LevelInfo,
		Pacing:      tenants.DefaultPacing, // the operator's defaults are the domain's
		GeminiModel: "gemini-2.5-flash",
		APIKeyRate:  20, APIKeyBurst: 40, TLSAddr: ":443",
		SendConfirmWindow: 2 * time.Minute, ReconcileEvery: time.Minute, BreakerPause: 5 * time.Minute,
	}
	secret := strings.Repeat("s", 32)
	fullEnv := map[string]string{
		"AIBUD_ADDR": "127.0.0.1:9000", "AIBUD_DATA_DIR": "/var/lib/aibud", "AIBUD_PUBLIC_URL": "https://app.example.com/",
		"REDIS_URL": "rediss://:pw@redis.example.com:6380/2", "AIBUD_SECRET": secret, "AIBUD_MAX_OPEN_TENANTS": "10",
		"AIBUD_ROLES": "worker, web,worker", "AIBUD_CLERK_ISSUER": "https://clerk.example.com", "AIBUD_LOG_LEVEL": "debug",
		"EVOLUTION_API_URL": "https://evo.example.com/", "EVOLUTION_API_KEY": "evo-key",
		"AIBUD_SEND_INTERVAL": "2s", "AIBUD_SEND_JITTER": "off", "AIBUD_DAILY_CAP": "100", "AIBUD_WARMUP": "off",
		"AIBUD_QUIET_HOURS": "22-7", "GEMINI_API_KEY": "g-key", "AIBUD_GEMINI_MODEL": "gemini-2.5-pro",
		"AIBUD_SEND_CONFIRM_WINDOW": "30s", "AIBUD_RECONCILE_EVERY": "10s", "AIBUD_BREAKER_PAUSE": "90s",
	}
	fromEnv := Config{
		Addr: "127.0.0.1:9000", DataDir: "/var/lib/aibud", PublicURL: "https://app.example.com",
		RedisURL: "rediss://:pw@redis.example.com:6380/2", Secret: secret, MaxOpenTenants: 10,
		Roles: []string{"worker", "web"}, ClerkIssuer: "https://clerk.example.com", LogLevel: slog.LevelDebug,
		EvolutionURL: "https://evo.example.com", EvolutionKey: "evo-key",
		Pacing:    tenants.Pacing{Interval: 2 * time.Second, DailyCap: 100, QuietStart: 22, QuietEnd: 7},
		GeminiKey: "g-key", GeminiModel: "gemini-2.5-pro",
		APIKeyRate: 20, APIKeyBurst: 40, TLSAddr: ":443",
		SendConfirmWindow: 30 * time.Second, ReconcileEvery: 10 * time.Second, BreakerPause: 90 * time.Second,
	}
	flagsOverEnv := fromEnv
	flagsOverEnv.Addr, flagsOverEnv.MaxOpenTenants, flagsOverEnv.Roles = ":7000", 3, []string{"cron"}

	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    Config
		wantErr string // substring of the error; "" means success
	}{
		{name: "defaults", want: defaults},
		{name: "env overrides defaults", env: fullEnv, want: fromEnv},
		{name: "flags override env", env: fullEnv, args: []string{"-addr", ":7000", "-max-open-tenants=3", "-roles", "cron"}, want: flagsOverEnv},
		{name: "bad addr", env: map[string]string{"AIBUD_ADDR": "nope"}, wantErr: "AIBUD_ADDR"},
		{name: "bad tls domain", env: map[string]string{"AIBUD_TLS_DOMAIN": "https://app.example.com"}, wantErr: "AIBUD_TLS_DOMAIN"},
		{name: "bad trusted proxies", env: map[string]string{"AIBUD_TRUSTED_PROXIES": "10.0.0.0/8,proxy"}, wantErr: "AIBUD_TRUSTED_PROXIES"},
		{name: "bad webhooks switch", env: map[string]string{"AIBUD_WEBHOOKS_ALLOW_PRIVATE": "maybe"}, wantErr: "AIBUD_WEBHOOKS_ALLOW_PRIVATE"},
		{name: "bad public url", env: map[string]string{"AIBUD_PUBLIC_URL": "ftp://x"}, wantErr: "AIBUD_PUBLIC_URL"},
		{name: "confirm window too short", env: map[string]string{"AIBUD_SEND_CONFIRM_WINDOW": "10ms"}, wantErr: "AIBUD_SEND_CONFIRM_WINDOW"},
		{name: "bad reconcile interval", env: map[string]string{"AIBUD_RECONCILE_EVERY": "often"}, wantErr: "AIBUD_RECONCILE_EVERY"},
		{name: "profiler off loopback", env: map[string]string{"AIBUD_PPROF_ADDR": "0.0.0.0:6060"}, wantErr: "AIBUD_PPROF_ADDR"},
		{name: "bad redis url", env: map[string]string{"REDIS_URL": "http://x"}, wantErr: "REDIS_URL"},
		{name: "zero max open tenants", env: map[string]string{"AIBUD_MAX_OPEN_TENANTS": "0"}, wantErr: "AIBUD_MAX_OPEN_TENANTS"},
		{name: "non-numeric max open tenants", env: map[string]string{"AIBUD_MAX_OPEN_TENANTS": "abc"}, wantErr: "AIBUD_MAX_OPEN_TENANTS"},
		{name: "unknown role", env: map[string]string{"AIBUD_ROLES": "web,bogus"}, wantErr: "AIBUD_ROLES"},
		{name: "short secret", env: map[string]string{"AIBUD_SECRET": "short"}, wantErr: "AIBUD_SECRET"},
		{name: "bad log level", env: map[string]string{"AIBUD_LOG_LEVEL": "loud"}, wantErr: "AIBUD_LOG_LEVEL"},
		{name: "bad clerk issuer", env: map[string]string{"AIBUD_CLERK_ISSUER": "ftp://clerk"}, wantErr: "AIBUD_CLERK_ISSUER"},
		{name: "bad evolution url", env: map[string]string{"EVOLUTION_API_URL": "evo:8080", "EVOLUTION_API_KEY": "k"}, wantErr: "EVOLUTION_API_URL"},
		{name: "evolution url without key", env: map[string]string{"EVOLUTION_API_URL": "http://evo:8080"}, wantErr: "EVOLUTION_API_KEY"},
		{name: "bad send interval", env: map[string]string{"AIBUD_SEND_INTERVAL": "fast"}, wantErr: "AIBUD_SEND_INTERVAL"},
		{name: "negative jitter", env: map[string]string{"AIBUD_SEND_JITTER": "-1s"}, wantErr: "AIBUD_SEND_JITTER"},
		{name: "negative daily cap", env: map[string]string{"AIBUD_DAILY_CAP": "-1"}, wantErr: "AIBUD_DAILY_CAP"},
		{name: "bad warmup", env: map[string]string{"AIBUD_WARMUP": "maybe"}, wantErr: "AIBUD_WARMUP"},
		{name: "empty quiet hours", env: map[string]string{"AIBUD_QUIET_HOURS": "8-8"}, wantErr: "AIBUD_QUIET_HOURS"},
		{name: "bad value by flag", args: []string{"-max-open-tenants", "0"}, wantErr: "AIBUD_MAX_OPEN_TENANTS (-max-open-tenants)"},
		{name: "stray argument", args: []string{"extra"}, wantErr: `unexpected argument "extra"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := LoadConfig(tt.args, func(k string) string { return tt.env[k] })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("LoadConfig error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("LoadConfig (-want +got):\n%s", diff)
			}
		})
	}
}

// TestConfigHelp: -h is not an error for serve, and the usage documents
// every setting.
func TestConfigHelp(t *testing.T) {
	var buf bytes.Buffer
	_, err := loadConfig([]string{"-h"}, func(string) string { return "" }, &buf)
	usage := buf.Bytes()
	if !errors.Is(err, flag.ErrHelp) {
		t.Errorf("LoadConfig(-h) error = %v, want flag.ErrHelp", err)
	}
	// The variables operators know from the README, plus whatever the
	// settings table has grown since.
	names := []string{
		"AIBUD_ADDR", "AIBUD_DATA_DIR", "AIBUD_PUBLIC_URL", "REDIS_URL", "AIBUD_SECRET",
		"AIBUD_MAX_OPEN_TENANTS", "AIBUD_ROLES", "AIBUD_CLERK_ISSUER", "AIBUD_LOG_LEVEL",
		"EVOLUTION_API_URL", "EVOLUTION_API_KEY", "AIBUD_SEND_INTERVAL", "AIBUD_SEND_JITTER",
		"AIBUD_DAILY_CAP", "AIBUD_WARMUP", "AIBUD_QUIET_HOURS",
	}
	for _, s := range settings() {
		names = append(names, s.env, "-"+s.flag)
	}
	for _, name := range names {
		if !bytes.Contains(usage, []byte(name)) {
			t.Errorf("usage does not mention %s:\n%s", name, usage)
		}
	}
}

// TestProfilerOnLoopbackOnly: AIBUD_PPROF_ADDR serves Go's profiler on its
// own loopback listener, never on the public router, and it stops with the
// program.
func TestProfilerOnLoopbackOnly(t *testing.T) {
	env := newTestEnv(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pprofAddr := l.Addr().String()
	l.Close()
	env["AIBUD_PPROF_ADDR"] = pprofAddr
	_, base, stop := runAibud(t, env)
	get := func(url string) int {
		t.Helper()
		resp, err := http.Get(url)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := get("http://" + pprofAddr + "/debug/pprof/goroutine?debug=1"); got != http.StatusOK {
		t.Errorf("profiler: status %d, want 200", got)
	}
	if got := get(base + "/debug/pprof/goroutine?debug=1"); got != http.StatusNotFound {
		t.Errorf("public router /debug/pprof/: status %d, want 404", got)
	}
	stop()
	if got := get("http://" + pprofAddr + "/debug/pprof/"); got != 0 {
		t.Errorf("profiler still answers %d after Close", got)
	}
}
