package evolutionsim

import (
	"errors"
	"regexp"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// openWithPoll opens "shop" with a MESSAGES_UPSERT subscription and sends
// a poll A/B/C to 5511988887777, returning the receiver and the poll id.
func openWithPoll(t *testing.T) (*testEnv, *receiver, string) {
	t.Helper()
	rc := mustReceiver(t, nil)
	e := mustSim(t, Config{})
	e.open("shop", rc.URL(), "MESSAGES_UPSERT")
	_, body := e.call("POST", "/message/sendPoll/shop", testKey, map[string]any{
		"number": "5511988887777", "name": "Pick", "selectableCount": 1, "values": []string{"A", "B", "C"},
	})
	return e, rc, path(body, "key", "id").(string)
}

func TestVoteModes(t *testing.T) {
	voter := "5511988887777@s.whatsapp.net"
	tests := []struct {
		mode        VoteMode
		options     []string
		selected    any // vote.selectedOptions; nil means absent
		pollUpdates any // nil means absent
	}{
		{VoteNormal, []string{"B"}, []any{"B"}, []any{
			map[string]any{"name": "A", "voters": []any{}},
			map[string]any{"name": "B", "voters": []any{voter}},
			map[string]any{"name": "C", "voters": []any{}},
		}},
		{VoteEncrypted, []string{"B"}, nil, nil},
		{VoteEmpty, nil, []any{}, []any{
			map[string]any{"name": "A", "voters": []any{}},
			map[string]any{"name": "B", "voters": []any{}},
			map[string]any{"name": "C", "voters": []any{}},
		}},
	}
	for _, tt := range tests {
		t.Run(string(tt.mode), func(t *testing.T) {
			e, rc, pollID := openWithPoll(t)
			id, err := e.sim.Vote("shop", Vote{From: "5511988887777", Poll: pollID, Options: tt.options, Mode: tt.mode, PushName: "Maria"})
			if err != nil {
				t.Fatal(err)
			}
			rc.waitEvents(t, 1, "messages.upsert")
			data := rc.lastData(t, "messages.upsert")
			if path(data, "key", "id") != id || path(data, "key", "fromMe") != false || path(data, "key", "remoteJid") != voter ||
				data["messageType"] != "pollUpdateMessage" || data["pushName"] != "Maria" {
				t.Errorf("vote data = %v", data)
			}
			update := path(data, "message", "pollUpdateMessage")
			wantKey := map[string]any{"remoteJid": voter, "fromMe": true, "id": pollID}
			if diff := cmp.Diff(wantKey, path(update, "pollCreationMessageKey")); diff != "" {
				t.Errorf("pollCreationMessageKey (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.selected, path(update, "vote", "selectedOptions")); diff != "" {
				t.Errorf("selectedOptions (-want +got):\n%s", diff)
			}
			if path(update, "vote", "encPayload", "type") != "Buffer" || path(update, "vote", "encIv", "type") != "Buffer" {
				t.Errorf("vote = %v, want Buffer objects", path(update, "vote"))
			}
			ts, _ := path(update, "senderTimestampMs").(map[string]any)
			if _, ok := ts["low"]; !ok || ts["unsigned"] != false {
				t.Errorf("senderTimestampMs = %v, want a Long object", path(update, "senderTimestampMs"))
			}
			if diff := cmp.Diff(tt.pollUpdates, data["pollUpdates"]); diff != "" {
				t.Errorf("pollUpdates (-want +got):\n%s", diff)
			}
		})
	}
}

func TestVoteErrors(t *testing.T) {
	e, _, pollID := openWithPoll(t)
	if _, err := e.sim.Vote("shop", Vote{From: "5511988887777", Poll: "3EB0000000000000000000", Options: []string{"A"}}); !errors.Is(err, ErrUnknownPoll) {
		t.Errorf("unknown poll: %v", err)
	}
	if _, err := e.sim.Vote("shop", Vote{From: "5511988887777", Poll: pollID, Options: []string{"Z"}}); !errors.Is(err, ErrInvalid) {
		t.Errorf("unknown option: %v", err)
	}
	status, body := e.call("POST", "/_sim/instances/shop/vote", "", map[string]any{"from": "5511988887777", "poll": "nope", "options": []string{"A"}})
	if status != 404 {
		t.Errorf("control vote on unknown poll: %d %v", status, body)
	}
	status, _ = e.call("POST", "/_sim/instances/shop/vote", "", map[string]any{"from": "5511988887777", "poll": pollID, "options": []string{"Z"}})
	if status != 400 {
		t.Errorf("control vote with unknown option: %d", status)
	}
	status, body = e.call("POST", "/_sim/instances/shop/vote", "", map[string]any{"from": "5511988887777", "poll": pollID, "options": []string{"A", "C"}})
	if status != 200 || path(body, "id") == nil {
		t.Errorf("control vote: %d %v", status, body)
	}
}

func TestReply(t *testing.T) {
	e, rc, _ := openWithPoll(t)
	_, sent := e.call("POST", "/message/sendText/shop", testKey, map[string]any{"number": "5511988887777", "text": "Want it?"})
	sentID := path(sent, "key", "id").(string)
	info, _ := e.sim.Instance("shop")

	id, err := e.sim.Reply("shop", Reply{From: "5511988887777", Text: "yes please", Quoted: sentID, PushName: "Maria"})
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^3A[0-9A-F]{18}$`).MatchString(id) {
		t.Errorf("reply id %q", id)
	}
	rc.waitEvents(t, 1, "messages.upsert")
	data := rc.lastData(t, "messages.upsert")
	ts := data["messageTimestamp"]
	want := map[string]any{
		"key":      map[string]any{"remoteJid": "5511988887777@s.whatsapp.net", "fromMe": false, "id": id, "addressingMode": "pn"},
		"pushName": "Maria", "status": "DELIVERY_ACK",
		"message": map[string]any{"conversation": "yes please"},
		"contextInfo": map[string]any{"stanzaId": sentID, "participant": "5511999999999@s.whatsapp.net",
			"quotedMessage": map[string]any{"conversation": "Want it?"}},
		"messageType": "conversation", "messageTimestamp": ts, "instanceId": info.ID, "source": "ios",
	}
	if diff := cmp.Diff(want, data); diff != "" {
		t.Errorf("reply data (-want +got):\n%s", diff)
	}

	status, body := e.call("POST", "/_sim/instances/shop/reply", "", map[string]any{"from": "5511988887777", "text": "again", "lid": true})
	if status != 200 {
		t.Fatalf("control reply: %d %v", status, body)
	}
	rc.waitEvents(t, 2, "messages.upsert")
	key := path(rc.lastData(t, "messages.upsert"), "key").(map[string]any)
	if !regexp.MustCompile(`^\d{15}@lid$`).MatchString(key["remoteJid"].(string)) ||
		key["remoteJidAlt"] != "5511988887777@s.whatsapp.net" || key["addressingMode"] != "lid" || key["id"] != path(body, "id") {
		t.Errorf("lid key = %v", key)
	}
	if _, err := e.sim.Reply("shop", Reply{From: "5511988887777", Text: "x", LID: true}); err != nil {
		t.Fatal(err)
	}
	rc.waitEvents(t, 3, "messages.upsert")
	if again := path(rc.lastData(t, "messages.upsert"), "key", "remoteJid"); again != key["remoteJid"] {
		t.Errorf("LID changed between replies: %v then %v", key["remoteJid"], again)
	}
}

func TestInboundNeedsOpenInstance(t *testing.T) {
	e := mustSim(t, Config{})
	e.create(map[string]any{"instanceName": "shop"})
	if _, err := e.sim.Reply("shop", Reply{From: "5511988887777", Text: "hi"}); !errors.Is(err, ErrWrongState) {
		t.Errorf("reply to closed instance: %v", err)
	}
	if _, err := e.sim.Reply("nope", Reply{From: "5511988887777", Text: "hi"}); !errors.Is(err, ErrUnknownInstance) {
		t.Errorf("reply to unknown instance: %v", err)
	}
	if _, err := e.sim.Reply("shop", Reply{From: "5511988887777"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("reply without text: %v", err)
	}
}
