package tenants_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aibud/aibud/queue"
	"github.com/aibud/aibud/store"
	"github.com/aibud/aibud/tenants"
	"github.com/google/go-cmp/cmp"
)

// recordQueue keeps the delivery ids it is asked to queue; tests run
// Deliver themselves.
type recordQueue struct {
	mu  sync.Mutex
	ids []string
	err error
}

func (q *recordQueue) EnqueueHook(_ context.Context, _, id string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.err != nil {
		return q.err
	}
	q.ids = append(q.ids, id)
	return nil
}

// fakeResolver answers from a table, like DNS under the test's control.
type fakeResolver map[string][]string

func (r fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	addrs, ok := r[host]
	if !ok {
		return nil, errors.New("no such host")
	}
	var out []netip.Addr
	for _, a := range addrs {
		out = append(out, netip.MustParseAddr(a))
	}
	return out, nil
}

// hookRequest is what the test receiver saw.
type hookRequest struct {
	header http.Header
	body   []byte
}

type hooksFixture struct {
	hooks  *tenants.Hooks
	queue  *recordQueue
	tenant string
	status int // what the receiver answers
	mu     sync.Mutex
	got    []hookRequest
	url    string
}

func newHooksFixture(t *testing.T) *hooksFixture {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := store.Open(store.Options{Dir: t.TempDir(), MaxOpenTenants: 4, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := &hooksFixture{queue: &recordQueue{}, tenant: store.NewID(), status: 200}
	if err := st.CreateTenantDB(context.Background(), f.tenant); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		defer f.mu.Unlock()
		f.got = append(f.got, hookRequest{r.Header.Clone(), b})
		w.WriteHeader(f.status)
	}))
	t.Cleanup(srv.Close)
	f.url = srv.URL + "/aibud"
	f.hooks = &tenants.Hooks{Store: st, Queue: f.queue, Sender: queue.NewHookSender(true), AllowPrivate: true,
		Resolver: fakeResolver{"crm.example.com": {"93.184.215.14"}, "rebind.example.com": {"93.184.215.14", "10.1.2.3"},
			"metadata.example.com": {"169.254.169.254"}},
		NewID: store.NewID, Now: time.Now, Logger: logger}
	return f
}

func (f *hooksFixture) requests() []hookRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]hookRequest(nil), f.got...)
}

func TestHookCreateValidates(t *testing.T) {
	f := newHooksFixture(t)
	f.hooks.AllowPrivate = false
	all := tenants.HookEvents
	tests := []struct {
		url    string
		events []string
		field  string // "" = accepted
	}{
		{"https://crm.example.com/hooks/aibud", all, ""},
		{"http://93.184.215.14:8080/x#frag", []string{tenants.HookPollVoted}, ""},
		{"ftp://crm.example.com/", all, "url"},
		{"crm.example.com/hook", all, "url"},
		{"https://user:pw@crm.example.com/", all, "url"},
		{"https://" + strings.Repeat("a", 2000) + ".com/", all, "url"},
		{"https://crm.example.com/", nil, "events"},
		{"https://crm.example.com/", []string{"poll.sent"}, "events"},
		{"http://127.0.0.1:8080/", all, "url"},
		{"http://10.0.0.1/", all, "url"},
		{"http://[::1]/", all, "url"},
		{"http://[::ffff:127.0.0.1]/", all, "url"},
		{"http://[fd12::1]/", all, "url"},
		{"http://100.64.1.1/", all, "url"},
		{"http://0.0.0.0/", all, "url"},
		{"http://224.0.0.251/", all, "url"},
		{"http://metadata.example.com/", all, "url"},
		{"http://rebind.example.com/", all, "url"}, // one private address among public ones
		{"http://nowhere.example.com/", all, "url"},
	}
	for _, tt := range tests {
		t.Run(tt.url[:min(len(tt.url), 40)], func(t *testing.T) {
			ep, err := f.hooks.Create(context.Background(), f.tenant, tt.url, tt.events)
			if tt.field == "" {
				if err != nil || !strings.HasPrefix(ep.Secret, "whsec_") || len(ep.Secret) != 54 || strings.Contains(ep.URL, "#") {
					t.Fatalf("Create = %+v, %v", ep, err)
				}
				return
			}
			if tenants.ErrorCode(err) != tenants.EINVALID || tenants.ErrorField(err) != tt.field {
				t.Fatalf("Create(%s) = %v, want invalid %s", tt.url, err, tt.field)
			}
		})
	}
}

func TestHookAddressAllowed(t *testing.T) {
	for _, a := range []string{"127.0.0.1", "10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.169.254", "100.64.0.1",
		"0.0.0.0", "0.1.2.3", "224.0.0.1", "255.255.255.255", "198.18.0.1", "::1", "::", "fe80::1", "fc00::1", "fd00::1",
		"ff02::1", "::ffff:10.0.0.1", "64:ff9b::a00:1", "2002:c0a8:101::1"} {
		if err := tenants.HookAddressAllowed(netip.MustParseAddr(a)); !errors.Is(err, tenants.ErrHookAddress) {
			t.Errorf("%s allowed, want refused", a)
		}
	}
	for _, a := range []string{"93.184.215.14", "8.8.8.8", "2606:4700::1111", "64:ff9b::808:808", "::ffff:1.1.1.1"} {
		if err := tenants.HookAddressAllowed(netip.MustParseAddr(a)); err != nil {
			t.Errorf("%s refused: %v", a, err)
		}
	}
}

// TestHookEmitAndDeliver: only enabled, subscribed endpoints get the event;
// the body is the documented envelope, signed over "<t>.<body>".
func TestHookEmitAndDeliver(t *testing.T) {
	f := newHooksFixture(t)
	ctx := context.Background()
	votes, err := f.hooks.Create(ctx, f.tenant, f.url, []string{tenants.HookPollVoted, tenants.HookPollVoted})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.hooks.Create(ctx, f.tenant, f.url, []string{tenants.HookCreditsLow}); err != nil {
		t.Fatal(err)
	}
	paused, _ := f.hooks.Create(ctx, f.tenant, f.url, []string{tenants.HookPollVoted})
	if _, err := f.hooks.SetDisabled(ctx, f.tenant, paused.ID, true); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	vote := tenants.Vote{PollID: "p1", Phone: "5511988887777", Options: []string{"Tuesday"}, At: at}
	if err := f.hooks.Emit(ctx, f.tenant, tenants.HookPollVoted, tenants.VotedData(vote)); err != nil {
		t.Fatal(err)
	}
	if len(f.queue.ids) != 1 {
		t.Fatalf("queued %v, want one delivery (to the one enabled, subscribed endpoint)", f.queue.ids)
	}
	if err := f.hooks.Deliver(ctx, f.tenant, f.queue.ids[0]); err != nil {
		t.Fatal(err)
	}
	if err := f.hooks.Deliver(ctx, f.tenant, f.queue.ids[0]); err != nil { // a repeated task
		t.Fatal(err)
	}
	reqs := f.requests()
	if len(reqs) != 1 {
		t.Fatalf("receiver got %d requests, want 1", len(reqs))
	}
	r := reqs[0]
	if err := tenants.VerifyHook(votes.Secret, r.header.Get("Aibud-Signature"), r.body, time.Now(), time.Minute); err != nil {
		t.Fatalf("signature: %v (%s)", err, r.header.Get("Aibud-Signature"))
	}
	var env struct {
		ID       string                `json:"id"`
		Event    string                `json:"event"`
		TenantID string                `json:"tenant_id"`
		Data     tenants.PollVotedData `json:"data"`
	}
	if err := json.Unmarshal(r.body, &env); err != nil {
		t.Fatal(err)
	}
	want := tenants.PollVotedData{PollID: "p1", Phone: "5511988887777", Options: []string{"Tuesday"}, At: at}
	if diff := cmp.Diff(want, env.Data); diff != "" || env.Event != "poll.voted" || env.TenantID != f.tenant {
		t.Fatalf("envelope %s; data (-want +got):\n%s", r.body, diff)
	}
	for h, v := range map[string]string{"Aibud-Event": "poll.voted", "Aibud-Event-Id": env.ID, "Aibud-Delivery": f.queue.ids[0], "Content-Type": "application/json"} {
		if r.header.Get(h) != v {
			t.Errorf("header %s = %q, want %q", h, r.header.Get(h), v)
		}
	}
	d, _ := f.hooks.Store.Delivery(ctx, f.tenant, f.queue.ids[0])
	if d.Status != tenants.DeliveryDelivered || d.Attempts != 1 || d.LastCode != 200 {
		t.Fatalf("delivery = %+v", d)
	}
	if err := f.hooks.Emit(ctx, f.tenant, "poll.sent", nil); err == nil {
		t.Fatal("unknown event emitted")
	}
	var off *tenants.Hooks
	if err := off.Emit(ctx, f.tenant, tenants.HookPollVoted, nil); err != nil {
		t.Fatalf("nil Hooks: %v", err)
	}
	off.Notify(ctx, f.tenant, tenants.HookPollVoted, nil) // a nil Hooks is off: no panic
	f.hooks.Notify(ctx, "no-such-tenant", tenants.HookPollVoted, nil)
}
