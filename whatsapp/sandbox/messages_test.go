package sandbox_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/aibud/aibud/tenants"
	"github.com/aibud/aibud/whatsapp/sandbox"
	"github.com/google/go-cmp/cmp"
)

func TestSendValidation(t *testing.T) {
	ctx := context.Background()
	g := MustGateway(t, &recorder{})
	in := MustOpen(t, g, "shop")
	poll := func(to, question string, options ...string) func() error {
		return func() error {
			_, err := g.SendPoll(ctx, in, tenants.OutboundPoll{To: to, Question: question, Options: options})
			return err
		}
	}
	text := func(to, body string) func() error {
		return func() error {
			_, err := g.SendText(ctx, in, tenants.OutboundText{To: to, Text: body})
			return err
		}
	}
	tests := []struct {
		name string
		send func() error
		want string // part of the 400's message
	}{
		{"one option", poll("5511912345678", "Lunch?", "Yes"), "minimum length of 2"},
		{"eleven options", poll("5511912345678", "Lunch?", strings.Split("abcdefghijk", "")...), "maximum length of 10"},
		{"duplicate option", poll("5511912345678", "Lunch?", "Yes", "Yes"), "duplicate item"},
		{"blank question", poll("5511912345678", "  ", "Yes", "No"), `"name" cannot be empty`},
		{"poll without number", poll("", "Lunch?", "Yes", "No"), `"number" cannot be empty`},
		{"blank text", text("5511912345678", "\n"), `"text" cannot be empty`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.send()
			var ge *tenants.GatewayError
			if !errors.As(err, &ge) || ge.Status != http.StatusBadRequest || ge.Temporary || !strings.Contains(ge.Message, tt.want) {
				t.Errorf("err %v, want a permanent 400 saying %q", err, tt.want)
			}
		})
	}
	if got := g.Sent(); len(got) != 0 {
		t.Errorf("Sent() = %+v after refused sends, want none", got)
	}
}

func TestSendBeforeScan(t *testing.T) {
	g := MustGateway(t, &recorder{})
	in, _ := MustCreate(t, g, "shop", "")
	_, err := g.SendText(context.Background(), in, tenants.OutboundText{To: "5511912345678", Text: "Hi"})
	var ge *tenants.GatewayError
	if !errors.As(err, &ge) || ge.Status != http.StatusBadRequest || ge.Message != "instance is not connected" || ge.Temporary {
		t.Errorf("send while connecting: err %v, want permanent 400 instance is not connected", err)
	}
}

func TestSendTextRecord(t *testing.T) {
	ctx := context.Background()
	rec := &recorder{}
	g := MustGateway(t, rec)
	in := MustOpen(t, g, "shop")
	sent, err := g.SendText(ctx, in, tenants.OutboundText{To: "5511912345678", Text: "Thanks!", QuoteID: "SBXQUOTED", Delay: time.Millisecond})
	if err != nil {
		t.Fatalf("SendText: %v", err)
	}
	want := []sandbox.SentRecord{{Instance: "shop", To: "5511912345678", ID: sent.ID, Kind: "text", Text: "Thanks!", QuoteID: "SBXQUOTED", At: sent.At}}
	if diff := cmp.Diff(want, g.Sent()); diff != "" {
		t.Errorf("Sent() (-want +got):\n%s", diff)
	}
	rec.waitFor(t, 3, func(ev tenants.GatewayEvent) bool {
		return ev.Kind == tenants.EventMessageStatus && ev.Status.MessageID == sent.ID
	})
}

func TestSendDelayCancelled(t *testing.T) {
	g := MustGateway(t, &recorder{})
	in := MustOpen(t, g, "shop")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	_, err := g.SendText(ctx, in, tenants.OutboundText{To: "5511912345678", Text: "Hi", Delay: time.Hour})
	if !tenants.IsTemporary(err) || !errors.Is(err, context.DeadlineExceeded) || len(g.Sent()) != 0 {
		t.Errorf("send cancelled during its delay: err %v, %d sent; want a temporary error and nothing sent", err, len(g.Sent()))
	}
}

func TestVoteSelections(t *testing.T) {
	ctx := context.Background()
	g := MustGateway(t, &recorder{})
	in := MustOpen(t, g, "shop")
	other := MustOpen(t, g, "other")
	send := func(in tenants.GatewayInstance, multiple bool) string {
		t.Helper()
		sent, err := g.SendPoll(ctx, in, tenants.OutboundPoll{To: "5511912345678", Question: "Which?", Options: []string{"A", "B", "C"}, Multiple: multiple})
		if err != nil {
			t.Fatalf("SendPoll: %v", err)
		}
		return sent.ID
	}
	single, multi, foreign := send(in, false), send(in, true), send(other, false)
	tests := []struct {
		name    string
		poll    string
		options []string
		want    string // error code, "" for success
	}{
		{"withdrawn", single, nil, ""},
		{"two on a multiple-choice poll", multi, []string{"A", "C"}, ""},
		{"two on a single-choice poll", single, []string{"A", "B"}, tenants.EINVALID},
		{"same option twice", multi, []string{"A", "A"}, tenants.EINVALID},
		{"another number's poll", foreign, []string{"A"}, tenants.ENOTFOUND},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := g.SimulateVote(ctx, "shop", "5511912345678", tt.poll, tt.options)
			if got := tenants.ErrorCode(err); got != tt.want {
				t.Errorf("SimulateVote: err %v, want code %q", err, tt.want)
			}
		})
	}
}

func TestCloseStopsPendingReceipts(t *testing.T) {
	start := runtime.NumGoroutine()
	rec := &recorder{}
	g := sandbox.New(sandbox.Config{StatusStep: time.Hour, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	g.SetSink(rec.sink)
	in := MustOpen(t, g, "shop")
	for range 5 {
		if _, err := g.SendText(context.Background(), in, tenants.OutboundText{To: "5511912345678", Text: "Hi"}); err != nil {
			t.Fatalf("SendText: %v", err)
		}
	}
	if runtime.NumGoroutine() <= start {
		t.Fatalf("no receipt goroutines running before Close")
	}
	g.Close()
	deadline := time.Now().Add(time.Second)
	for runtime.NumGoroutine() > start && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > start {
		t.Errorf("%d goroutines after Close, %d before New", n, start)
	}
	if got := len(rec.waitFor(t, 1, kind(tenants.EventConnection))); got != 1 || len(rec.snapshot()) != 1 {
		t.Errorf("events after Close: %+v, want only the open event", rec.snapshot())
	}
	if _, err := g.SendText(context.Background(), in, tenants.OutboundText{To: "5511912345678", Text: "Hi"}); err == nil {
		t.Errorf("SendText after Close succeeded")
	}
	g.Close() // a second Close is harmless
}
