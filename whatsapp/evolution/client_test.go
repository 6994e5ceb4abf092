package evolution

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/aibud/aibud/tenants"
)

// reply is one canned gateway answer; wait delays it (bounded by the
// request's context, so a timed-out client does not hold the server).
type reply struct {
	status int
	body   string
	wait   time.Duration
}

// request is what the fake gateway saw.
type request struct {
	Method, Path, APIKey string
	Body                 map[string]any
}

// fakeGateway answers with its replies in order, repeating the last one,
// and records every request.
type fakeGateway struct {
	mu       sync.Mutex
	replies  []reply
	requests []request
}

func (g *fakeGateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	var body map[string]any
	_ = json.Unmarshal(raw, &body)
	g.mu.Lock()
	g.requests = append(g.requests, request{Method: r.Method, Path: r.URL.RequestURI(), APIKey: r.Header.Get("apikey"), Body: body})
	rep := g.replies[min(len(g.requests), len(g.replies))-1]
	g.mu.Unlock()
	select {
	case <-time.After(rep.wait):
	case <-r.Context().Done():
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(rep.status)
	_, _ = io.WriteString(w, rep.body)
}

func (g *fakeGateway) seen() []request {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]request(nil), g.requests...)
}

// MustFakeGateway starts a fake gateway with the given replies and a client
// for it with fast retries and a short timeout.
func MustFakeGateway(tb testing.TB, replies ...reply) (*fakeGateway, *Client) {
	tb.Helper()
	g := &fakeGateway{replies: replies}
	srv := httptest.NewServer(g)
	tb.Cleanup(srv.Close)
	c := New(Config{ShardID: "s1", BaseURL: srv.URL + "/", GlobalKey: "GLOBAL", Backoff: time.Millisecond, Timeout: 200 * time.Millisecond})
	return g, c
}

var shop1 = tenants.GatewayInstance{ShardID: "s1", Name: "shop1", Token: "TOKEN1"}

const createdBody = `{"instance":{"instanceName":"shop1","instanceId":"8a7b","integration":"WHATSAPP-BAILEYS",
 "webhookWaBusiness":null,"accessTokenWaBusiness":"","status":"connecting"},"hash":"TOKEN1",
 "webhook":{"webhookUrl":"https://app/hook","webhookHeaders":{},"webhookByEvents":false,"webhookBase64":false},
 "websocket":{},"rabbitmq":{},"nats":{},"sqs":{},"settings":{"rejectCall":false,"groupsIgnore":true},
 "qrcode":{"pairingCode":"WZYEH1YY","code":"2@abc","base64":"data:image/png;base64,iVBO","count":1}}`

func TestCreateInstance(t *testing.T) {
	g, c := MustFakeGateway(t, reply{status: 201, body: createdBody})
	in, qr, err := c.CreateInstance(context.Background(), tenants.CreateInstanceRequest{
		Name: "shop1", Token: "TOKEN1", WebhookURL: "https://app/hook", Number: "5511999999999"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(shop1, in); diff != "" {
		t.Errorf("instance (-want +got):\n%s", diff)
	}
	wantQR := tenants.QRCode{State: tenants.StateConnecting, Image: "data:image/png;base64,iVBO", Code: "2@abc", PairingCode: "WZYEH1YY", Count: 1}
	if diff := cmp.Diff(wantQR, qr); diff != "" {
		t.Errorf("qr (-want +got):\n%s", diff)
	}
	events := []any{}
	for _, e := range DefaultEvents() {
		events = append(events, e)
	}
	want := []request{{Method: "POST", Path: "/instance/create", APIKey: "GLOBAL", Body: map[string]any{
		"instanceName": "shop1", "integration": "WHATSAPP-BAILEYS", "token": "TOKEN1", "qrcode": true,
		"number": "5511999999999", "groupsIgnore": true,
		"webhook": map[string]any{"url": "https://app/hook", "byEvents": false, "base64": false, "events": events},
	}}}
	if diff := cmp.Diff(want, g.seen()); diff != "" {
		t.Errorf("request (-want +got):\n%s", diff)
	}
}

func TestConnectShapes(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		want       tenants.QRCode
	}{
		{"open", `{"instance":{"instanceName":"shop1","state":"open"}}`, tenants.QRCode{State: tenants.StateOpen}},
		{"qr", `{"pairingCode":null,"code":"2@x","base64":"data:image/png;base64,AA","count":3}`,
			tenants.QRCode{State: tenants.StateConnecting, Image: "data:image/png;base64,AA", Code: "2@x", Count: 3}},
		{"no qr yet", `{"count":0}`, tenants.QRCode{State: tenants.StateConnecting}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, c := MustFakeGateway(t, reply{status: 200, body: tc.body})
			qr, err := c.Connect(context.Background(), shop1, "5511999999999")
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, qr); diff != "" {
				t.Errorf("qr (-want +got):\n%s", diff)
			}
			want := []request{{Method: "GET", Path: "/instance/connect/shop1?number=5511999999999", APIKey: "TOKEN1"}}
			if diff := cmp.Diff(want, g.seen()); diff != "" {
				t.Errorf("request (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSendBodies(t *testing.T) {
	const sent = `{"key":{"remoteJid":"5511988887777@s.whatsapp.net","fromMe":true,"id":"3EB0AA"},"status":"PENDING","messageTimestamp":1733400000}`
	g, c := MustFakeGateway(t, reply{status: 201, body: sent})
	ctx := context.Background()
	msgs := []func() (tenants.SentMessage, error){
		func() (tenants.SentMessage, error) {
			return c.SendPoll(ctx, shop1, tenants.OutboundPoll{To: "5511988887777", Question: "Pick", Options: []string{"A", "B"}, Delay: 1200 * time.Millisecond})
		},
		func() (tenants.SentMessage, error) {
			return c.SendPoll(ctx, shop1, tenants.OutboundPoll{To: "5511988887777", Question: "Pick", Options: []string{"A", "B"}, Multiple: true})
		},
		func() (tenants.SentMessage, error) {
			return c.SendText(ctx, shop1, tenants.OutboundText{To: "5511988887777", Text: "hi", QuoteID: "3EB0PP", Delay: time.Second})
		},
	}
	for _, send := range msgs {
		got, err := send()
		if err != nil {
			t.Fatal(err)
		}
		if want := (tenants.SentMessage{ID: "3EB0AA", At: time.Unix(1733400000, 0).UTC()}); got != want {
			t.Errorf("sent = %+v, want %+v", got, want)
		}
	}
	opts := []any{"A", "B"}
	want := []request{
		{Method: "POST", Path: "/message/sendPoll/shop1", APIKey: "TOKEN1", Body: map[string]any{
			"number": "5511988887777", "name": "Pick", "values": opts, "selectableCount": 1.0, "delay": 1200.0}},
		{Method: "POST", Path: "/message/sendPoll/shop1", APIKey: "TOKEN1", Body: map[string]any{
			"number": "5511988887777", "name": "Pick", "values": opts, "selectableCount": 0.0}},
		{Method: "POST", Path: "/message/sendText/shop1", APIKey: "TOKEN1", Body: map[string]any{
			"number": "5511988887777", "text": "hi", "delay": 1000.0, "quoted": map[string]any{"key": map[string]any{"id": "3EB0PP"}}}},
	}
	if diff := cmp.Diff(want, g.seen()); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
}

// notExists is the 400 of a send to a number without WhatsApp.
const notExists = `{"status":400,"error":"Bad Request","response":{"message":[{"jid":"5511900000000@s.whatsapp.net","exists":false,"number":"5511900000000"}]}}`

func TestClientErrors(t *testing.T) {
	ok := `{"instance":{"instanceName":"shop1","state":"open"}}`
	state := func(c *Client) error { _, err := c.ConnectionState(context.Background(), shop1); return err }
	connect := func(c *Client) error { _, err := c.Connect(context.Background(), shop1, ""); return err }
	sendText := func(c *Client) error {
		_, err := c.SendText(context.Background(), shop1, tenants.OutboundText{To: "5511900000000", Text: "hi"})
		return err
	}
	create := func(c *Client) error {
		_, _, err := c.CreateInstance(context.Background(), tenants.CreateInstanceRequest{Name: "shop1"})
		return err
	}
	logout := func(c *Client) error { return c.Logout(context.Background(), shop1) }
	del := func(c *Client) error { return c.DeleteInstance(context.Background(), shop1) }
	for _, tc := range []struct {
		name    string
		run     func(*Client) error
		replies []reply
		want    *tenants.GatewayError // nil: success
		calls   int
	}{
		{"5xx retried then success", state, []reply{{500, `{"status":500,"error":"Internal Server Error","response":{"message":"boom"}}`, 0}, {200, ok, 0}}, nil, 2},
		{"5xx retried until exhausted", state, []reply{{503, `{"status":503,"error":"x","response":{"message":"busy"}}`, 0}},
			&tenants.GatewayError{Op: "connectionState", Status: 503, Message: "busy", Temporary: true}, 4},
		{"proxy html 502", state, []reply{{502, `<html>bad gateway</html>`, 0}},
			&tenants.GatewayError{Op: "connectionState", Status: 502, Message: "Bad Gateway: <html>bad gateway</html>", Temporary: true}, 4},
		{"4xx not retried", state, []reply{{401, `{"status":401,"error":"Unauthorized","response":{"message":"Unauthorized"}}`, 0}},
			&tenants.GatewayError{Op: "connectionState", Status: 401, Message: "Unauthorized"}, 1},
		{"unknown instance 404", state, []reply{{404, `{"status":404,"error":"Not Found","response":{"message":["The \"shop1\" instance does not exist"]}}`, 0}},
			&tenants.GatewayError{Op: "connectionState", Status: 404, Message: `The "shop1" instance does not exist`}, 1},
		{"200 error true", connect, []reply{{200, `{"error":true,"message":"[object Object]"}`, 0}},
			&tenants.GatewayError{Op: "connect", Status: 200, Message: "gateway error: [object Object]", Temporary: true}, 4},
		{"send 5xx not retried", sendText, []reply{{500, `{"status":500,"error":"Internal Server Error","response":{"message":"x"}}`, 0}},
			&tenants.GatewayError{Op: "sendText", Status: 500, Message: "x", Temporary: true}, 1},
		{"send not on whatsapp", sendText, []reply{{400, notExists, 0}},
			&tenants.GatewayError{Op: "sendText", Status: 400, Message: "5511900000000 is not on WhatsApp", Err: tenants.ErrNotOnWhatsApp}, 1},
		{"send schema error", sendText, []reply{{400, `{"status":400,"error":"Bad Request","response":{"message":["instance requires property \"text\"","x"]}}`, 0}},
			&tenants.GatewayError{Op: "sendText", Status: 400, Message: `instance requires property "text"; x`}, 1},
		{"create 5xx not retried", create, []reply{{500, `{"status":500,"error":"x","response":{"message":"db down"}}`, 0}},
			&tenants.GatewayError{Op: "create", Status: 500, Message: "db down", Temporary: true}, 1},
		{"create name taken", create, []reply{{403, `{"status":403,"error":"Forbidden","response":{"message":["This name \"shop1\" is already in use."]}}`, 0}},
			&tenants.GatewayError{Op: "create", Status: 403, Message: `This name "shop1" is already in use.`}, 1},
		{"logout not connected is success", logout, []reply{{400, `{"status":400,"error":"Bad Request","response":{"message":["The \"shop1\" instance is not connected"]}}`, 0}}, nil, 1},
		{"logout unknown instance", logout, []reply{{404, `{"status":404,"error":"Not Found","response":{"message":["gone"]}}`, 0}},
			&tenants.GatewayError{Op: "logout", Status: 404, Message: "gone"}, 1},
		{"delete 404 is success", del, []reply{{404, `{"status":404,"error":"Not Found","response":{"message":["gone"]}}`, 0}}, nil, 1},
		{"delete 5xx retried", del, []reply{{500, `{}`, 0}, {200, `{"status":"SUCCESS","error":false,"response":{"message":"Instance deleted"}}`, 0}}, nil, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, c := MustFakeGateway(t, tc.replies...)
			err := tc.run(c)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("err = %v, want nil", err)
				}
			} else if ge := asGatewayError(err); ge == nil {
				t.Fatalf("err = %v, want a *tenants.GatewayError", err)
			} else if diff := cmp.Diff(*tc.want, *ge, cmp.Comparer(func(a, b error) bool { return a == b })); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
			if tc.want != nil && tc.want.Err != nil && !errors.Is(err, tc.want.Err) {
				t.Errorf("errors.Is(%v, %v) = false", err, tc.want.Err)
			}
			if got := len(g.seen()); got != tc.calls {
				t.Errorf("calls = %d, want %d", got, tc.calls)
			}
		})
	}
}
