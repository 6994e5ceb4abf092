package httpapi

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aibud/aibud/store"
	"github.com/aibud/aibud/tenants"
	"github.com/aibud/aibud/whatsapp"
	"github.com/aibud/aibud/whatsapp/evolution"
)

// testClock is a settable clock shared by the server and the domain.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

type testEnv struct {
	srv   *httptest.Server
	store *store.Store
	clock *testClock
	api   *Server
}

type envOption func(*Config, *Deps)

// newTestEnv runs the real Echo router over a real store in a temp dir.
func newTestEnv(t *testing.T, opts ...envOption) *testEnv { return newEnv(t, opts...) }

// newBenchEnv is newTestEnv for benchmarks.
func newBenchEnv(b *testing.B, opts ...envOption) *testEnv { return newEnv(b, opts...) }

func newEnv(t testing.TB, opts ...envOption) *testEnv {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	clock := &testClock{now: time.Now()}
	st, err := store.Open(store.Options{Dir: t.TempDir(), MaxOpenTenants: 8, Logger: logger, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	accounts := &tenants.Accounts{Catalog: st, Databases: st, Credits: st, Hasher: Argon2idHasher{},
		NewID: store.NewID, Now: clock.Now, Logger: logger}
	// Listen first so that the public URL (in webhook URLs given to
	// gateways) is the real address of the test server.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	publicURL := "http://" + ln.Addr().String()
	cfg := Config{PublicURL: publicURL, Secret: []byte("test-secret-test-secret-test-secret!"), Logger: logger, Now: clock.Now, BodyLimit: "4K"}
	gateways := &whatsapp.Registry{Logger: logger}
	contacts := &tenants.Contacts{Store: st, Phones: whatsapp.Phones{}, Now: clock.Now, Logger: logger}
	deps := Deps{Accounts: accounts, Credits: st, ParseWebhook: evolution.ParseWebhook, Contacts: contacts,
		Numbers: &tenants.Numbers{Catalog: st, Shards: st, Instances: st, Gateways: gateways,
			PublicURL: publicURL, NewID: store.NewID, Now: clock.Now, Logger: logger},
		// No queue here: sends are not delivered in these tests (the
		// program's end-to-end tests in cmd/aibud run the worker).
		Campaigns: &tenants.Campaigns{Catalog: st, Polls: st, Contacts: st, Phones: whatsapp.Phones{}, Instances: st,
			Shards: st, Gateways: gateways, Credits: st, Queue: discardQueue{}, Active: st,
			NewID: store.NewID, Now: clock.Now, Logger: logger},
		Usage:   &tenants.Usage{Catalog: st, Counter: st, Snapshots: st, Now: clock.Now, Logger: logger},
		Tenants: st,
	}
	for _, o := range opts {
		o(&cfg, &deps)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	api, err := New(ctx, cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(api.Handler())
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return &testEnv{srv: srv, store: st, clock: clock, api: api}
}

// client returns an HTTP client with its own cookie jar that does not
// follow redirects, so tests see them.
func (e *testEnv) client() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

type result struct {
	status int
	header http.Header
	body   string
}

func (e *testEnv) do(t testing.TB, c *http.Client, method, path, body string, headers ...string) result {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasPrefix(body, "{") || strings.HasPrefix(path, "/api/") {
		req.Header.Set("Content-Type", "application/json")
	} else if body != "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return result{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

// signup creates an account through the API and returns a logged-in client.
func (e *testEnv) signup(t *testing.T, email string) (*http.Client, signupResponse) {
	return e.signupB(t, email)
}

func (e *testEnv) signupB(t testing.TB, email string) (*http.Client, signupResponse) {
	t.Helper()
	c := e.client()
	r := e.do(t, c, "POST", "/api/v1/signup", `{"email":"`+email+`","password":"correct horse battery","company":"Acme"}`)
	if r.status != http.StatusCreated {
		t.Fatalf("signup %s: %d %s", email, r.status, r.body)
	}
	var out signupResponse
	if err := json.Unmarshal([]byte(r.body), &out); err != nil {
		t.Fatal(err)
	}
	return c, out
}

func mustURL(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// createInstanceB registers a simulator shard and adds a number on it.
func (e *testEnv) createInstanceB(tb testing.TB, c *http.Client) string {
	tb.Helper()
	withSimulatorTB(tb, e)
	r := e.do(tb, c, "POST", "/api/v1/instances", `{"name":"Bench"}`)
	if r.status != 201 {
		tb.Fatalf("create instance = %d %s", r.status, r.body)
	}
	var out struct{ ID string }
	json.Unmarshal([]byte(r.body), &out)
	return out.ID
}

// discardQueue accepts send tasks and drops them.
type discardQueue struct{}

func (discardQueue) EnqueueSend(context.Context, string, tenants.Message) error { return nil }
