package httpapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aibud/aibud/tenants"
	"github.com/aibud/aibud/whatsapp/evolutionsim"
)

// withSimulator registers a real Evolution simulator as the only shard.
func withSimulator(t *testing.T, env *testEnv) *evolutionsim.Sim { return withSimulatorTB(t, env) }

func withSimulatorTB(t testing.TB, env *testEnv) *evolutionsim.Sim {
	t.Helper()
	sim := evolutionsim.New(evolutionsim.Config{GlobalKey: "global-key", QRInterval: time.Hour, Seed: 7})
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(func() { srv.Close(); sim.Close() })
	if err := env.store.PutShard(t.Context(), tenants.Shard{ID: "evo-1", Kind: tenants.ShardEvolution, URL: srv.URL, APIKey: "global-key", Capacity: 15}); err != nil {
		t.Fatal(err)
	}
	return sim
}

func decode[T any](t *testing.T, r result) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(r.body), &v); err != nil {
		t.Fatalf("decode %q: %v", r.body, err)
	}
	return v
}

// waitFor polls fn every 20 ms for up to d.
func waitFor(t *testing.T, d time.Duration, what string, fn func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !fn() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestConnectNumberThroughSimulator(t *testing.T) {
	env := newTestEnv(t)
	sim := withSimulator(t, env)
	c, acct := env.signup(t, "shop@example.com")

	r := env.do(t, c, "POST", "/api/v1/instances", `{"name":"Sales line"}`)
	created := decode[instanceJSON](t, r)
	if r.status != 201 || created.State != tenants.StateConnecting || created.Name != "Sales line" {
		t.Fatalf("create = %d %s", r.status, r.body)
	}
	qr := decode[qrJSON](t, env.do(t, c, "GET", "/api/v1/instances/"+created.ID+"/qr", ""))
	if qr.State != tenants.StateConnecting || qr.QR == nil || !strings.HasPrefix(*qr.QR, "data:image/png;base64,") {
		t.Fatalf("qr = %+v", qr)
	}
	// The gateway got our webhook URL and our token.
	in, err := env.store.Instance(t.Context(), acct.TenantID, created.ID)
	if err != nil {
		t.Fatal(err)
	}
	info, ok := sim.Instance(in.GatewayName)
	if !ok || info.Token != in.GatewayToken || info.Webhook.URL != env.srv.URL+"/webhooks/evolution/"+in.WebhookToken {
		t.Fatalf("simulator instance = %+v, ok %v", info, ok)
	}

	// The phone scans: the simulator posts CONNECTION_UPDATE to our webhook.
	if err := sim.Scan(in.GatewayName, "5511987654321", "Flower Shop"); err != nil {
		t.Fatal(err)
	}
	var got instanceJSON
	waitFor(t, 2*time.Second, "state open", func() bool {
		got = decode[instanceJSON](t, env.do(t, c, "GET", "/api/v1/instances/"+created.ID, ""))
		return got.State == tenants.StateOpen
	})
	if got.Number != "5511987654321" || got.ProfileName != "Flower Shop" {
		t.Fatalf("connected instance = %+v", got)
	}
	if qr := decode[qrJSON](t, env.do(t, c, "GET", "/api/v1/instances/"+created.ID+"/qr", "")); qr.QR != nil || qr.State != tenants.StateOpen {
		t.Fatalf("qr once open = %+v", qr)
	}
	// Starter allows one number.
	if r := env.do(t, c, "POST", "/api/v1/instances", `{"name":"Second"}`); r.status != 403 || !strings.Contains(r.body, "allows 1 WhatsApp number") {
		t.Fatalf("second number = %d %s", r.status, r.body)
	}
	list := decode[map[string][]instanceJSON](t, env.do(t, c, "GET", "/api/v1/instances", ""))
	if len(list["instances"]) != 1 || list["instances"][0].ID != created.ID {
		t.Fatalf("list = %+v", list)
	}

	// Disconnect, then remove.
	r = env.do(t, c, "POST", "/api/v1/instances/"+created.ID+"/logout", "")
	if out := decode[instanceJSON](t, r); r.status != 200 || out.State != tenants.StateClose {
		t.Fatalf("logout = %d %s", r.status, r.body)
	}
	if info, _ := sim.Instance(in.GatewayName); info.State != "close" {
		t.Fatalf("simulator state after logout = %q", info.State)
	}
	if r := env.do(t, c, "DELETE", "/api/v1/instances/"+created.ID, ""); r.status != 204 {
		t.Fatalf("delete = %d %s", r.status, r.body)
	}
	if _, ok := sim.Instance(in.GatewayName); ok {
		t.Fatal("instance still at the gateway after delete")
	}
	if r := env.do(t, c, "GET", "/api/v1/instances/"+created.ID, ""); r.status != 404 {
		t.Fatalf("get after delete = %d", r.status)
	}
	shard, _ := env.store.Shard(t.Context(), "evo-1")
	if shard.InUse != 0 {
		t.Fatalf("shard in use after delete = %d", shard.InUse)
	}
	// The freed slot can be used again.
	if r := env.do(t, c, "POST", "/api/v1/instances", `{"name":"Again","number":"+55 11 98765-4321"}`); r.status != 201 {
		t.Fatalf("reconnect = %d %s", r.status, r.body)
	}
}

func TestNumbersBadInput(t *testing.T) {
	env := newTestEnv(t)
	withSimulator(t, env)
	c, _ := env.signup(t, "input@example.com")
	for _, tt := range []struct{ body, field string }{
		{`{"name":"` + strings.Repeat("n", 61) + `"}`, "name"},
		{`{"name":"x","number":"call me"}`, "number"},
		{`{"name":"x","number":"123"}`, "number"},
		{`{"name":`, "body"},
	} {
		if r := env.do(t, c, "POST", "/api/v1/instances", tt.body); r.status != 400 || !strings.Contains(r.body, `"field":"`+tt.field+`"`) {
			t.Errorf("create %s = %d %s", tt.body, r.status, r.body)
		}
	}
	if list := decode[map[string][]instanceJSON](t, env.do(t, c, "GET", "/api/v1/instances", "")); len(list["instances"]) != 0 {
		t.Fatalf("bad input created numbers: %+v", list)
	}
	if r := env.do(t, env.client(), "GET", "/api/v1/instances", ""); r.status != 401 {
		t.Fatalf("anonymous list = %d", r.status)
	}
}

func TestNumbersTenantIsolation(t *testing.T) {
	env := newTestEnv(t)
	withSimulator(t, env)
	a, acctA := env.signup(t, "a@example.com")
	b, acctB := env.signup(t, "b@example.com")
	inA := decode[instanceJSON](t, env.do(t, a, "POST", "/api/v1/instances", `{"name":"A"}`))
	inB := decode[instanceJSON](t, env.do(t, b, "POST", "/api/v1/instances", `{"name":"B"}`))

	for _, req := range []struct{ method, path string }{
		{"GET", "/api/v1/instances/" + inA.ID},
		{"GET", "/api/v1/instances/" + inA.ID + "/qr"},
		{"POST", "/api/v1/instances/" + inA.ID + "/logout"},
		{"DELETE", "/api/v1/instances/" + inA.ID},
		{"GET", "/app/settings/numbers/" + inA.ID},
		{"GET", "/app/settings/numbers/" + inA.ID + "/qr"},
		{"POST", "/app/settings/numbers/" + inA.ID + "/remove"},
		{"POST", "/app/settings/numbers/" + inA.ID + "/logout"},
		{"GET", "/app/settings/numbers/" + inA.ID + "/confirm?action=remove"},
	} {
		if r := env.do(t, b, req.method, req.path, ""); r.status != 404 || strings.Contains(r.body, inA.ID) {
			t.Errorf("B %s %s = %d %.200s; want 404 without A's data", req.method, req.path, r.status, r.body)
		}
	}
	if list := decode[map[string][]instanceJSON](t, env.do(t, b, "GET", "/api/v1/instances", "")); len(list["instances"]) != 1 || list["instances"][0].ID != inB.ID {
		t.Fatalf("B's list = %+v", list)
	}

	// B's webhook token carrying an event for A's instance changes nothing.
	storedA, _ := env.store.Instance(t.Context(), acctA.TenantID, inA.ID)
	storedB, _ := env.store.Instance(t.Context(), acctB.TenantID, inB.ID)
	body := `{"event":"connection.update","instance":"` + storedA.GatewayName + `","data":{"instance":"` + storedA.GatewayName + `","state":"open","wuid":"5511900000000@s.whatsapp.net","profileName":"Hijack","statusReason":200}}`
	if r := env.do(t, env.client(), "POST", "/webhooks/evolution/"+storedB.WebhookToken, body); r.status != 400 {
		t.Fatalf("cross-instance webhook = %d %s", r.status, r.body)
	}
	afterA, _ := env.store.Instance(t.Context(), acctA.TenantID, inA.ID)
	afterB, _ := env.store.Instance(t.Context(), acctB.TenantID, inB.ID)
	if afterA.State != tenants.StateConnecting || afterB.State != tenants.StateConnecting || afterA.ProfileName != "" || afterB.ProfileName != "" {
		t.Fatalf("cross-tenant webhook changed data: A %+v B %+v", afterA.State, afterB.State)
	}
}

func TestEvolutionWebhookIntake(t *testing.T) {
	env := newTestEnv(t)
	withSimulator(t, env)
	c, acct := env.signup(t, "hooks@example.com")
	created := decode[instanceJSON](t, env.do(t, c, "POST", "/api/v1/instances", `{"name":"Hooks"}`))
	in, _ := env.store.Instance(t.Context(), acct.TenantID, created.ID)
	hook := "/webhooks/evolution/" + in.WebhookToken
	open := `{"event":"connection.update","instance":"` + in.GatewayName + `","date_time":"2026-11-27T10:00:00.000Z","data":{"instance":"` + in.GatewayName + `","state":"open","wuid":"5511911112222@s.whatsapp.net","profileName":"Shop","statusReason":200}}`
	text := `{"event":"messages.upsert","instance":"` + in.GatewayName + `","data":{"key":{"remoteJid":"5511988887777@s.whatsapp.net","fromMe":false,"id":"3A5F0C11"},"pushName":"Maria","status":"DELIVERY_ACK","message":{"conversation":"yes please"},"messageType":"conversation","messageTimestamp":1733400100}}`
	anon := env.client()
	tests := []struct {
		name, path, body string
		status           int
		contains         string
	}{
		{"unknown token", "/webhooks/evolution/not-a-token", open, 404, "not found"},
		{"malformed", hook, `{"event":`, 400, `"field":"body"`},
		{"not an event", hook, `{"hello":"world"}`, 400, "not a gateway event"},
		{"oversized", hook, `{"event":"messages.upsert","data":"` + strings.Repeat("x", 5000) + `"}`, 413, "too large"},
		{"connection open", hook, open, 200, `"new":1`},
		{"same event again", hook, open, 200, `"new":0`},
		{"text", hook, text, 200, `"new":1`},
		{"text redelivered by-events", hook + "/messages-upsert", text, 200, `"new":0`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := env.do(t, anon, "POST", tt.path, tt.body)
			if r.status != tt.status || !strings.Contains(r.body, tt.contains) {
				t.Fatalf("POST %s = %d %s; want %d %q", tt.path, r.status, r.body, tt.status, tt.contains)
			}
		})
	}
	got, _ := env.store.Instance(t.Context(), acct.TenantID, created.ID)
	if got.State != tenants.StateOpen || got.Number != "5511911112222" || got.ProfileName != "Shop" {
		t.Fatalf("instance after webhooks = %+v", got)
	}
}

func TestSettingsPages(t *testing.T) {
	env := newTestEnv(t)
	sim := withSimulator(t, env)
	c, acct := env.signup(t, "pages@example.com")
	r := env.do(t, c, "GET", "/app/settings", "")
	if r.status != 200 || !strings.Contains(r.body, "No WhatsApp number yet") || !strings.Contains(r.body, `id="connect-whatsapp"`) {
		t.Fatalf("empty settings = %d", r.status)
	}
	r = env.do(t, c, "POST", "/app/settings/numbers", "name=Front+desk")
	if r.status != 303 || !strings.HasPrefix(r.header.Get("Location"), "/app/settings/numbers/") {
		t.Fatalf("connect form = %d %s", r.status, r.header.Get("Location"))
	}
	page := r.header.Get("Location")
	id := strings.TrimPrefix(page, "/app/settings/numbers/")
	r = env.do(t, c, "GET", page, "")
	if r.status != 200 || !strings.Contains(r.body, `id="qr-image" src="data:image/png;base64,`) || !strings.Contains(r.body, `hx-trigger="every 1s"`) {
		t.Fatalf("connect page = %d %.600s", r.status, r.body)
	}
	in, _ := env.store.Instance(t.Context(), acct.TenantID, id)
	sim.Scan(in.GatewayName, "5511955554444", "Front Desk Ltd")
	waitFor(t, 2*time.Second, "connected fragment", func() bool {
		r = env.do(t, c, "GET", page+"/qr", "", "HX-Request", "true")
		return strings.Contains(r.body, "Connected")
	})
	if !strings.Contains(r.body, "5511955554444") || !strings.Contains(r.body, "Front Desk Ltd") || strings.Contains(r.body, "hx-trigger") || strings.Contains(r.body, "<html") {
		t.Fatalf("connected fragment = %s", r.body)
	}
	r = env.do(t, c, "GET", "/app/settings", "")
	if !strings.Contains(r.body, "Connected") || !strings.Contains(r.body, "Remove one to connect another") {
		t.Fatalf("settings after connect lacks state or limit note")
	}
	if r := env.do(t, c, "GET", page+"/confirm?action=logout", ""); r.status != 200 || !strings.Contains(r.body, "Disconnect this number?") {
		t.Fatalf("confirm page = %d", r.status)
	}
	if r := env.do(t, c, "GET", page+"/confirm?action=explode", ""); r.status != 400 {
		t.Fatalf("confirm bad action = %d", r.status)
	}
	if r := env.do(t, c, "POST", page+"/sandbox-scan", ""); r.status != 404 {
		t.Fatalf("sandbox scan on a real gateway number = %d", r.status)
	}
	if r := env.do(t, c, "POST", page+"/remove", ""); r.status != 303 {
		t.Fatalf("remove = %d", r.status)
	}
	if r := env.do(t, c, "GET", "/app/settings", ""); !strings.Contains(r.body, "No WhatsApp number yet") {
		t.Fatal("number still listed after remove")
	}
}

func TestConnectWithoutGateway(t *testing.T) {
	env := newTestEnv(t)
	c, _ := env.signup(t, "nogw@example.com")
	if r := env.do(t, c, "POST", "/api/v1/instances", `{"name":"x"}`); r.status != http.StatusServiceUnavailable || !strings.Contains(r.body, "No WhatsApp gateway server") {
		t.Fatalf("create without shards = %d %s", r.status, r.body)
	}
	// A gateway that does not answer: a clear 503, and no slot is kept.
	env.store.PutShard(t.Context(), tenants.Shard{ID: "down", Kind: tenants.ShardEvolution, URL: "http://127.0.0.1:1", APIKey: "k", Capacity: 15})
	if r := env.do(t, c, "POST", "/api/v1/instances", `{"name":"x"}`); r.status != http.StatusServiceUnavailable || !strings.Contains(r.body, "gateway") {
		t.Fatalf("create with gateway down = %d %s", r.status, r.body)
	}
	if s, _ := env.store.Shard(t.Context(), "down"); s.InUse != 0 {
		t.Fatalf("failed create left in_use = %d", s.InUse)
	}
}
