package evolution

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/aibud/aibud/tenants"
	"github.com/aibud/aibud/whatsapp/evolutionsim"
)

// hookReceiver is the webhook endpoint of these tests: it parses every
// delivery with ParseWebhook, as the real HTTP layer does, and keeps the
// events and any parse error.
type hookReceiver struct {
	mu     sync.Mutex
	events []tenants.GatewayEvent
	errs   []error
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	events, err := ParseWebhook(body, strings.TrimPrefix(r.URL.Path, "/hook"))
	h.mu.Lock()
	defer h.mu.Unlock()
	if err != nil {
		h.errs = append(h.errs, err)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	h.events = append(h.events, events...)
}

// waitFor returns the first event that matches, failing the test when none
// arrives in time (deliveries are asynchronous).
func (h *hookReceiver) waitFor(tb testing.TB, what string, match func(tenants.GatewayEvent) bool) tenants.GatewayEvent {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		h.mu.Lock()
		for _, ev := range h.events {
			if match(ev) {
				h.mu.Unlock()
				return ev
			}
		}
		errs := h.errs
		h.mu.Unlock()
		if len(errs) > 0 {
			tb.Fatalf("webhook parse errors: %v", errs)
		}
		time.Sleep(5 * time.Millisecond)
	}
	tb.Fatalf("no %s webhook arrived", what)
	return tenants.GatewayEvent{}
}

// MustSim starts the simulator, a webhook receiver and a client for the
// simulator, all stopped when the test ends (the simulator first, so no
// delivery is in flight when the receiver closes).
func MustSim(tb testing.TB, cfg evolutionsim.Config) (*evolutionsim.Sim, *hookReceiver, string, *Client) {
	tb.Helper()
	recv := &hookReceiver{}
	recvSrv := httptest.NewServer(recv)
	tb.Cleanup(recvSrv.Close)
	cfg.GlobalKey = "GLOBAL"
	sim := evolutionsim.New(cfg)
	simSrv := httptest.NewServer(sim.Handler())
	tb.Cleanup(simSrv.Close)
	tb.Cleanup(func() { sim.Close() })
	client := New(Config{ShardID: "s1", BaseURL: simSrv.URL, GlobalKey: "GLOBAL", Backoff: time.Millisecond, Timeout: 5 * time.Second})
	return sim, recv, recvSrv.URL + "/hook", client
}

const (
	ownNumber = "5511999999999"
	contact   = "5511988887777"
)

// TestSimEndToEnd drives one number's whole life against the simulator:
// link, send a poll, follow its receipts, read votes and a quoted reply,
// fail a send, log out and delete.
func TestSimEndToEnd(t *testing.T) {
	sim, recv, hookURL, c := MustSim(t, evolutionsim.Config{Seed: 7})
	ctx := context.Background()

	in, qr, err := c.CreateInstance(ctx, tenants.CreateInstanceRequest{Name: "shop1", Token: "TOKEN1", WebhookURL: hookURL})
	if err != nil {
		t.Fatal(err)
	}
	if want := (tenants.GatewayInstance{ShardID: "s1", Name: "shop1", Token: "TOKEN1"}); in != want {
		t.Errorf("instance = %+v, want %+v", in, want)
	}
	if !strings.HasPrefix(qr.Image, "data:image/png;base64,") || qr.Code == "" || qr.State != tenants.StateConnecting {
		t.Errorf("create QR = %+v, want a connecting PNG data URL", qr)
	}
	info, _ := sim.Instance("shop1")
	if info.Webhook == nil || info.Webhook.ByEvents || !cmp.Equal(info.Webhook.Events, DefaultEvents()) {
		t.Errorf("webhook at the gateway = %+v, want the default events, not by events", info.Webhook)
	}
	recv.waitFor(t, "QR", func(ev tenants.GatewayEvent) bool { return ev.QR != nil && ev.QR.Code == qr.Code })

	if err := sim.Scan("shop1", ownNumber, "Loja Um"); err != nil {
		t.Fatal(err)
	}
	open := recv.waitFor(t, "connection open", func(ev tenants.GatewayEvent) bool {
		return ev.Connection != nil && ev.Connection.State == tenants.StateOpen
	})
	if want := (tenants.ConnectionChange{State: tenants.StateOpen, Number: ownNumber, ProfileName: "Loja Um", Reason: 200}); *open.Connection != want {
		t.Errorf("open = %+v, want %+v", *open.Connection, want)
	}
	if st, err := c.ConnectionState(ctx, in); err != nil || st != tenants.StateOpen {
		t.Errorf("ConnectionState = %q, %v; want open", st, err)
	}
	if qr, err := c.Connect(ctx, in, ""); err != nil || qr != (tenants.QRCode{State: tenants.StateOpen}) {
		t.Errorf("Connect when open = %+v, %v", qr, err)
	}

	poll, err := c.SendPoll(ctx, in, tenants.OutboundPoll{To: contact, Question: "Pick one", Options: []string{"A", "B", "C"}, Delay: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(poll.ID, "3EB0") || poll.At.IsZero() {
		t.Errorf("poll receipt = %+v", poll)
	}
	for _, s := range []tenants.MessageStatus{tenants.StatusSent, tenants.StatusDelivered, tenants.StatusRead} {
		recv.waitFor(t, string(s), func(ev tenants.GatewayEvent) bool {
			return ev.Status != nil && *ev.Status == tenants.StatusChange{MessageID: poll.ID, Status: s}
		})
	}

	multi, err := c.SendPoll(ctx, in, tenants.OutboundPoll{To: contact, Question: "Any", Options: []string{"A", "B", "C"}, Multiple: true})
	if err != nil {
		t.Fatalf("multiple-choice poll: %v", err)
	}
	if id, err := sim.Vote("shop1", evolutionsim.Vote{From: contact, Poll: multi.ID, Options: []string{"A", "C"}}); err != nil {
		t.Errorf("vote on the multiple-choice poll: %v", err)
	} else {
		ev := recv.waitFor(t, "multi vote", func(ev tenants.GatewayEvent) bool { return ev.Vote != nil && ev.Vote.MessageID == id })
		if !cmp.Equal(ev.Vote.Options, []string{"A", "C"}) || ev.Vote.PollMessageID != multi.ID {
			t.Errorf("multi vote = %+v", *ev.Vote)
		}
	}
	_, err = c.SendPoll(ctx, in, tenants.OutboundPoll{To: contact, Question: "One", Options: []string{"A"}})
	if ge := asGatewayError(err); ge == nil || ge.Status != http.StatusBadRequest || ge.Temporary || !strings.Contains(ge.Message, "minimum length") {
		t.Errorf("one-option poll: %v, want a permanent 400 naming the rule", err)
	}

	checkSimVotes(t, sim, recv, poll.ID)
	checkSimReplies(t, sim, recv, c, in, poll.ID)
	checkSimFailures(t, sim, c, in)

	if err := c.Logout(ctx, in); err != nil {
		t.Fatal(err)
	}
	recv.waitFor(t, "logout", func(ev tenants.GatewayEvent) bool {
		return ev.Connection != nil && ev.Connection.State == tenants.StateClose && strings.HasPrefix(ev.DedupeKey, "logout.instance:")
	})
	if err := c.Logout(ctx, in); err != nil {
		t.Errorf("second Logout: %v, want nil (already logged out)", err)
	}
	for i := range 2 { // the second delete finds nothing, which is success
		if err := c.DeleteInstance(ctx, in); err != nil {
			t.Errorf("DeleteInstance #%d: %v", i+1, err)
		}
	}
	if _, ok := sim.Instance("shop1"); ok {
		t.Error("instance still at the gateway after DeleteInstance")
	}
}

// checkSimVotes plays the three v2.3.7 vote shapes on pollID.
func checkSimVotes(t *testing.T, sim *evolutionsim.Sim, recv *hookReceiver, pollID string) {
	t.Helper()
	for _, tc := range []struct {
		mode       evolutionsim.VoteMode
		options    []string
		want       []string
		unreadable bool
	}{
		{evolutionsim.VoteNormal, []string{"B", "C"}, []string{"B", "C"}, false},
		{evolutionsim.VoteEmpty, nil, []string{}, false},
		{evolutionsim.VoteEncrypted, []string{"A"}, nil, true},
	} {
		id, err := sim.Vote("shop1", evolutionsim.Vote{From: contact, Poll: pollID, Options: tc.options, Mode: tc.mode})
		if err != nil {
			t.Fatalf("Vote %s: %v", tc.mode, err)
		}
		ev := recv.waitFor(t, "vote "+string(tc.mode), func(ev tenants.GatewayEvent) bool { return ev.Vote != nil && ev.Vote.MessageID == id })
		want := tenants.PollVote{MessageID: id, From: contact, PollMessageID: pollID, Options: tc.want, Unreadable: tc.unreadable, At: ev.Vote.At}
		if diff := cmp.Diff(want, *ev.Vote); diff != "" || ev.Vote.At.IsZero() {
			t.Errorf("vote %s (-want +got):\n%s", tc.mode, diff)
		}
	}
}

// checkSimReplies sends a quoted text and plays quoted replies, by phone
// number and by LID.
func checkSimReplies(t *testing.T, sim *evolutionsim.Sim, recv *hookReceiver, c *Client, in tenants.GatewayInstance, pollID string) {
	t.Helper()
	if _, err := c.SendText(context.Background(), in, tenants.OutboundText{To: contact, Text: "Thanks!", QuoteID: pollID}); err != nil {
		t.Fatal(err)
	}
	for _, lid := range []bool{false, true} {
		id, err := sim.Reply("shop1", evolutionsim.Reply{From: contact, Text: "B please", Quoted: pollID, LID: lid, PushName: "Maria"})
		if err != nil {
			t.Fatal(err)
		}
		ev := recv.waitFor(t, "reply", func(ev tenants.GatewayEvent) bool { return ev.Text != nil && ev.Text.MessageID == id })
		got := *ev.Text
		if got.From != contact || got.Text != "B please" || got.QuotedID != pollID || got.PushName != "Maria" || got.At.IsZero() {
			t.Errorf("reply (lid %v) = %+v", lid, got)
		}
		if lid != strings.HasSuffix(got.FromLID, "@lid") {
			t.Errorf("reply (lid %v) FromLID = %q", lid, got.FromLID)
		}
	}
}

// checkSimFailures checks that the simulator's send failures come back as
// the errors the queue layer acts on, and that sends are never repeated.
func checkSimFailures(t *testing.T, sim *evolutionsim.Sim, c *Client, in tenants.GatewayInstance) {
	t.Helper()
	ctx := context.Background()
	sim.FailNumber("5511900000000", evolutionsim.FailNotOnWhatsApp)
	_, err := c.SendText(ctx, in, tenants.OutboundText{To: "5511900000000", Text: "hi"})
	if !errors.Is(err, tenants.ErrNotOnWhatsApp) || tenants.IsTemporary(err) {
		t.Errorf("send to a number without WhatsApp: %v, want permanent ErrNotOnWhatsApp", err)
	}
	sim.FailNumber("5511900000001", evolutionsim.FailServerError)
	before := len(sim.Calls())
	_, err = c.SendPoll(ctx, in, tenants.OutboundPoll{To: "5511900000001", Question: "Q", Options: []string{"A", "B"}})
	if !tenants.IsTemporary(err) || errors.Is(err, tenants.ErrNotOnWhatsApp) {
		t.Errorf("send on a server error: %v, want temporary", err)
	}
	if n := len(sim.Calls()) - before; n != 1 {
		t.Errorf("a failed send reached the gateway %d times, want 1", n)
	}
}

// TestSimLinking covers the slow paths of linking: create answering
// {"count":0}, polling Connect for the QR, and the QR limit ending the
// attempt as a refused connection.
func TestSimLinking(t *testing.T) {
	_, recv, hookURL, c := MustSim(t, evolutionsim.Config{EmptyFirstQR: true, QRInterval: 10 * time.Millisecond, QRLimit: 3, Seed: 9})
	ctx := context.Background()
	in, qr, err := c.CreateInstance(ctx, tenants.CreateInstanceRequest{Name: "shop2", WebhookURL: hookURL, Number: ownNumber})
	if err != nil {
		t.Fatal(err)
	}
	if in.Token == "" || qr.Image != "" {
		t.Errorf("create = %+v, %+v; want a generated token and no QR yet", in, qr)
	}
	qr, err = c.Connect(ctx, in, "")
	if err != nil {
		t.Fatal(err)
	}
	if qr.Image == "" || len(qr.PairingCode) != 8 || qr.Count < 1 {
		t.Errorf("Connect = %+v, want a QR and a pairing code", qr)
	}
	for _, key := range []string{"qrcode.updated:refused:", "connection.update:refused:"} {
		ev := recv.waitFor(t, key, func(ev tenants.GatewayEvent) bool { return strings.HasPrefix(ev.DedupeKey, key) })
		if c := ev.Connection; c == nil || !c.Refused || c.State != tenants.StateClose {
			t.Errorf("%s event = %+v, want a refused close", key, ev)
		}
	}
}
