package store

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aibud/aibud/tenants"
	"github.com/google/go-cmp/cmp"
)

// TestEchoAdoptsInterruptedSend covers a worker killed between claiming a
// message and storing the gateway's answer: the gateway's echo of the poll
// (SEND_MESSAGE) must mark the right message sent, so it is never sent
// twice, and must leave every other message alone.
func TestEchoAdoptsInterruptedSend(t *testing.T) {
	ctx := context.Background()
	s := mustOpen(t, 8)
	tid := mustTenant(t, s, 10)
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	for _, id := range []string{"in-1", "in-2"} {
		if err := s.PutInstance(ctx, tenants.Instance{ID: id, TenantID: tid, State: tenants.StateOpen}); err != nil {
			t.Fatal(err)
		}
	}
	plan := func(_ tenants.PaceCursor, n int) ([]time.Time, tenants.PaceCursor) {
		return make([]time.Time, n), tenants.PaceCursor{}
	}
	const phone, other = "5511988887777", "5511988886666"
	poll := func(id, instanceID, question string, status tenants.MessageStatus) {
		t.Helper()
		p := tenants.Poll{ID: id, TenantID: tid, InstanceID: instanceID, Question: question, Options: []string{"A", "B"}}
		if err := s.PutPoll(ctx, p); err != nil {
			t.Fatal(err)
		}
		if _, err := s.WriteMessages(ctx, tid, p, []string{phone, other}, plan); err != nil {
			t.Fatal(err)
		}
		for _, to := range []string{phone, other} {
			if _, err := s.UpdateMessage(ctx, tid, id, to, func(m *tenants.Message) error {
				m.Status, m.UpdatedAt = status, now
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		}
	}
	poll("p-claimed", "in-1", "Pick one", tenants.StatusSending)
	poll("p-queued", "in-1", "Pick one", tenants.StatusQueued)        // never claimed: not in flight
	poll("p-elsewhere", "in-2", "Pick one", tenants.StatusSending)    // claimed on another number
	poll("p-question", "in-1", "Pick another", tenants.StatusSending) // another question

	echo := func(waid, to, question string, status tenants.MessageStatus) tenants.GatewayEvent {
		return tenants.GatewayEvent{Kind: tenants.EventMessageStatus, DedupeKey: "send.message:" + waid + ":" + string(status),
			Status: &tenants.StatusChange{MessageID: waid, Status: status, To: to, PollName: question}}
	}
	// A delivery receipt that beats the echo is kept until the id is known.
	early := tenants.GatewayEvent{Kind: tenants.EventMessageStatus, DedupeKey: "messages.update:3EB0AAA:delivered",
		Status: &tenants.StatusChange{MessageID: "3EB0AAA", Status: tenants.StatusDelivered}}
	// A text echo (an auto-reply) carries no question and adopts nothing.
	text := tenants.GatewayEvent{Kind: tenants.EventMessageStatus, DedupeKey: "send.message:3EB0TXT:sent",
		Status: &tenants.StatusChange{MessageID: "3EB0TXT", Status: tenants.StatusSent}}
	if _, err := s.ApplyEvents(ctx, tid, "in-1", []tenants.GatewayEvent{early, text, echo("3EB0AAA", phone, "Pick one", tenants.StatusSent)}, now); err != nil {
		t.Fatal(err)
	}

	want := map[string]tenants.MessageStatus{
		"p-claimed/" + phone: tenants.StatusDelivered, "p-claimed/" + other: tenants.StatusSending,
		"p-queued/" + phone: tenants.StatusQueued, "p-elsewhere/" + phone: tenants.StatusSending,
		"p-question/" + phone: tenants.StatusSending,
	}
	check := func() {
		t.Helper()
		for key, status := range want {
			pollID, to, _ := strings.Cut(key, "/")
			m, err := s.Message(ctx, tid, pollID, to)
			if err != nil {
				t.Fatal(err)
			}
			if m.Status != status {
				t.Errorf("%s: status %s, want %s", key, m.Status, status)
			}
			if adopted := key == "p-claimed/"+phone; adopted != (m.WAID == "3EB0AAA") {
				t.Errorf("%s: gateway id %q", key, m.WAID)
			}
		}
	}
	check()

	// The echo delivered again (the gateway retried) changes nothing, and
	// a second echo for the same recipient takes the other claimed poll on
	// that number only when the question matches.
	if _, err := s.ApplyEvents(ctx, tid, "in-1", []tenants.GatewayEvent{echo("3EB0AAA", phone, "Pick one", tenants.StatusSent)}, now); err != nil {
		t.Fatal(err)
	}
	check()
	if _, err := s.ApplyEvents(ctx, tid, "in-1", []tenants.GatewayEvent{echo("3EB0BBB", phone, "Pick another", tenants.StatusSent)}, now); err != nil {
		t.Fatal(err)
	}
	m, err := s.Message(ctx, tid, "p-question", phone)
	if err != nil {
		t.Fatal(err)
	}
	if m.Status != tenants.StatusSent || m.WAID != "3EB0BBB" || m.SentAt.IsZero() {
		t.Errorf("second echo: message %+v, want sent as 3EB0BBB", m)
	}
}

// TestRepliesBefore reads only the latest earlier replies of one contact.
func TestRepliesBefore(t *testing.T) {
	ctx := context.Background()
	s := mustOpen(t, 8)
	tid := mustTenant(t, s, 0)
	if err := s.PutInstance(ctx, tenants.Instance{ID: "in-1", TenantID: tid, State: tenants.StateOpen}); err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	var ids []string
	for i, from := range []string{"5511911111111", "5511922222222", "5511911111111", "5511911111111", "5511911111111"} {
		ev := tenants.GatewayEvent{Kind: tenants.EventInboundText, DedupeKey: fmt.Sprintf("messages.upsert:%d", i),
			Text: &tenants.InboundText{MessageID: fmt.Sprintf("3A%d", i), From: from, Text: fmt.Sprintf("text %d", i), At: start.Add(time.Duration(i) * time.Minute)}}
		applied, err := s.ApplyEvents(ctx, tid, "in-1", []tenants.GatewayEvent{ev}, start)
		if err != nil || len(applied.Replies) != 1 {
			t.Fatalf("reply %d: %+v, %v", i, applied, err)
		}
		ids = append(ids, applied.Replies[0].ID)
	}
	texts := func(rs []tenants.Reply) []string {
		var out []string
		for _, r := range rs {
			out = append(out, r.Text)
		}
		return out
	}
	for _, tc := range []struct {
		before string
		n      int
		want   []string
	}{
		{ids[4], 2, []string{"text 2", "text 3"}},
		{ids[4], 6, []string{"text 0", "text 2", "text 3"}},
		{ids[2], 6, []string{"text 0"}},
		{ids[0], 6, nil},
	} {
		got, err := s.RepliesBefore(ctx, tid, "5511911111111", tc.before, tc.n)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tc.want, texts(got)); diff != "" {
			t.Errorf("before %s, n %d (-want +got):\n%s", tc.before, tc.n, diff)
		}
	}
}
