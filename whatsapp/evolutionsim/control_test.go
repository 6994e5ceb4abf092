package evolutionsim

import (
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestControlAPI(t *testing.T) {
	rc := mustReceiver(t, nil)
	e := mustSim(t, Config{})
	e.create(map[string]any{"instanceName": "shop", "webhook": map[string]any{"url": rc.URL(), "events": []string{"SEND_MESSAGE"}}})

	tests := []struct {
		name   string
		method string
		path   string
		body   any
		status int
	}{
		{"scan closed instance", "POST", "/_sim/instances/shop/scan", map[string]any{"number": "5511999999999"}, 409},
		{"scan unknown instance", "POST", "/_sim/instances/nope/scan", map[string]any{"number": "5511999999999"}, 404},
		{"drop closed instance", "POST", "/_sim/instances/shop/drop", map[string]any{"reason": 401}, 409},
		{"bad fail mode", "POST", "/_sim/numbers/5511977776666/fail", map[string]any{"mode": "sometimes"}, 400},
		{"bad JSON", "POST", "/_sim/latency", "{", 400},
		{"unknown control route", "GET", "/_sim/nothing", nil, 404},
		{"instance info", "GET", "/_sim/instances/shop", nil, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if status, body := e.call(tt.method, tt.path, "", tt.body); status != tt.status {
				t.Errorf("status %d, want %d (%v)", status, tt.status, body)
			}
		})
	}

	e.call("GET", "/instance/connect/shop", testKey, nil)
	status, body := e.call("POST", "/_sim/instances/shop/scan", "", map[string]any{"number": "5511999999999", "profileName": "Shop"})
	if status != 200 || path(body, "state") != "open" || path(body, "ownerJid") != "5511999999999@s.whatsapp.net" {
		t.Fatalf("scan: %d %v", status, body)
	}
	if status, body = e.call("POST", "/_sim/numbers/5511977776666/fail", "", map[string]any{"mode": "not_on_whatsapp"}); status != 200 {
		t.Fatalf("fail: %d %v", status, body)
	}
	if status, _ = e.call("POST", "/message/sendText/shop", testKey, map[string]any{"number": "5511977776666", "text": "x"}); status != 400 {
		t.Errorf("send to failed number: %d, want 400", status)
	}
	e.call("POST", "/message/sendText/shop", testKey, map[string]any{"number": "5511988887777", "text": "one"})
	rc.waitEvents(t, 1)

	_, sent := e.call("GET", "/_sim/sent", "", nil)
	if len(sent.([]any)) != 1 || path(sent, 0, "number") != "5511988887777" || path(sent, 0, "text") != "one" || path(sent, 0, "type") != "text" {
		t.Errorf("sent = %v", sent)
	}
	_, calls := e.call("GET", "/_sim/calls", "", nil)
	var got []string
	for _, c := range calls.([]any) {
		got = append(got, path(c, "method").(string)+" "+path(c, "path").(string)+" "+path(c, "instance").(string))
	}
	want := []string{"POST /instance/create shop", "GET /instance/connect/shop shop", "POST /message/sendText/shop shop", "POST /message/sendText/shop shop"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
	if path(calls, 3, "body", "text") != "one" {
		t.Errorf("call body = %v", path(calls, 3, "body"))
	}
	_, hooks := e.call("GET", "/_sim/webhooks", "", nil)
	if path(hooks, 0, "event") != "send.message" || path(hooks, 0, "status") != float64(200) || path(hooks, 0, "attempt") != float64(1) {
		t.Errorf("webhooks = %v", hooks)
	}

	if status, _ = e.call("POST", "/_sim/latency", "", map[string]any{"ms": 40}); status != 200 {
		t.Fatalf("latency: %d", status)
	}
	start := time.Now()
	e.call("GET", "/instance/connectionState/shop", testKey, nil)
	if elapsed := time.Since(start); elapsed < 40*time.Millisecond {
		t.Errorf("call took %v with 40ms latency", elapsed)
	}

	if status, _ = e.call("POST", "/_sim/reset", "", nil); status != 200 {
		t.Fatalf("reset: %d", status)
	}
	for _, p := range []string{"/_sim/sent", "/_sim/calls", "/_sim/webhooks"} {
		if _, list := e.call("GET", p, "", nil); len(list.([]any)) != 0 {
			t.Errorf("%s after reset = %v", p, list)
		}
	}
	if status, _ = e.call("GET", "/instance/connectionState/shop", testKey, nil); status != 404 {
		t.Errorf("instance after reset: %d, want 404", status)
	}
	e.sim.mu.Lock()
	latency := e.sim.latency
	e.sim.mu.Unlock()
	if latency != 0 {
		t.Errorf("latency %v survived reset", latency)
	}
}

// TestCloseStopsGoroutines leaves a QR ticker, a status stepper and a
// webhook stuck in retries running, and checks Close stops all of them.
func TestCloseStopsGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()

	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	sim := New(Config{
		GlobalKey:    testKey,
		Seed:         1,
		QRInterval:   5 * time.Millisecond,
		StatusStep:   time.Hour,
		WebhookRetry: RetryPolicy{Initial: time.Hour},
	})
	srv := httptest.NewServer(sim.Handler())
	e := &testEnv{t: t, sim: sim, srv: srv, base: srv.URL}
	e.create(map[string]any{"instanceName": "ticking", "qrcode": true})
	e.open("shop", failing.URL)
	e.call("POST", "/message/sendText/shop", testKey, map[string]any{"number": "5511988887777", "text": "hi"})
	deadline := time.Now().Add(5 * time.Second)
	for len(sim.Deliveries()) == 0 && time.Now().Before(deadline) {
		time.Sleep(2 * time.Millisecond) // wait until a delivery is in its hour-long backoff
	}
	if runtime.NumGoroutine() <= before {
		t.Fatal("no goroutines running before Close; the test proves nothing")
	}

	done := make(chan struct{})
	go func() {
		_ = sim.Close()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return")
	}
	srv.Close()
	failing.Close()
	srv.Client().CloseIdleConnections()
	deadline = time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines after Close, %d before:\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := sim.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
