package evolutionsim

import (
	"bytes"
	"encoding/base64"
	"errors"
	"image/png"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// decodeQR checks that a data URL holds a PNG of a plausible QR size.
func decodeQR(t *testing.T, dataURL string) {
	t.Helper()
	b64, ok := strings.CutPrefix(dataURL, "data:image/png;base64,")
	if !ok {
		t.Fatalf("base64 %.40q is not a PNG data URL", dataURL)
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() != b.Dy() || b.Dx() < 200 || b.Dx() > 600 {
		t.Errorf("QR image is %dx%d, want a square of about 264px", b.Dx(), b.Dy())
	}
}

func TestConnectQRAndScan(t *testing.T) {
	rc := mustReceiver(t, nil)
	e := mustSim(t, Config{})
	e.create(map[string]any{"instanceName": "shop", "webhook": map[string]any{"url": rc.URL(), "events": []string{}}})

	status, qr := e.call("GET", "/instance/connect/shop", testKey, nil)
	if status != 200 {
		t.Fatalf("connect: %d %v", status, qr)
	}
	if path(qr, "count") != float64(1) || path(qr, "pairingCode") != nil {
		t.Errorf("first QR = %v", qr)
	}
	code := path(qr, "code").(string)
	if !strings.HasPrefix(code, "2@") {
		t.Errorf("code %q does not start with 2@", code)
	}
	decodeQR(t, path(qr, "base64").(string))

	// Connecting: the same QR comes back and ?number= is ignored (#2197).
	_, again := e.call("GET", "/instance/connect/shop?number=5511999999999", testKey, nil)
	if path(again, "code") != code || path(again, "pairingCode") != nil {
		t.Errorf("second connect = %v, want the same QR without pairing code", again)
	}
	_, state := e.call("GET", "/instance/connectionState/shop", testKey, nil)
	if path(state, "instance", "state") != "connecting" {
		t.Errorf("state = %v", state)
	}

	if err := e.sim.Scan("shop", "+55 11 99999-9999", "Shop"); err != nil {
		t.Fatal(err)
	}
	rc.waitFor(t, "connection open", func(hs []hook) bool {
		return len(hs) > 0 && strings.Contains(string(hs[len(hs)-1].Data), `"open"`)
	})
	want := map[string]any{"instance": "shop", "wuid": "5511999999999@s.whatsapp.net", "profileName": "Shop",
		"profilePictureUrl": nil, "state": "open", "statusReason": float64(200)}
	if diff := cmp.Diff(want, rc.lastData(t, "connection.update")); diff != "" {
		t.Errorf("open data (-want +got):\n%s", diff)
	}
	if got := rc.events(); !cmp.Equal(got, []string{"instance.create", "connection.update", "qrcode.updated", "connection.update"}) {
		t.Errorf("events = %v", got)
	}
	hooks := rc.all()
	if _, ok := hooks[0].Raw["sender"]; ok {
		t.Error("sender present before the first connection")
	}
	if hooks[3].Raw["sender"] != "5511999999999@s.whatsapp.net" {
		t.Errorf("sender after open = %v", hooks[3].Raw["sender"])
	}
	qrData := rc.lastData(t, "qrcode.updated")
	if path(qrData, "qrcode", "code") != code || path(qrData, "qrcode", "instance") != "shop" {
		t.Errorf("QRCODE_UPDATED data = %v", qrData)
	}
	if _, ok := qrData["qrcode"].(map[string]any)["count"]; ok {
		t.Error("QRCODE_UPDATED carries count; Evolution's does not")
	}

	_, open := e.call("GET", "/instance/connect/shop", testKey, nil)
	if !cmp.Equal(open, map[string]any{"instance": map[string]any{"instanceName": "shop", "state": "open"}}) {
		t.Errorf("connect when open = %v", open)
	}
	if err := e.sim.Scan("shop", "5511999999999", "Shop"); !errors.Is(err, ErrWrongState) {
		t.Errorf("second scan: %v, want ErrWrongState", err)
	}
}

func TestPairingCode(t *testing.T) {
	e := mustSim(t, Config{})
	status, body := e.call("POST", "/instance/create", testKey, map[string]any{
		"instanceName": "shop", "integration": "WHATSAPP-BAILEYS", "qrcode": true, "number": "5511999999999",
	})
	if status != 201 {
		t.Fatalf("create: %d %v", status, body)
	}
	pairing, _ := path(body, "qrcode", "pairingCode").(string)
	if !regexp.MustCompile(`^[0-9A-Z]{8}$`).MatchString(pairing) {
		t.Errorf("pairingCode = %q, want 8 upper-case letters/digits", pairing)
	}
	if path(body, "qrcode", "count") != float64(1) || path(body, "instance", "status") != "connecting" {
		t.Errorf("qrcode = %v", body)
	}
}

func TestEmptyFirstQR(t *testing.T) {
	e := mustSim(t, Config{EmptyFirstQR: true})
	e.create(map[string]any{"instanceName": "shop"})
	_, first := e.call("GET", "/instance/connect/shop", testKey, nil)
	if !cmp.Equal(first, map[string]any{"count": float64(0)}) {
		t.Errorf("first connect = %v, want {count:0}", first)
	}
	_, second := e.call("GET", "/instance/connect/shop", testKey, nil)
	if path(second, "count") != float64(1) || path(second, "base64") == nil {
		t.Errorf("second connect = %v, want QR 1", second)
	}
}

// TestQRRotationAndLimit runs an attempt to its limit: QRs 1..3, then the
// limit message, "refused" with 428, and back to close with count reset.
func TestQRRotationAndLimit(t *testing.T) {
	rc := mustReceiver(t, nil)
	e := mustSim(t, Config{QRInterval: 10 * time.Millisecond, QRLimit: 3})
	e.create(map[string]any{"instanceName": "shop", "webhook": map[string]any{
		"url": rc.URL(), "events": []string{"QRCODE_UPDATED", "CONNECTION_UPDATE"}}})
	e.call("GET", "/instance/connect/shop", testKey, nil)

	rc.waitFor(t, "refused", func(hs []hook) bool {
		return len(hs) > 0 && strings.Contains(string(hs[len(hs)-1].Data), "refused")
	})
	var codes []string
	for _, h := range rc.all() {
		if h.Event == "qrcode.updated" {
			if c, ok := path(h.Raw, "data", "qrcode", "code").(string); ok {
				codes = append(codes, c)
			}
		}
	}
	if len(codes) != 3 || codes[0] == codes[1] || codes[1] == codes[2] {
		t.Errorf("QR codes = %d %v, want 3 distinct", len(codes), codes)
	}
	want := []string{"connection.update", "qrcode.updated", "qrcode.updated", "qrcode.updated", "qrcode.updated", "connection.update"}
	if got := rc.events(); !cmp.Equal(got, want) {
		t.Errorf("events = %v, want %v", got, want)
	}
	limit := rc.all()[4]
	if !cmp.Equal(limit.Raw["data"], map[string]any{"message": "QR code limit reached, please login again", "statusCode": float64(500)}) {
		t.Errorf("limit payload = %v", limit.Raw["data"])
	}
	if diff := cmp.Diff(map[string]any{"instance": "shop", "state": "refused", "statusReason": float64(428)},
		rc.lastData(t, "connection.update")); diff != "" {
		t.Errorf("refused data (-want +got):\n%s", diff)
	}
	info, _ := e.sim.Instance("shop")
	if info.State != "close" || info.QRCount != 0 {
		t.Errorf("after limit: state %s count %d, want close 0", info.State, info.QRCount)
	}
	time.Sleep(30 * time.Millisecond) // the ticker must have stopped: no more QRs
	if n := len(rc.events()); n != len(want) {
		t.Errorf("%d events after refusal, want %d", n, len(want))
	}
	_, qr := e.call("GET", "/instance/connect/shop", testKey, nil)
	if path(qr, "count") != float64(1) {
		t.Errorf("reconnect after refusal = %v, want a new attempt at count 1", qr)
	}
}

func TestQRCountRises(t *testing.T) {
	e := mustSim(t, Config{QRInterval: 10 * time.Millisecond, QRLimit: 30})
	e.create(map[string]any{"instanceName": "shop", "qrcode": true})
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, qr := e.call("GET", "/instance/connect/shop", testKey, nil)
		if n, _ := path(qr, "count").(float64); n >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("count did not rise: %v", qr)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestDrop(t *testing.T) {
	rc := mustReceiver(t, nil)
	e := mustSim(t, Config{})
	e.open("shop", rc.URL(), "CONNECTION_UPDATE", "STATUS_INSTANCE", "LOGOUT_INSTANCE")
	rc.waitEvents(t, 2) // connecting, open

	if err := e.sim.Drop("shop", 515); err != nil {
		t.Fatal(err)
	}
	rc.waitEvents(t, 4)
	states := func() []any {
		var out []any
		for _, h := range rc.all() {
			out = append(out, path(h.Raw, "data", "state"))
		}
		return out
	}
	if got := states(); !cmp.Equal(got, []any{"connecting", "open", "connecting", "open"}) {
		t.Fatalf("silent drop states = %v", got)
	}

	if err := e.sim.Drop("shop", 401); err != nil {
		t.Fatal(err)
	}
	rc.waitEvents(t, 1, "logout.instance")
	want := []string{"status.instance", "connection.update", "logout.instance"}
	if got := rc.events()[4:]; !cmp.Equal(got, want) {
		t.Errorf("terminal drop events = %v, want %v", got, want)
	}
	status := rc.lastData(t, "status.instance")
	if status["status"] != "closed" || status["disconnectionReasonCode"] != float64(401) {
		t.Errorf("STATUS_INSTANCE data = %v", status)
	}
	if _, ok := status["disconnectionObject"].(string); !ok {
		t.Errorf("disconnectionObject = %T, want a JSON string", status["disconnectionObject"])
	}
	if err := e.sim.Drop("shop", 401); !errors.Is(err, ErrWrongState) {
		t.Errorf("drop when closed: %v, want ErrWrongState", err)
	}
	if err := e.sim.Drop("nope", 401); !errors.Is(err, ErrUnknownInstance) {
		t.Errorf("drop unknown: %v, want ErrUnknownInstance", err)
	}
}
