package evolutionsim

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var outboundIDPattern = regexp.MustCompile(`^3EB0[0-9A-F]{18}$`)

func TestSendText(t *testing.T) {
	rc := mustReceiver(t, nil)
	e := mustSim(t, Config{Now: func() time.Time { return time.Unix(1733400000, 0) }})
	token := e.open("shop", rc.URL(), "SEND_MESSAGE", "MESSAGES_UPDATE")
	info, _ := e.sim.Instance("shop")

	status, body := e.call("POST", "/message/sendText/shop", token, map[string]any{
		"number": "+55 (11) 98888-7777", "text": "hi", "delay": 20,
	})
	if status != 201 {
		t.Fatalf("sendText: %d %v", status, body)
	}
	id, _ := path(body, "key", "id").(string)
	if !outboundIDPattern.MatchString(id) {
		t.Errorf("id %q does not match %s", id, outboundIDPattern)
	}
	want := map[string]any{
		"key":      map[string]any{"remoteJid": "5511988887777@s.whatsapp.net", "fromMe": true, "id": id},
		"pushName": "Você", "status": "PENDING",
		"message":     map[string]any{"conversation": "hi"},
		"messageType": "conversation", "messageTimestamp": float64(1733400000),
		"instanceId": info.ID, "source": "web",
	}
	if diff := cmp.Diff(want, body); diff != "" {
		t.Errorf("response (-want +got):\n%s", diff)
	}

	// SEND_MESSAGE carries the same object, then the receipts in order.
	rc.waitEvents(t, 4)
	if got := rc.events(); !cmp.Equal(got, []string{"send.message", "messages.update", "messages.update", "messages.update"}) {
		t.Fatalf("events = %v", got)
	}
	hooks := rc.all()
	var sent any
	if err := json.Unmarshal(hooks[0].Data, &sent); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, sent); diff != "" {
		t.Errorf("SEND_MESSAGE data (-want +got):\n%s", diff)
	}
	var statuses []any
	for _, h := range hooks[1:] {
		data := h.Raw["data"].(map[string]any)
		statuses = append(statuses, data["status"])
		wantUpdate := map[string]any{"keyId": id, "remoteJid": "5511988887777@s.whatsapp.net", "fromMe": true,
			"participant": nil, "status": data["status"], "instanceId": info.ID, "messageId": data["messageId"]}
		if diff := cmp.Diff(wantUpdate, data); diff != "" {
			t.Errorf("MESSAGES_UPDATE data (-want +got):\n%s", diff)
		}
	}
	if !cmp.Equal(statuses, []any{"SERVER_ACK", "DELIVERY_ACK", "READ"}) {
		t.Errorf("statuses = %v", statuses)
	}

	sentLog := e.sim.Sent()
	wantLog := []SentMessage{{Instance: "shop", Number: "5511988887777", ID: id, Type: "text", Text: "hi"}}
	if diff := cmp.Diff(wantLog, sentLog, cmpopts.IgnoreFields(SentMessage{}, "At")); diff != "" {
		t.Errorf("Sent (-want +got):\n%s", diff)
	}
	calls := e.sim.Calls()
	last := calls[len(calls)-1]
	if last.Method != "POST" || last.Path != "/message/sendText/shop" || last.Instance != "shop" ||
		!json.Valid(last.Body) || path(mustDecode(t, last.Body), "text") != "hi" {
		t.Errorf("last call = %+v", last)
	}
}

func mustDecode(t *testing.T, raw []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestSendPoll(t *testing.T) {
	e := mustSim(t, Config{})
	e.open("shop", "http://127.0.0.1:1/unused", "APPLICATION_STARTUP")
	tests := []struct {
		selectable  int
		messageType string
	}{
		{1, "pollCreationMessageV3"},
		{0, "pollCreationMessage"},
		{2, "pollCreationMessage"},
	}
	for _, tt := range tests {
		status, body := e.call("POST", "/message/sendPoll/shop", testKey, map[string]any{
			"number": "5511988887777", "name": "Pick one", "selectableCount": tt.selectable, "values": []string{"A", "B", "C"},
		})
		if status != 201 {
			t.Fatalf("sendPoll: %d %v", status, body)
		}
		if !outboundIDPattern.MatchString(path(body, "key", "id").(string)) || path(body, "messageType") != tt.messageType {
			t.Errorf("selectable %d: %v", tt.selectable, body)
		}
		wantPoll := map[string]any{"name": "Pick one", "selectableOptionsCount": float64(tt.selectable),
			"options": []any{map[string]any{"optionName": "A"}, map[string]any{"optionName": "B"}, map[string]any{"optionName": "C"}}}
		if diff := cmp.Diff(wantPoll, path(body, "message", tt.messageType)); diff != "" {
			t.Errorf("poll message (-want +got):\n%s", diff)
		}
		secret, _ := path(body, "message", "messageContextInfo", "messageSecret", "data").([]any)
		if len(secret) != 32 || path(body, "status") != "PENDING" || path(body, "pushName") != "Você" {
			t.Errorf("secret %d bytes, body %v", len(secret), body)
		}
	}
	if got := e.sim.Sent(); len(got) != 3 || got[0].Type != "poll" || !cmp.Equal(got[0].Options, []string{"A", "B", "C"}) {
		t.Errorf("Sent = %+v", got)
	}
}

func TestSendValidation(t *testing.T) {
	e := mustSim(t, Config{})
	e.open("shop", "http://127.0.0.1:1/unused", "APPLICATION_STARTUP")
	tests := []struct {
		name string
		path string
		body any
		want []any
	}{
		{"text missing number", "/message/sendText/shop", map[string]any{"text": "x"}, []any{`instance requires property "number"`}},
		{"text blank", "/message/sendText/shop", map[string]any{"number": "5511988887777", "text": "  "}, []any{`The "text" cannot be empty`}},
		{"poll missing name", "/message/sendPoll/shop", map[string]any{"number": "1", "selectableCount": 1, "values": []string{"a", "b"}},
			[]any{`instance requires property "name"`}},
		{"poll bad count", "/message/sendPoll/shop", map[string]any{"number": "1", "name": "n", "selectableCount": 11, "values": []string{"a", "b"}},
			[]any{"selectableCount must be less than or equal to 10"}},
		{"poll fractional count", "/message/sendPoll/shop", map[string]any{"number": "1", "name": "n", "selectableCount": 1.5, "values": []string{"a", "b"}},
			[]any{"selectableCount is not of a type(s) integer"}},
		{"poll one value", "/message/sendPoll/shop", map[string]any{"number": "1", "name": "n", "selectableCount": 1, "values": []string{"a"}},
			[]any{"values does not meet minimum length of 2"}},
		{"poll eleven values", "/message/sendPoll/shop", map[string]any{"number": "1", "name": "n", "selectableCount": 1,
			"values": []string{"1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11"}}, []any{"values does not meet maximum length of 10"}},
		{"poll duplicates and missing count", "/message/sendPoll/shop", map[string]any{"number": "1", "name": "n", "values": []string{"a", "a"}},
			[]any{`instance requires property "selectableCount"`, "values contains duplicate item"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := e.call("POST", tt.path, testKey, tt.body)
			if status != 400 {
				t.Fatalf("status %d, want 400 (%v)", status, body)
			}
			if diff := cmp.Diff(envelopeOf(400, "Bad Request", tt.want), body); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
		})
	}
	if n := len(e.sim.Sent()); n != 0 {
		t.Errorf("%d messages sent by invalid requests", n)
	}
}

func TestSendFailures(t *testing.T) {
	e := mustSim(t, Config{})
	e.create(map[string]any{"instanceName": "closed"})
	e.open("shop", "http://127.0.0.1:1/unused", "APPLICATION_STARTUP")
	text := map[string]any{"number": "+55 11 97777-6666", "text": "hi"}

	status, body := e.call("POST", "/message/sendText/closed", testKey, text)
	if status != 400 || path(body, "response", "message", 0) != connectionClosed {
		t.Errorf("closed instance: %d %v", status, body)
	}

	e.sim.FailNumber("5511977776666", FailNotOnWhatsApp)
	status, body = e.call("POST", "/message/sendText/shop", testKey, text)
	want := envelopeOf(400, "Bad Request", []any{map[string]any{
		"jid": "5511977776666@s.whatsapp.net", "exists": false, "number": "+55 11 97777-6666"}})
	if diff := cmp.Diff(want, body); status != 400 || diff != "" {
		t.Errorf("not on WhatsApp: %d (-want +got):\n%s", status, diff)
	}
	_, rows := e.call("POST", "/chat/whatsappNumbers/shop", testKey, map[string]any{"numbers": []string{"5511977776666", "5511988887777"}})
	wantRows := []any{
		map[string]any{"jid": "5511977776666@s.whatsapp.net", "exists": false, "number": "5511977776666"},
		map[string]any{"jid": "5511988887777@s.whatsapp.net", "exists": true, "number": "5511988887777"},
	}
	if diff := cmp.Diff(wantRows, rows); diff != "" {
		t.Errorf("whatsappNumbers (-want +got):\n%s", diff)
	}

	e.sim.FailNumber("5511977776666", FailServerError)
	if status, body = e.call("POST", "/message/sendText/shop", testKey, text); status != 500 || path(body, "error") != "Internal Server Error" {
		t.Errorf("server error: %d %v", status, body)
	}
	e.sim.FailNumber("5511977776666", FailNone)
	if status, _ = e.call("POST", "/message/sendText/shop", testKey, text); status != 201 {
		t.Errorf("after FailNone: %d", status)
	}
	if n := len(e.sim.Sent()); n != 1 {
		t.Errorf("Sent has %d entries, want 1", n)
	}
}

// TestSendDelayHoldsRequest checks that the request stays open for delay.
func TestSendDelayHoldsRequest(t *testing.T) {
	e := mustSim(t, Config{})
	e.open("shop", "http://127.0.0.1:1/unused", "APPLICATION_STARTUP")
	start := time.Now()
	status, _ := e.call("POST", "/message/sendText/shop", testKey, map[string]any{"number": "5511988887777", "text": "hi", "delay": 60})
	if elapsed := time.Since(start); status != 201 || elapsed < 60*time.Millisecond {
		t.Errorf("status %d after %v, want 201 after at least 60ms", status, elapsed)
	}
}

func TestStatusStep(t *testing.T) {
	rc := mustReceiver(t, nil)
	e := mustSim(t, Config{StatusStep: 5 * time.Millisecond})
	e.open("shop", rc.URL(), "SEND_MESSAGE", "MESSAGES_UPDATE")
	for range 3 {
		e.call("POST", "/message/sendText/shop", testKey, map[string]any{"number": "5511988887777", "text": "hi"})
	}
	rc.waitEvents(t, 12)
	last := map[string]int{} // per message id, the index of the last status seen
	order := map[any]int{"PENDING": 0, "SERVER_ACK": 1, "DELIVERY_ACK": 2, "READ": 3}
	for _, h := range rc.all() {
		id, status := path(h.Raw, "data", "keyId"), path(h.Raw, "data", "status")
		if h.Event == "send.message" {
			id, status = path(h.Raw, "data", "key", "id"), "PENDING"
		}
		key := id.(string)
		prev, seen := last[key]
		if (seen && order[status] != prev+1) || (!seen && status != "PENDING") {
			t.Errorf("message %s: %v out of order (seen %v, previous step %d)", key, status, seen, prev)
		}
		last[key] = order[status]
	}
}

// TestAnswerDelaySendsWhenClientHangsUp: the message goes out before the
// answer, and a client that gives up waiting (or dies) does not stop it;
// only its SEND_MESSAGE echo tells the client it went.
func TestAnswerDelaySendsWhenClientHangsUp(t *testing.T) {
	rc := mustReceiver(t, nil)
	e := mustSim(t, Config{AnswerDelay: 2 * time.Second})
	token := e.open("shop", rc.URL(), "SEND_MESSAGE")
	body := `{"number":"5511988887777","name":"Pick one","selectableCount":1,"values":["A","B"]}`
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", e.base+"/message/sendPoll/shop", strings.NewReader(body))
	req.Header.Set("apikey", token)
	req.Header.Set("Content-Type", "application/json")
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("answered %d before the answer delay", resp.StatusCode)
	}
	if sent := e.sim.Sent(); len(sent) != 1 || sent[0].Number != "5511988887777" || sent[0].Name != "Pick one" {
		t.Fatalf("sent = %+v, want the poll", sent)
	}
	rc.waitEvents(t, 1, "send.message")
}
