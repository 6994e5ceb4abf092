package queue_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aibud/aibud/queue"
	"github.com/aibud/aibud/queue/redistest"
	"github.com/aibud/aibud/store"
	"github.com/aibud/aibud/tenants"
)

var (
	_ tenants.HookSender = (*queue.HookSender)(nil)
	_ tenants.HookQueue  = queue.Sender{}
)

// receiver is a local webhook endpoint that checks every signature and
// answers with the statuses it is given in turn (the last one repeats).
type receiver struct {
	t        *testing.T
	secret   string
	statuses []int
	mu       sync.Mutex
	calls    int
	events   []string
	badSigs  int
	srv      *httptest.Server
}

func newReceiver(t *testing.T, statuses ...int) *receiver {
	rc := &receiver{t: t, statuses: statuses}
	rc.srv = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if err := tenants.VerifyHook(rc.secret, r.Header.Get("Aibud-Signature"), body, time.Now(), 5*time.Minute); err != nil {
		rc.badSigs++
	}
	rc.events = append(rc.events, r.Header.Get("Aibud-Event-Id"))
	status := rc.statuses[min(rc.calls, len(rc.statuses)-1)]
	rc.calls++
	w.WriteHeader(status)
}

func (rc *receiver) count() (calls, badSigs int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.calls, rc.badSigs
}

// hookEnv is the delivery pipeline on real parts: Badger, redis-server, the
// worker and the HTTP sender.
type hookEnv struct {
	hooks  *tenants.Hooks
	store  *store.Store
	tenant string
}

func newHookEnv(t *testing.T) *hookEnv {
	t.Helper()
	st, err := store.Open(store.Options{Dir: t.TempDir(), MaxOpenTenants: 4, Logger: newLogger(nil)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	tid := store.NewID()
	if err := st.CreateTenantDB(context.Background(), tid); err != nil {
		t.Fatal(err)
	}
	r := MustConnect(t, redistest.Start(t))
	hooks := &tenants.Hooks{Store: st, Queue: queue.Sender{Client: MustClient(t, r)}, Sender: queue.NewHookSender(true),
		AllowPrivate: true, Backoff: func(int) time.Duration { return 10 * time.Millisecond },
		NewID: store.NewID, Now: time.Now, Logger: newLogger(nil)}
	w := queue.NewWorker(r, queue.WorkerConfig{RetryDelay: queue.RetryDelay, DelayedTaskCheckInterval: 100 * time.Millisecond}, newLogger(nil))
	(&queue.HookHandlers{Hooks: hooks, Logger: newLogger(nil)}).Register(w)
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Shutdown)
	return &hookEnv{hooks: hooks, store: st, tenant: tid}
}

func (e *hookEnv) waitDelivery(t *testing.T, want tenants.DeliveryStatus) tenants.Delivery {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ds, err := e.hooks.Deliveries(context.Background(), e.tenant, "", 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) == 1 && ds[0].Status == want {
			return ds[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("delivery never became %s: %+v", want, ds)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestHookDeliveredAfterRetries: two 500s, then 200; every attempt is
// signed, carries the same event id, and the log records it all.
func TestHookDeliveredAfterRetries(t *testing.T) {
	e := newHookEnv(t)
	rc := newReceiver(t, 500, 500, 200)
	ctx := context.Background()
	ep, err := e.hooks.Create(ctx, e.tenant, rc.srv.URL+"/hook", []string{tenants.HookPollVoted})
	if err != nil {
		t.Fatal(err)
	}
	rc.secret = ep.Secret
	if err := e.hooks.Emit(ctx, e.tenant, tenants.HookPollVoted, tenants.PollVotedData{PollID: "p1", Phone: "5511", Options: []string{"A"}}); err != nil {
		t.Fatal(err)
	}
	d := e.waitDelivery(t, tenants.DeliveryDelivered)
	calls, bad := rc.count()
	if d.Attempts != 3 || d.LastCode != 200 || d.LastError != "" || calls != 3 || bad != 0 {
		t.Fatalf("delivery %+v; receiver calls %d, bad signatures %d", d, calls, bad)
	}
	for _, id := range rc.events {
		if id != d.EventID || !strings.HasPrefix(id, "evt_") {
			t.Fatalf("event ids %v, want all %s", rc.events, d.EventID)
		}
	}
	if pending, _ := e.store.PendingDeliveries(ctx, e.tenant); len(pending) != 0 {
		t.Fatalf("still pending: %v", pending)
	}
}

// TestHookGivesUp: an endpoint that always fails gets 1 + MaxRetry (8)
// attempts; then the delivery is failed and a replay delivers it.
func TestHookGivesUp(t *testing.T) {
	e := newHookEnv(t)
	rc := newReceiver(t, 503)
	ctx := context.Background()
	ep, err := e.hooks.Create(ctx, e.tenant, rc.srv.URL, []string{tenants.HookCreditsLow})
	if err != nil {
		t.Fatal(err)
	}
	rc.secret = ep.Secret
	if err := e.hooks.Emit(ctx, e.tenant, tenants.HookCreditsLow, tenants.LowBalanceData(12)); err != nil {
		t.Fatal(err)
	}
	d := e.waitDelivery(t, tenants.DeliveryFailed)
	if calls, _ := rc.count(); d.Attempts != 9 || calls != 9 || d.LastCode != 503 || !strings.Contains(d.LastError, "503") {
		t.Fatalf("failed delivery %+v after %d calls; want 9 attempts", d, calls)
	}
	rc.mu.Lock()
	rc.statuses = []int{204}
	rc.mu.Unlock()
	nd, err := e.hooks.Replay(ctx, e.tenant, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, _ := e.store.Delivery(ctx, e.tenant, nd.ID)
		if got.Status == tenants.DeliveryDelivered && got.LastCode == 204 && got.ReplayOf == d.ID {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("replay = %+v", got)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestHookSenderRefusesPrivate: with private destinations not allowed, the
// connection itself is refused for loopback and private addresses, also
// when they come from a host name (what a DNS rebind looks like).
func TestHookSenderRefusesPrivate(t *testing.T) {
	rc := newReceiver(t, 200)
	_, port, _ := net.SplitHostPort(rc.srv.Listener.Addr().String())
	sender := queue.NewHookSender(false)
	for _, u := range []string{rc.srv.URL, "http://localhost:" + port, "http://[::1]:" + port, "http://10.0.0.1:" + port, "http://169.254.169.254/latest/meta-data"} {
		t.Run(u, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			status, err := sender.SendHook(ctx, tenants.HookRequest{URL: u, Body: []byte("{}")})
			if !errors.Is(err, tenants.ErrHookAddress) || status != 0 {
				t.Fatalf("SendHook(%s) = %d, %v; want refused", u, status, err)
			}
		})
	}
	if calls, _ := rc.count(); calls != 0 {
		t.Fatalf("the private receiver was reached %d times", calls)
	}
	status, err := queue.NewHookSender(true).SendHook(context.Background(), tenants.HookRequest{URL: rc.srv.URL, Body: []byte("{}")})
	if err != nil || status != 200 {
		t.Fatalf("allowed sender = %d, %v", status, err)
	}
}

// TestHookSenderKeepsRedirects: a 3xx is the answer; the sender never
// follows it somewhere else.
func TestHookSenderKeepsRedirects(t *testing.T) {
	var followed atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { followed.Add(1) }))
	defer target.Close()
	redirect := httptest.NewServer(http.RedirectHandler(target.URL, http.StatusTemporaryRedirect))
	defer redirect.Close()
	status, err := queue.NewHookSender(true).SendHook(context.Background(), tenants.HookRequest{URL: redirect.URL, Body: []byte("{}")})
	if err != nil || status != http.StatusTemporaryRedirect || followed.Load() != 0 {
		t.Fatalf("redirect = %d, %v; followed %d times", status, err, followed.Load())
	}
}
