package evolutionsim

import (
	"strings"
	"testing"
	"time"
)

func TestCreateJid(t *testing.T) {
	tests := []struct{ in, want string }{
		{"5511988887777", "5511988887777@s.whatsapp.net"},
		{"+55 (11) 98888-7777", "5511988887777@s.whatsapp.net"}, // area code below 31 keeps its 9
		{"5531988887777", "553188887777@s.whatsapp.net"},        // area code 31+ loses the mobile 9
		{"5531912345678", "5531912345678@s.whatsapp.net"},       // subscriber starting below 7: unchanged
		{"5215512345678", "525512345678@s.whatsapp.net"},        // Mexico drops the 1
		{"5491112345678", "541112345678@s.whatsapp.net"},        // Argentina drops the 9
		{"5511988887777:12", "5511988887777@s.whatsapp.net"},    // device suffix
		{"123456789012345678", "123456789012345678@g.us"},
		{"120363025246125486-1234567890", "120363025246125486-1234567890@g.us"},
		{"5511988887777@s.whatsapp.net", "5511988887777@s.whatsapp.net"},
		{"123456789012345@lid", "123456789012345@lid"},
		{"status@broadcast", "status@broadcast"},
	}
	for _, tt := range tests {
		if got := createJid(tt.in); got != tt.want {
			t.Errorf("createJid(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzCreateJid(f *testing.F) {
	for _, seed := range []string{"5511988887777", "+55 (11) 98888-7777", "1-2", "x@lid", ":", ""} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		jid := createJid(in)
		if !strings.Contains(jid, "@") {
			t.Errorf("createJid(%q) = %q has no @", in, jid)
		}
		if again := createJid(jid); again != jid {
			t.Errorf("createJid not idempotent: %q → %q → %q", in, jid, again)
		}
	})
}

func TestLongJSON(t *testing.T) {
	ms := int64(1733400200123)
	l := longJSON(ms)
	low, high := l["low"].(int32), l["high"].(int32)
	if got := int64(high)<<32 | int64(uint32(low)); got != ms {
		t.Errorf("low %d high %d rebuild %d, want %d", low, high, got, ms)
	}
}

func TestBackoff(t *testing.T) {
	d := newDispatcher(t.Context(), nil, Config{WebhookRetry: RetryPolicy{}.withDefaults(), Now: time.Now}, newLockedRand(1))
	for attempt, base := range map[int]time.Duration{1: 5 * time.Second, 2: 10 * time.Second, 4: 40 * time.Second, 9: 300 * time.Second} {
		for range 20 {
			got := d.backoff(attempt)
			if got < base*8/10 || got > base*12/10 {
				t.Errorf("backoff(%d) = %v, want %v ±20%%", attempt, got, base)
			}
		}
	}
}

func TestConnectWait(t *testing.T) {
	e := mustSim(t, Config{ConnectWait: 50 * time.Millisecond})
	e.create(map[string]any{"instanceName": "shop"})
	start := time.Now()
	_, qr := e.call("GET", "/instance/connect/shop", testKey, nil)
	if elapsed := time.Since(start); elapsed < 50*time.Millisecond || path(qr, "count") != float64(1) {
		t.Errorf("connect answered %v after %v, want QR 1 after at least 50ms", qr, elapsed)
	}
}
