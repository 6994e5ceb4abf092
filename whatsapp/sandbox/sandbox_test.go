package sandbox_test

import (
	"context"
	"encoding/base64"
	"errors"
	"image/png"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aibud/aibud/tenants"
	"github.com/aibud/aibud/whatsapp/sandbox"
	"github.com/google/go-cmp/cmp"
)

// recorder is a Sink that keeps every event with the token it came with.
type recorder struct {
	mu     sync.Mutex
	tokens []string
	events []tenants.GatewayEvent
	fail   int // fail this many calls before accepting
	calls  int
}

func (r *recorder) sink(ctx context.Context, token string, events []tenants.GatewayEvent) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	if r.fail > 0 {
		r.fail--
		return errors.New("webhook handler down")
	}
	for _, ev := range events {
		r.tokens = append(r.tokens, token)
		r.events = append(r.events, ev)
	}
	return nil
}

func (r *recorder) snapshot() []tenants.GatewayEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]tenants.GatewayEvent(nil), r.events...)
}

// waitFor returns the first n events that match, failing after 2 s.
func (r *recorder) waitFor(t *testing.T, n int, match func(tenants.GatewayEvent) bool) []tenants.GatewayEvent {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		var got []tenants.GatewayEvent
		for _, ev := range r.snapshot() {
			if match(ev) {
				got = append(got, ev)
			}
		}
		if len(got) >= n {
			return got[:n]
		}
		if time.Now().After(deadline) {
			t.Fatalf("got %d matching events, want %d; all events: %+v", len(got), n, r.snapshot())
		}
		time.Sleep(time.Millisecond)
	}
}

// MustGateway starts a sandbox with millisecond receipts, closed at cleanup.
func MustGateway(tb testing.TB, rec *recorder) *sandbox.Gateway {
	tb.Helper()
	g := sandbox.New(sandbox.Config{StatusStep: time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	g.SetSink(rec.sink)
	tb.Cleanup(g.Close)
	return g
}

// MustCreate creates an instance whose webhook token is "hook-<name>".
func MustCreate(tb testing.TB, g *sandbox.Gateway, name, number string) (tenants.GatewayInstance, tenants.QRCode) {
	tb.Helper()
	in, qr, err := g.CreateInstance(context.Background(), tenants.CreateInstanceRequest{
		Name: name, Token: "tok-" + name, Number: number,
		WebhookURL: "http://localhost:8080/webhooks/evolution/hook-" + name,
	})
	if err != nil {
		tb.Fatalf("CreateInstance(%q): %v", name, err)
	}
	return in, qr
}

func kind(k tenants.EventKind) func(tenants.GatewayEvent) bool {
	return func(ev tenants.GatewayEvent) bool { return ev.Kind == k }
}

func TestScenario(t *testing.T) {
	start := runtime.NumGoroutine()
	ctx := context.Background()
	rec := &recorder{}
	g := sandbox.New(sandbox.Config{StatusStep: time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	g.SetSink(rec.sink)

	in, qr := MustCreate(t, g, "shop", "")
	if diff := cmp.Diff(tenants.GatewayInstance{ShardID: "sandbox", Name: "shop", Token: "tok-shop"}, in); diff != "" {
		t.Errorf("instance (-want +got):\n%s", diff)
	}
	if qr.State != tenants.StateConnecting || qr.Count != 1 || qr.Code != "aibud-sandbox:shop:1" {
		t.Errorf("QR = %+v, want connecting, count 1, code aibud-sandbox:shop:1", qr)
	}
	img, err := png.Decode(base64.NewDecoder(base64.StdEncoding, strings.NewReader(strings.TrimPrefix(qr.Image, "data:image/png;base64,"))))
	if err != nil || img.Bounds().Dx() < 200 {
		t.Fatalf("QR image: err %v, want a PNG at least 200 px wide", err)
	}

	if err := g.Scan(ctx, "shop", "+55 11 98888-7777", "Shop"); err != nil {
		t.Fatalf("Scan: %v", err)
	}
	open := rec.waitFor(t, 1, kind(tenants.EventConnection))[0]
	if diff := cmp.Diff(&tenants.ConnectionChange{State: tenants.StateOpen, Number: "5511988887777", ProfileName: "Shop"}, open.Connection); diff != "" || open.Instance != "shop" {
		t.Errorf("open event for %q (-want +got):\n%s", open.Instance, diff)
	}

	sent, err := g.SendPoll(ctx, in, tenants.OutboundPoll{To: "5511912345678", Question: "Lunch?", Options: []string{"Yes", "No"}})
	if err != nil {
		t.Fatalf("SendPoll: %v", err)
	}
	if !regexp.MustCompile(`^SBX[0-9A-F]{18}$`).MatchString(sent.ID) || sent.At.IsZero() {
		t.Errorf("SentMessage = %+v, want id SBX + 18 upper hex and a time", sent)
	}
	statuses := rec.waitFor(t, 3, func(ev tenants.GatewayEvent) bool {
		return ev.Kind == tenants.EventMessageStatus && ev.Status.MessageID == sent.ID
	})
	var order []tenants.MessageStatus
	for _, ev := range statuses {
		order = append(order, ev.Status.Status)
	}
	if diff := cmp.Diff([]tenants.MessageStatus{tenants.StatusSent, tenants.StatusDelivered, tenants.StatusRead}, order); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}

	voteID, err := g.SimulateVote(ctx, "shop", "5511912345678", sent.ID, []string{"No"})
	if err != nil {
		t.Fatalf("SimulateVote: %v", err)
	}
	vote := rec.waitFor(t, 1, kind(tenants.EventPollVote))[0].Vote
	if vote.MessageID != voteID || vote.PollMessageID != sent.ID || vote.From != "5511912345678" || !cmp.Equal(vote.Options, []string{"No"}) {
		t.Errorf("vote = %+v, want %s on poll %s choosing [No]", vote, voteID, sent.ID)
	}
	if _, err := g.SimulateVote(ctx, "shop", "5511912345678", sent.ID, []string{"Maybe"}); tenants.ErrorCode(err) != tenants.EINVALID || tenants.ErrorField(err) != "options" {
		t.Errorf("vote for a non-option: err %v, want EINVALID on options", err)
	}
	if _, err := g.SimulateVote(ctx, "shop", "5511912345678", "SBX000000000000000000", []string{"Yes"}); tenants.ErrorCode(err) != tenants.ENOTFOUND {
		t.Errorf("vote on an unknown poll: err %v, want ENOTFOUND", err)
	}

	replyID, err := g.SimulateReply(ctx, "shop", "5511912345678", "Count me in", sent.ID)
	if err != nil {
		t.Fatalf("SimulateReply: %v", err)
	}
	reply := rec.waitFor(t, 1, kind(tenants.EventInboundText))[0].Text
	if reply.MessageID != replyID || reply.QuotedID != sent.ID || reply.Text != "Count me in" {
		t.Errorf("reply = %+v, want %s quoting %s", reply, replyID, sent.ID)
	}

	_, err = g.SendText(ctx, in, tenants.OutboundText{To: "5511999990000", Text: "Hi"})
	var ge *tenants.GatewayError
	if !errors.Is(err, tenants.ErrNotOnWhatsApp) || !errors.As(err, &ge) || ge.Status != http.StatusBadRequest || tenants.IsTemporary(err) {
		t.Errorf("send to 5511999990000: err %v, want a permanent 400 wrapping ErrNotOnWhatsApp", err)
	}

	if err := g.Logout(ctx, in); err != nil {
		t.Fatalf("Logout: %v", err)
	}
	closed := rec.waitFor(t, 2, kind(tenants.EventConnection))[1].Connection
	if closed.State != tenants.StateClose || closed.Reason != 401 {
		t.Errorf("after Logout got %+v, want close with reason 401", closed)
	}
	_, err = g.SendText(ctx, in, tenants.OutboundText{To: "5511912345678", Text: "Still there?"})
	if !errors.As(err, &ge) || ge.Status != http.StatusBadRequest || ge.Temporary {
		t.Errorf("send after logout: err %v, want a permanent 400", err)
	}

	checkEvents(t, rec, "hook-shop")
	if got := g.Sent(); len(got) != 1 || got[0].ID != sent.ID || got[0].Kind != "poll" || got[0].Instance != "shop" {
		t.Errorf("Sent() = %+v, want the one poll", got)
	}

	g.Close()
	deadline := time.Now().Add(time.Second)
	for runtime.NumGoroutine() > start && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > start {
		t.Errorf("%d goroutines after Close, %d before New", n, start)
	}
}

// checkEvents checks what every delivery shares: the instance's webhook
// token, the instance name and a dedupe key no other event has.
func checkEvents(t *testing.T, rec *recorder, token string) {
	t.Helper()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	keys := map[string]bool{}
	for i, ev := range rec.events {
		if rec.tokens[i] != token || ev.Instance != "shop" || ev.DedupeKey == "" || keys[ev.DedupeKey] {
			t.Errorf("event %d: token %q, instance %q, dedupe key %q (seen before: %v)", i, rec.tokens[i], ev.Instance, ev.DedupeKey, keys[ev.DedupeKey])
		}
		keys[ev.DedupeKey] = true
	}
}

// MustOpen creates an instance and scans it, so it can send.
func MustOpen(tb testing.TB, g *sandbox.Gateway, name string) tenants.GatewayInstance {
	tb.Helper()
	in, _ := MustCreate(tb, g, name, "")
	if err := g.Scan(context.Background(), name, "5511988887777", "Shop"); err != nil {
		tb.Fatalf("Scan(%q): %v", name, err)
	}
	return in
}

func TestSinkRetries(t *testing.T) {
	tests := []struct {
		name      string
		fail      int
		wantErr   bool
		wantCalls int
	}{
		{"recovers after two failures", 2, false, 3},
		{"gives up after three retries", 100, true, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{fail: tt.fail}
			g := MustGateway(t, rec)
			MustCreate(t, g, "shop", "")
			err := g.Scan(context.Background(), "shop", "5511988887777", "Shop")
			if (err != nil) != tt.wantErr || rec.calls != tt.wantCalls {
				t.Errorf("Scan: err %v after %d sink calls; want error %v after %d", err, rec.calls, tt.wantErr, tt.wantCalls)
			}
		})
	}
}
