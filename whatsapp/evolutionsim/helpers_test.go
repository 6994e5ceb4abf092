package evolutionsim

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

const testKey = "test-global-key"

// testEnv is a running simulator behind a real HTTP server.
type testEnv struct {
	t    testing.TB
	sim  *Sim
	srv  *httptest.Server
	base string
}

// mustSim starts a simulator with fast test defaults and closes it (and
// its server) when the test ends.
func mustSim(tb testing.TB, cfg Config) *testEnv {
	tb.Helper()
	if cfg.GlobalKey == "" {
		cfg.GlobalKey = testKey
	}
	if cfg.Seed == 0 {
		cfg.Seed = 42
	}
	if cfg.WebhookRetry.Initial == 0 {
		cfg.WebhookRetry.Initial = 5 * time.Millisecond
		cfg.WebhookRetry.Max = 20 * time.Millisecond
	}
	sim := New(cfg)
	srv := httptest.NewServer(sim.Handler())
	tb.Cleanup(func() {
		srv.Close()
		if err := sim.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return &testEnv{t: tb, sim: sim, srv: srv, base: srv.URL}
}

// call sends a JSON request and decodes the JSON answer into a generic value.
func (e *testEnv) call(method, path, key string, body any) (int, any) {
	e.t.Helper()
	status, raw := e.callRaw(method, path, key, body)
	var v any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &v); err != nil {
			e.t.Fatalf("%s %s: decoding %q: %v", method, path, raw, err)
		}
	}
	return status, v
}

func (e *testEnv) callRaw(method, path, key string, body any) (int, []byte) {
	e.t.Helper()
	var reader io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		reader = strings.NewReader(b)
	default:
		encoded, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		reader = bytes.NewReader(encoded)
	}
	req, err := http.NewRequest(method, e.base+path, reader)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("apikey", key)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp.StatusCode, raw
}

// create makes an instance with the global key and returns its token.
func (e *testEnv) create(body map[string]any) string {
	e.t.Helper()
	if body["integration"] == nil {
		body["integration"] = "WHATSAPP-BAILEYS"
	}
	status, resp := e.call("POST", "/instance/create", testKey, body)
	if status != http.StatusCreated {
		e.t.Fatalf("create: status %d, body %v", status, resp)
	}
	return resp.(map[string]any)["hash"].(string)
}

// open creates an instance subscribed to hookURL (all events unless given)
// and scans it, leaving it open as 5511999999999.
func (e *testEnv) open(name, hookURL string, events ...string) string {
	e.t.Helper()
	if events == nil {
		events = []string{}
	}
	token := e.create(map[string]any{
		"instanceName": name, "qrcode": true,
		"webhook": map[string]any{"url": hookURL, "events": events},
	})
	if err := e.sim.Scan(name, "5511999999999", "Shop"); err != nil {
		e.t.Fatal(err)
	}
	return token
}

// hook is one webhook POST as a receiver saw it.
type hook struct {
	Path   string
	Header http.Header
	Event  string          `json:"event"`
	Inst   string          `json:"instance"`
	Data   json.RawMessage `json:"data"`
	Raw    map[string]any  `json:"-"`
}

// receiver is a webhook endpoint that records every POST and answers with
// the status respond chooses (200 by default).
type receiver struct {
	srv     *httptest.Server
	mu      sync.Mutex
	hooks   []hook
	respond func(n int, h hook) int
}

func mustReceiver(tb testing.TB, respond func(n int, h hook) int) *receiver {
	tb.Helper()
	rc := &receiver{respond: respond}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h := hook{Path: r.URL.Path, Header: r.Header.Clone()}
		if err := json.Unmarshal(body, &h); err != nil {
			tb.Errorf("webhook body %q: %v", body, err)
		}
		_ = json.Unmarshal(body, &h.Raw)
		rc.mu.Lock()
		rc.hooks = append(rc.hooks, h)
		n := len(rc.hooks)
		rc.mu.Unlock()
		status := http.StatusOK
		if rc.respond != nil {
			status = rc.respond(n, h)
		}
		w.WriteHeader(status)
	}))
	tb.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) URL() string { return rc.srv.URL }

func (rc *receiver) all() []hook {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]hook(nil), rc.hooks...)
}

// events returns the event names received, in order, optionally only those
// in keep.
func (rc *receiver) events(keep ...string) []string {
	var names []string
	for _, h := range rc.all() {
		if len(keep) == 0 || contains(keep, h.Event) {
			names = append(names, h.Event)
		}
	}
	return names
}

// waitFor polls until cond holds for the hooks received, or fails.
func (rc *receiver) waitFor(tb testing.TB, what string, cond func([]hook) bool) []hook {
	tb.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		hooks := rc.all()
		if cond(hooks) {
			return hooks
		}
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s; got events %v", what, rc.events())
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// waitEvents waits until n hooks of the given events arrived.
func (rc *receiver) waitEvents(tb testing.TB, n int, events ...string) []string {
	tb.Helper()
	rc.waitFor(tb, strings.Join(events, ","), func([]hook) bool { return len(rc.events(events...)) >= n })
	return rc.events(events...)
}

// lastData decodes the data of the last hook with that event.
func (rc *receiver) lastData(tb testing.TB, event string) map[string]any {
	tb.Helper()
	hooks := rc.all()
	for i := len(hooks) - 1; i >= 0; i-- {
		if hooks[i].Event == event {
			var m map[string]any
			if err := json.Unmarshal(hooks[i].Data, &m); err != nil {
				tb.Fatal(err)
			}
			return m
		}
	}
	tb.Fatalf("no %s received; got %v", event, rc.events())
	return nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// path walks a decoded JSON value by keys and indexes ("a", 0, "b").
func path(v any, keys ...any) any {
	for _, k := range keys {
		switch key := k.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[key]
		case int:
			a, _ := v.([]any)
			if key >= len(a) {
				return nil
			}
			v = a[key]
		}
	}
	return v
}
