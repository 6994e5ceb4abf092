package evolution

import (
	"testing"

	"github.com/aibud/aibud/tenants"
)

// FuzzEvolutionWebhook feeds ParseWebhook arbitrary bodies and paths. The
// webhook endpoint is open to the internet (Evolution signs nothing), so the
// parser must never panic, and whatever it accepts must be a well-formed
// domain event. Seeds are every payload of the table tests.
func FuzzEvolutionWebhook(f *testing.F) {
	for _, c := range append(gatewayEventCases(), messageCases()...) {
		f.Add(c.payload(f), c.path)
	}
	f.Add([]byte(`{"event":"messages.upsert","instance":"shop1","data":[]}`), "")
	f.Add([]byte(`{"event":"","instance":"shop1","data":null}`), "/")
	f.Fuzz(func(t *testing.T, body []byte, path string) {
		events, err := ParseWebhook(body, path)
		if err != nil {
			if events != nil {
				t.Errorf("events %+v returned with error %v", events, err)
			}
			return
		}
		for _, ev := range events {
			checkEvent(t, ev)
		}
	})
}

// checkEvent asserts the GatewayEvent contract: an instance, a DedupeKey,
// and exactly the payload pointer that matches Kind.
func checkEvent(t *testing.T, ev tenants.GatewayEvent) {
	t.Helper()
	if ev.Instance == "" || ev.DedupeKey == "" {
		t.Errorf("event without instance or dedupe key: %+v", ev)
	}
	set := map[tenants.EventKind]bool{
		tenants.EventConnection:    ev.Connection != nil,
		tenants.EventQR:            ev.QR != nil,
		tenants.EventMessageStatus: ev.Status != nil,
		tenants.EventInboundText:   ev.Text != nil,
		tenants.EventPollVote:      ev.Vote != nil,
	}
	for kind, present := range set {
		if present != (kind == ev.Kind) {
			t.Errorf("kind %s but %s payload present=%v: %+v", ev.Kind, kind, present, ev)
		}
	}
	if _, known := set[ev.Kind]; !known && ev.Kind != tenants.EventIgnored {
		t.Errorf("unknown kind %q", ev.Kind)
	}
	if ev.Vote != nil && ev.Vote.Unreadable && len(ev.Vote.Options) > 0 {
		t.Errorf("unreadable vote with options: %+v", ev.Vote)
	}
	if ev.Text != nil && ev.Text.From == "" && ev.Text.FromLID == "" {
		t.Errorf("inbound text without a sender: %+v", ev.Text)
	}
}
