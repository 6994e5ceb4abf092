package evolutionsim

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestEnvelope(t *testing.T) {
	rc := mustReceiver(t, nil)
	at := time.Date(2025, 12, 5, 10, 0, 0, 0, time.UTC)
	e := mustSim(t, Config{ServerURL: "https://evo.example.com", Now: func() time.Time { return at }})
	token := e.open("shop", rc.URL(), "CONNECTION_UPDATE")
	rc.waitEvents(t, 2)
	h := rc.all()[1]
	delete(h.Raw, "data")
	want := map[string]any{
		"event": "connection.update", "instance": "shop", "destination": rc.URL(),
		"date_time": "2025-12-05T10:00:00.000Z", "sender": "5511999999999@s.whatsapp.net",
		"server_url": "https://evo.example.com", "apikey": token,
	}
	if diff := cmp.Diff(want, h.Raw); diff != "" {
		t.Errorf("envelope (-want +got):\n%s", diff)
	}
	if ct := h.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
}

func TestByEventsHeadersAndFilter(t *testing.T) {
	rc := mustReceiver(t, nil)
	e := mustSim(t, Config{})
	e.create(map[string]any{"instanceName": "shop", "webhook": map[string]any{
		"url": rc.URL() + "/hook", "byEvents": true, "events": []string{"CONNECTION_UPDATE"},
		"headers": map[string]string{"x-secret": "s3", "jwt_key": "k"},
	}})
	e.call("GET", "/instance/connect/shop", testKey, nil) // CONNECTION_UPDATE passes, QRCODE_UPDATED is filtered
	if err := e.sim.Scan("shop", "5511999999999", "Shop"); err != nil {
		t.Fatal(err)
	}
	rc.waitEvents(t, 2)
	time.Sleep(20 * time.Millisecond) // a filtered event would have arrived by now
	hooks := rc.all()
	if got := rc.events(); !cmp.Equal(got, []string{"connection.update", "connection.update"}) {
		t.Errorf("events = %v, want only connection.update", got)
	}
	for _, h := range hooks {
		if h.Path != "/hook/connection-update" {
			t.Errorf("path %q, want /hook/connection-update", h.Path)
		}
		if h.Header.Get("x-secret") != "s3" || h.Header.Get("jwt_key") != "" {
			t.Errorf("headers %v", h.Header)
		}
		checkJWT(t, h.Header.Get("Authorization"), "k")
	}
}

// checkJWT verifies the HS256 bearer token Evolution derives from jwt_key.
func checkJWT(t *testing.T, header, secret string) {
	t.Helper()
	token, ok := strings.CutPrefix(header, "Bearer ")
	parts := strings.Split(token, ".")
	if !ok || len(parts) != 3 {
		t.Fatalf("Authorization %q is not a bearer JWT", header)
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(parts[0] + "." + parts[1]))
	if base64.RawURLEncoding.EncodeToString(mac.Sum(nil)) != parts[2] {
		t.Error("JWT signature does not verify")
	}
	claims, _ := base64.RawURLEncoding.DecodeString(parts[1])
	if !strings.Contains(string(claims), `"app":"evolution","action":"webhook"`) {
		t.Errorf("claims %s", claims)
	}
}

func TestRetries(t *testing.T) {
	rc := mustReceiver(t, func(n int, _ hook) int {
		if n <= 2 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	e := mustSim(t, Config{})
	e.create(map[string]any{"instanceName": "shop", "webhook": map[string]any{"url": rc.URL(), "events": []string{"INSTANCE_DELETE"}}})
	e.call("DELETE", "/instance/delete/shop", testKey, nil)
	rc.waitEvents(t, 3)
	deadline := time.Now().Add(5 * time.Second)
	for len(e.sim.Deliveries()) < 3 && time.Now().Before(deadline) {
		time.Sleep(2 * time.Millisecond)
	}
	var got [][2]int
	for _, d := range e.sim.Deliveries() {
		got = append(got, [2]int{d.Attempt, d.Status})
	}
	if want := [][2]int{{1, 500}, {2, 500}, {3, 200}}; !cmp.Equal(got, want) {
		t.Errorf("attempts = %v, want %v", got, want)
	}
}

func TestNonRetryableStops(t *testing.T) {
	var posts atomic.Int32
	rc := mustReceiver(t, func(int, hook) int { posts.Add(1); return http.StatusNotFound })
	e := mustSim(t, Config{})
	e.create(map[string]any{"instanceName": "shop", "webhook": map[string]any{"url": rc.URL(), "events": []string{"INSTANCE_DELETE"}}})
	e.call("DELETE", "/instance/delete/shop", testKey, nil)
	rc.waitEvents(t, 1)
	time.Sleep(60 * time.Millisecond) // several backoffs of 5–20ms
	if n := posts.Load(); n != 1 {
		t.Errorf("%d posts, want 1 (404 is not retried)", n)
	}
	if d := e.sim.Deliveries(); len(d) != 1 || d[0].Status != 404 || d[0].Attempt != 1 {
		t.Errorf("Deliveries = %+v", d)
	}
}

func TestRetryGivesUp(t *testing.T) {
	rc := mustReceiver(t, func(int, hook) int { return http.StatusTooManyRequests })
	e := mustSim(t, Config{WebhookRetry: RetryPolicy{MaxAttempts: 3, Initial: time.Millisecond, Max: 2 * time.Millisecond}})
	e.create(map[string]any{"instanceName": "shop", "webhook": map[string]any{"url": rc.URL(), "events": []string{"INSTANCE_DELETE"}}})
	e.call("DELETE", "/instance/delete/shop", testKey, nil)
	rc.waitEvents(t, 3)
	time.Sleep(30 * time.Millisecond)
	if n := len(rc.all()); n != 3 {
		t.Errorf("%d posts, want MaxAttempts = 3", n)
	}
}

func TestDuplicateAndReorder(t *testing.T) {
	rc := mustReceiver(t, nil)
	e := mustSim(t, Config{Duplicate: 1, Reorder: true})
	e.open("shop", rc.URL(), "SEND_MESSAGE")
	for range 5 {
		e.call("POST", "/message/sendText/shop", testKey, map[string]any{"number": "5511988887777", "text": "hi"})
	}
	rc.waitEvents(t, 10)
	count := map[string]int{}
	for _, h := range rc.all() {
		count[path(h.Raw, "data", "key", "id").(string)]++
	}
	if len(count) != 5 {
		t.Errorf("%d distinct messages, want 5", len(count))
	}
	for id, n := range count {
		if n != 2 {
			t.Errorf("message %s delivered %d times, want 2", id, n)
		}
	}
}

func TestWebhookSetFind(t *testing.T) {
	e := mustSim(t, Config{})
	token := e.create(map[string]any{"instanceName": "shop"})
	if status, body := e.call("GET", "/webhook/find/shop", token, nil); status != 200 || body != nil {
		t.Errorf("find without webhook: %d %v, want 200 null", status, body)
	}
	status, body := e.call("POST", "/webhook/set/shop", token, map[string]any{"url": "http://x/hook", "webhookByEvents": false})
	if status != 400 || path(body, "response", "message", 0) != `instance requires property "webhook"` {
		t.Errorf("flat body: %d %v", status, body)
	}
	status, body = e.call("POST", "/webhook/set/shop", token, map[string]any{"webhook": map[string]any{
		"enabled": true, "url": "http://x/hook", "events": []string{"NOT_AN_EVENT"}}})
	if status != 400 || !strings.HasPrefix(path(body, "response", "message", 0).(string), "webhook.events[0] is not one of enum values") {
		t.Errorf("bad event: %d %v", status, body)
	}
	status, body = e.call("POST", "/webhook/set/shop", token, map[string]any{"webhook": map[string]any{
		"enabled": true, "url": "http://x/hook", "byEvents": true, "headers": map[string]string{"a": "b"},
		"events": []string{"MESSAGES_UPSERT"}}})
	if status != 201 {
		t.Fatalf("set: %d %v", status, body)
	}
	row := body.(map[string]any)
	info, _ := e.sim.Instance("shop")
	for _, k := range []string{"id", "createdAt", "updatedAt"} {
		if row[k] == nil {
			t.Errorf("row has no %s", k)
		}
		delete(row, k)
	}
	want := map[string]any{"url": "http://x/hook", "headers": map[string]any{"a": "b"}, "enabled": true,
		"events": []any{"MESSAGES_UPSERT"}, "webhookByEvents": true, "webhookBase64": false, "instanceId": info.ID}
	if diff := cmp.Diff(want, row); diff != "" {
		t.Errorf("set row (-want +got):\n%s", diff)
	}
	_, found := e.call("GET", "/webhook/find/shop", token, nil)
	if path(found, "url") != "http://x/hook" || path(found, "events", 0) != "MESSAGES_UPSERT" {
		t.Errorf("find = %v", found)
	}
	_, disabled := e.call("POST", "/webhook/set/shop", token, map[string]any{"webhook": map[string]any{
		"enabled": false, "url": "http://x/hook", "events": []string{"MESSAGES_UPSERT"}}})
	if !cmp.Equal(path(disabled, "events"), []any{}) || path(disabled, "enabled") != false {
		t.Errorf("disabled row = %v, want events cleared", disabled)
	}
}
