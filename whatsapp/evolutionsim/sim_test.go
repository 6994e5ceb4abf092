package evolutionsim

import (
	"net/http"
	"regexp"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func envelopeOf(status int, errName string, message any) map[string]any {
	return map[string]any{"status": float64(status), "error": errName, "response": map[string]any{"message": message}}
}

// TestGuardOrder checks the guard chain: unknown instance 404 and taken
// name 403 come before the apikey check; then 401 for a missing or wrong
// key; an instance token works only on its own instance.
func TestGuardOrder(t *testing.T) {
	e := mustSim(t, Config{})
	shopToken := e.create(map[string]any{"instanceName": "shop", "token": "shop-token"})
	e.create(map[string]any{"instanceName": "other", "token": "other-token"})

	unauthorized := envelopeOf(401, "Unauthorized", "Unauthorized")
	tests := []struct {
		name   string
		method string
		path   string
		key    string
		body   any
		status int
		want   any // nil: body not compared
	}{
		{"unknown instance without key", "GET", "/instance/connectionState/nope", "", nil, 404,
			envelopeOf(404, "Not Found", []any{`The "nope" instance does not exist`})},
		{"unknown instance with wrong key", "GET", "/instance/connect/nope", "wrong", nil, 404, nil},
		{"duplicate create without key", "POST", "/instance/create", "", map[string]any{"instanceName": "shop"}, 403,
			envelopeOf(403, "Forbidden", []any{`This name "shop" is already in use.`})},
		{"create without key", "POST", "/instance/create", "", map[string]any{"instanceName": "new"}, 401, unauthorized},
		{"create with instance token", "POST", "/instance/create", shopToken,
			map[string]any{"instanceName": "new", "integration": "WHATSAPP-BAILEYS"}, 401, unauthorized},
		{"missing key", "GET", "/instance/connectionState/shop", "", nil, 401, unauthorized},
		{"wrong key", "GET", "/instance/connectionState/shop", "wrong", nil, 401, unauthorized},
		{"other instance's token", "GET", "/instance/connectionState/shop", "other-token", nil, 401, unauthorized},
		{"own token", "GET", "/instance/connectionState/shop", "shop-token", nil, 200,
			map[string]any{"instance": map[string]any{"instanceName": "shop", "state": "close"}}},
		{"global key", "GET", "/instance/connectionState/other", testKey, nil, 200, nil},
		{"invalid integration", "POST", "/instance/create", testKey,
			map[string]any{"instanceName": "x", "integration": "BAILEYS"}, 400,
			envelopeOf(400, "Bad Request", []any{"Invalid integration"})},
		{"unknown route", "GET", "/x?y=1", "", nil, 404, envelopeOf(404, "Not Found", []any{"Cannot GET /x?y=1"})},
		{"wrong method", "DELETE", "/instance/create", testKey, nil, 404,
			envelopeOf(404, "Not Found", []any{"Cannot DELETE /instance/create"})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := e.call(tt.method, tt.path, tt.key, tt.body)
			if status != tt.status {
				t.Fatalf("status = %d, want %d (body %v)", status, tt.status, body)
			}
			if tt.want != nil {
				if diff := cmp.Diff(tt.want, body); diff != "" {
					t.Errorf("body (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func TestCreateResponse(t *testing.T) {
	e := mustSim(t, Config{})
	t.Run("own token and webhook", func(t *testing.T) {
		status, body := e.call("POST", "/instance/create", testKey, map[string]any{
			"instanceName": "shop1", "integration": "WHATSAPP-BAILEYS", "token": "my-token", "groupsIgnore": true,
			"webhook": map[string]any{"url": "http://127.0.0.1:1/hook", "byEvents": true,
				"headers": map[string]any{"x-secret": "s"}, "events": []any{}},
		})
		if status != http.StatusCreated {
			t.Fatalf("status %d: %v", status, body)
		}
		inst := path(body, "instance").(map[string]any)
		if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(inst["instanceId"].(string)) {
			t.Errorf("instanceId %v is not a UUIDv4", inst["instanceId"])
		}
		delete(inst, "instanceId")
		want := map[string]any{
			"instance": map[string]any{"instanceName": "shop1", "integration": "WHATSAPP-BAILEYS",
				"webhookWaBusiness": nil, "accessTokenWaBusiness": "", "status": "close"},
			"hash": "my-token",
			"webhook": map[string]any{"webhookUrl": "http://127.0.0.1:1/hook", "webhookHeaders": map[string]any{"x-secret": "s"},
				"webhookByEvents": true, "webhookBase64": false},
			"websocket": map[string]any{}, "rabbitmq": map[string]any{}, "nats": map[string]any{}, "sqs": map[string]any{},
			"settings": map[string]any{"rejectCall": false, "msgCall": "", "groupsIgnore": true, "alwaysOnline": false,
				"readMessages": false, "readStatus": false, "syncFullHistory": false, "wavoipToken": ""},
		}
		if diff := cmp.Diff(want, body); diff != "" {
			t.Errorf("create response (-want +got):\n%s", diff)
		}
	})
	t.Run("generated token", func(t *testing.T) {
		token := e.create(map[string]any{"instanceName": "shop2"})
		if !regexp.MustCompile(`^[0-9A-F]{8}-[0-9A-F]{4}-4[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}$`).MatchString(token) {
			t.Errorf("token %q is not an upper-case UUIDv4", token)
		}
		info, _ := e.sim.Instance("shop2")
		if info.Token != token || info.State != "close" {
			t.Errorf("Instance = %+v", info)
		}
	})
	t.Run("missing name", func(t *testing.T) {
		status, body := e.call("POST", "/instance/create", testKey, map[string]any{"integration": "EVOLUTION"})
		if status != 400 || path(body, "response", "message", 0) != `instance requires property "instanceName"` {
			t.Errorf("got %d %v", status, body)
		}
	})
}

func TestFetchInstances(t *testing.T) {
	e := mustSim(t, Config{})
	e.create(map[string]any{"instanceName": "a", "token": "tok-a", "number": "5511999999999"})
	e.create(map[string]any{"instanceName": "b", "token": "tok-b"})

	names := func(body any) []string {
		var out []string
		for _, row := range body.([]any) {
			out = append(out, row.(map[string]any)["name"].(string))
		}
		return out
	}
	status, body := e.call("GET", "/instance/fetchInstances", testKey, nil)
	if status != 200 || !cmp.Equal(names(body), []string{"a", "b"}) {
		t.Fatalf("global: %d %v", status, body)
	}
	row := path(body, 0).(map[string]any)
	for _, field := range []string{"id", "name", "connectionStatus", "ownerJid", "profileName", "profilePicUrl",
		"integration", "number", "businessId", "token", "clientName", "disconnectionReasonCode",
		"disconnectionObject", "disconnectionAt", "createdAt", "updatedAt", "Chatwoot", "Proxy", "Rabbitmq",
		"Nats", "Sqs", "Websocket", "Setting", "_count"} {
		if _, ok := row[field]; !ok {
			t.Errorf("row has no %q", field)
		}
	}
	if row["token"] != "tok-a" || row["number"] != "5511999999999" || row["connectionStatus"] != "close" {
		t.Errorf("row = %v", row)
	}
	if _, ok := row["Webhook"]; ok {
		t.Error("row includes Webhook, Evolution leaves it out")
	}

	if status, body := e.call("GET", "/instance/fetchInstances", "tok-b", nil); status != 200 || !cmp.Equal(names(body), []string{"b"}) {
		t.Errorf("instance token: %d %v", status, body)
	}
	if status, body := e.call("GET", "/instance/fetchInstances?instanceName=a", testKey, nil); status != 200 || !cmp.Equal(names(body), []string{"a"}) {
		t.Errorf("by name: %d %v", status, body)
	}
	if status, _ := e.call("GET", "/instance/fetchInstances?instanceName=zzz", testKey, nil); status != 404 {
		t.Errorf("unknown name: %d, want 404", status)
	}
	if status, _ := e.call("GET", "/instance/fetchInstances", "nobody", nil); status != 401 {
		t.Errorf("unknown key: %d, want 401", status)
	}
	if status, _ := e.call("GET", "/instance/fetchInstances", "", nil); status != 401 {
		t.Errorf("no key: %d, want 401", status)
	}
}

func TestLogoutDeleteRestart(t *testing.T) {
	rc := mustReceiver(t, nil)
	e := mustSim(t, Config{})
	e.open("shop", rc.URL())

	status, body := e.call("POST", "/instance/restart/shop", testKey, nil)
	if status != 200 || path(body, "instance", "state") != "open" {
		t.Errorf("restart open: %d %v", status, body)
	}
	status, body = e.call("DELETE", "/instance/logout/shop", testKey, nil)
	var want any = map[string]any{"status": "SUCCESS", "error": false, "response": map[string]any{"message": "Instance logged out"}}
	if status != 200 || !cmp.Equal(body, want) {
		t.Errorf("logout: %d %v", status, body)
	}
	rc.waitEvents(t, 1, "logout.instance")
	want = []string{
		"connection.update", "qrcode.updated", "connection.update", // create (connecting, QR 1), scan (open)
		"connection.update", "connection.update", // restart: silent reconnect
		"status.instance", "connection.update", "logout.instance", // logout: terminal close
	}
	if diff := cmp.Diff(want, rc.events("connection.update", "qrcode.updated", "status.instance", "logout.instance")); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if close := rc.lastData(t, "connection.update"); close["state"] != "close" || close["statusReason"] != float64(401) {
		t.Errorf("close data = %v", close)
	}

	status, body = e.call("DELETE", "/instance/logout/shop", testKey, nil)
	if status != 400 || path(body, "response", "message", 0) != `The "shop" instance is not connected` {
		t.Errorf("second logout: %d %v", status, body)
	}
	status, body = e.call("POST", "/instance/restart/shop", testKey, nil)
	if status != 200 || !cmp.Equal(body, map[string]any{"error": true, "message": "[object Object]"}) {
		t.Errorf("restart closed: %d %v", status, body)
	}
	status, body = e.call("DELETE", "/instance/delete/shop", testKey, nil)
	if status != 200 || path(body, "response", "message") != "Instance deleted" {
		t.Errorf("delete: %d %v", status, body)
	}
	rc.waitEvents(t, 1, "remove.instance")
	if got := rc.events("instance.delete", "remove.instance"); !cmp.Equal(got, []string{"instance.delete", "remove.instance"}) {
		t.Errorf("delete events = %v", got)
	}
	if _, ok := e.sim.Instance("shop"); ok {
		t.Error("instance still present after delete")
	}
	if status, _ := e.call("GET", "/instance/connectionState/shop", testKey, nil); status != 404 {
		t.Errorf("state after delete: %d, want 404", status)
	}
}

func TestDeleteConnectedLogsOutFirst(t *testing.T) {
	rc := mustReceiver(t, nil)
	e := mustSim(t, Config{})
	e.open("shop", rc.URL(), "LOGOUT_INSTANCE", "REMOVE_INSTANCE", "INSTANCE_DELETE")
	if status, _ := e.call("DELETE", "/instance/delete/shop", testKey, nil); status != 200 {
		t.Fatalf("delete: %d", status)
	}
	got := rc.waitEvents(t, 3)
	if !cmp.Equal(got, []string{"logout.instance", "instance.delete", "remove.instance"}) {
		t.Errorf("events = %v", got)
	}
}
