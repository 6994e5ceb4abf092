package evolution

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/aibud/aibud/tenants"
)

// TestAPIKeys follows one instance through its life: the global key may
// only be used to create it, the token from "hash" for everything else.
func TestAPIKeys(t *testing.T) {
	g, c := MustFakeGateway(t, reply{status: 201, body: createdBody},
		reply{status: 200, body: `{"count":0}`},
		reply{status: 200, body: `{"instance":{"instanceName":"shop1","state":"open"}}`},
		reply{status: 201, body: `{"key":{"id":"3EB0AA"},"messageTimestamp":1733400000}`},
		reply{status: 201, body: `{"key":{"id":"3EB0AB"},"messageTimestamp":"1733400001"}`},
		reply{status: 200, body: `[{"name":"shop1","connectionStatus":"open","ownerJid":"5511999999999@s.whatsapp.net","profileName":"Loja","token":"TOKEN1","disconnectionReasonCode":null}]`},
		reply{status: 200, body: `{"status":"SUCCESS","error":false,"response":{"message":"Instance logged out"}}`},
		reply{status: 200, body: `{"status":"SUCCESS","error":false,"response":{"message":"Instance deleted"}}`},
	)
	ctx := context.Background()
	in, _, err := c.CreateInstance(ctx, tenants.CreateInstanceRequest{Name: "shop1", WebhookURL: "https://app/hook"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Connect(ctx, in, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ConnectionState(ctx, in); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SendPoll(ctx, in, tenants.OutboundPoll{To: "5511988887777", Question: "Q", Options: []string{"A", "B"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SendText(ctx, in, tenants.OutboundText{To: "5511988887777", Text: "hi"}); err != nil {
		t.Fatal(err)
	}
	info, err := c.FetchInstance(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if want := (InstanceInfo{Name: "shop1", State: tenants.StateOpen, Number: "5511999999999", ProfileName: "Loja"}); info != want {
		t.Errorf("FetchInstance = %+v, want %+v", info, want)
	}
	if err := c.Logout(ctx, in); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteInstance(ctx, in); err != nil {
		t.Fatal(err)
	}
	var got [][2]string
	for _, r := range g.seen() {
		got = append(got, [2]string{r.Method + " " + r.Path, r.APIKey})
	}
	want := [][2]string{
		{"POST /instance/create", "GLOBAL"},
		{"GET /instance/connect/shop1", "TOKEN1"},
		{"GET /instance/connectionState/shop1", "TOKEN1"},
		{"POST /message/sendPoll/shop1", "TOKEN1"},
		{"POST /message/sendText/shop1", "TOKEN1"},
		{"GET /instance/fetchInstances?instanceName=shop1", "TOKEN1"},
		{"DELETE /instance/logout/shop1", "TOKEN1"},
		{"DELETE /instance/delete/shop1", "TOKEN1"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("calls and keys (-want +got):\n%s", diff)
	}
}

func TestTimeouts(t *testing.T) {
	slow := reply{status: 200, body: `{"instance":{"instanceName":"shop1","state":"open"}}`, wait: 5 * time.Second}
	t.Run("read times out, temporary, retried", func(t *testing.T) {
		g, c := MustFakeGateway(t, slow)
		c.timeout = 20 * time.Millisecond
		_, err := c.ConnectionState(context.Background(), shop1)
		if !tenants.IsTemporary(err) || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err = %v, want a temporary deadline error", err)
		}
		if got := len(g.seen()); got != 4 {
			t.Errorf("calls = %d, want 4", got)
		}
	})
	t.Run("send times out, temporary, not retried", func(t *testing.T) {
		g, c := MustFakeGateway(t, slow)
		c.timeout = 20 * time.Millisecond
		_, err := c.SendText(context.Background(), shop1, tenants.OutboundText{To: "1", Text: "x"})
		if !tenants.IsTemporary(err) || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err = %v, want a temporary deadline error", err)
		}
		if got := len(g.seen()); got != 1 {
			t.Errorf("calls = %d, want 1", got)
		}
	})
	t.Run("send delay extends the timeout", func(t *testing.T) {
		_, c := MustFakeGateway(t, reply{status: 201, body: `{"key":{"id":"3EB0AA"}}`, wait: 100 * time.Millisecond})
		c.timeout = 20 * time.Millisecond
		_, err := c.SendText(context.Background(), shop1, tenants.OutboundText{To: "1", Text: "x", Delay: 5 * time.Second})
		if err != nil {
			t.Errorf("send with a delay longer than the answer: %v", err)
		}
	})
}

// TestCallerCancel checks that a cancelled context ends a call at once,
// even while the client waits between retries.
func TestCallerCancel(t *testing.T) {
	g, c := MustFakeGateway(t, reply{status: 503, body: `{}`})
	c.backoff = time.Hour
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	done := make(chan error, 1)
	go func() { _, err := c.ConnectionState(ctx, shop1); done <- err }()
	select {
	case err := <-done:
		if ge := asGatewayError(err); ge == nil || ge.Status != 503 {
			t.Errorf("err = %v, want the last 503", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ConnectionState ignored the cancelled context")
	}
	if got := len(g.seen()); got != 1 {
		t.Errorf("calls = %d, want 1", got)
	}
}

// countingTransport counts round trips, to see retries against a port
// where nothing listens.
type countingTransport struct{ n atomic.Int32 }

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return http.DefaultTransport.RoundTrip(r)
}

func TestCreateRetriesOnlyRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	rt := &countingTransport{}
	c := New(Config{ShardID: "s1", BaseURL: "http://" + addr, GlobalKey: "G", Backoff: time.Millisecond,
		HTTPClient: &http.Client{Transport: rt}})
	_, _, err = c.CreateInstance(context.Background(), tenants.CreateInstanceRequest{Name: "shop1"})
	if !tenants.IsTemporary(err) || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("err = %v, want a temporary connection-refused error", err)
	}
	if got := rt.n.Load(); got != 4 {
		t.Errorf("attempts = %d, want 4", got)
	}
	rt.n.Store(0)
	if _, err := c.SendText(context.Background(), shop1, tenants.OutboundText{To: "1", Text: "x"}); !tenants.IsTemporary(err) {
		t.Errorf("send err = %v, want temporary", err)
	}
	if got := rt.n.Load(); got != 1 {
		t.Errorf("send attempts = %d, want 1", got)
	}
}

func TestWrongShard(t *testing.T) {
	g, c := MustFakeGateway(t, reply{status: 200, body: `{}`})
	other := tenants.GatewayInstance{ShardID: "s2", Name: "shop1", Token: "T"}
	if _, err := c.ConnectionState(context.Background(), other); err == nil || tenants.IsTemporary(err) {
		t.Errorf("err = %v, want a permanent error", err)
	}
	if n := len(g.seen()); n != 0 {
		t.Errorf("%d requests reached the server; the token must not leave for the wrong shard", n)
	}
}

func TestNewDefaults(t *testing.T) {
	c := New(Config{BaseURL: "http://x/"})
	if c.retries != defaultRetries || c.backoff != defaultBackoff || c.timeout != defaultTimeout || c.baseURL != "http://x" {
		t.Errorf("defaults: retries %d backoff %v timeout %v base %q", c.retries, c.backoff, c.timeout, c.baseURL)
	}
	if diff := cmp.Diff(DefaultEvents(), c.events); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if c := New(Config{Retries: -1}); c.retries != 0 {
		t.Errorf("Retries -1 gave %d retries, want 0", c.retries)
	}
}
