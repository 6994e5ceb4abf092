package main

import (
	"context"
	"crypto/tls"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/crypto/acme/autocert"
)

// What can be tested here of TLS without a proxy: the redirect server, the
// ACME http-01 path, the autocert configuration and the host policy. The
// live certificate issuance needs Let's Encrypt to reach this machine on a
// public domain, so it is NOT tested.

func testTLSOptions(t *testing.T) tlsOptions {
	return tlsOptions{Domain: "aibud.example.com", Email: "ops@example.com", Addr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0",
		DataDir: t.TempDir(), PublicURL: "https://aibud.example.com"}
}

// startTLSServers runs both servers until the test ends.
func startTLSServers(t *testing.T, o tlsOptions) (httpsAddr, httpAddr string) {
	t.Helper()
	app := http.NewServeMux()
	app.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "app healthz") })
	httpsSrv, redirectSrv, httpsLn, redirectLn, err := tlsServers(o, app, log.New(io.Discard, "", 0))
	if err != nil {
		t.Fatal(err)
	}
	go httpsSrv.Serve(httpsLn)
	go redirectSrv.Serve(redirectLn)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		httpsSrv.Shutdown(ctx)
		redirectSrv.Shutdown(ctx)
	})
	return httpsLn.Addr().String(), redirectLn.Addr().String()
}

func TestTLSRedirectServer(t *testing.T) {
	_, httpAddr := startTLSServers(t, testTLSOptions(t))
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	tests := []struct {
		method, path, host string
		status             int
		location, body     string
	}{
		{"GET", "/app/polls?tab=done", "aibud.example.com", 301, "https://aibud.example.com/app/polls?tab=done", ""},
		{"HEAD", "/", "aibud.example.com", 301, "https://aibud.example.com/", ""},
		{"GET", "/login", "203.0.113.7", 301, "https://aibud.example.com/login", ""}, // by IP: still to the domain
		{"POST", "/webhooks/evolution/tok", "aibud.example.com", 308, "https://aibud.example.com/webhooks/evolution/tok", ""},
		{"GET", "/healthz", "127.0.0.1", 200, "", "app healthz"},
		// ACME http-01: answered by autocert (no such token here), never redirected…
		{"GET", "/.well-known/acme-challenge/tok123", "aibud.example.com", 404, "", ""},
		// …and only for the configured domain.
		{"GET", "/.well-known/acme-challenge/tok123", "evil.example", 403, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.host+tt.path, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, "http://"+httpAddr+tt.path, nil)
			req.Host = tt.host
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.status || resp.Header.Get("Location") != tt.location || !strings.Contains(string(body), tt.body) {
				t.Fatalf("= %d Location %q body %q; want %d %q %q", resp.StatusCode, resp.Header.Get("Location"), body, tt.status, tt.location, tt.body)
			}
		})
	}
}

func TestTLSCertManager(t *testing.T) {
	o := testTLSOptions(t)
	m := newCertManager(o)
	ctx := context.Background()
	if err := m.HostPolicy(ctx, "aibud.example.com"); err != nil {
		t.Errorf("host policy refuses the domain: %v", err)
	}
	for _, h := range []string{"evil.example", "www.aibud.example.com", "127.0.0.1", ""} {
		if err := m.HostPolicy(ctx, h); err == nil {
			t.Errorf("host policy accepts %q", h)
		}
	}
	if dir, ok := m.Cache.(autocert.DirCache); !ok || string(dir) != filepath.Join(o.DataDir, "autocert") {
		t.Errorf("cache = %#v, want DirCache in the data dir", m.Cache)
	}
	if m.Email != "ops@example.com" || m.Prompt("https://letsencrypt.org/tos") != true {
		t.Errorf("manager = %+v", m)
	}
	if m.Client != nil {
		t.Errorf("ACME client %+v: want autocert's default (Let's Encrypt production)", m.Client)
	}
	tc := m.TLSConfig()
	if !slices.Contains(tc.NextProtos, "acme-tls/1") || !slices.Contains(tc.NextProtos, "h2") {
		t.Errorf("NextProtos = %v, want h2 and acme-tls/1 (TLS-ALPN-01)", tc.NextProtos)
	}
}

// TestTLSRefusesOtherHosts: a handshake for another name (or none, as when
// someone connects by IP) fails at once: the host policy stops it before
// any request to Let's Encrypt.
func TestTLSRefusesOtherHosts(t *testing.T) {
	httpsAddr, _ := startTLSServers(t, testTLSOptions(t))
	for _, name := range []string{"evil.example", ""} {
		d := &net.Dialer{Timeout: 5 * time.Second}
		start := time.Now()
		conn, err := tls.DialWithDialer(d, "tcp", httpsAddr, &tls.Config{ServerName: name, InsecureSkipVerify: true})
		if err == nil {
			conn.Close()
			t.Fatalf("handshake for %q succeeded", name)
		}
		if time.Since(start) > 3*time.Second {
			t.Fatalf("handshake for %q took %v: it went to the network", name, time.Since(start))
		}
	}
}

func TestTLSOptionsCheck(t *testing.T) {
	for _, tt := range []struct {
		public string
		ok     bool
	}{
		{"https://aibud.example.com", true},
		{"https://aibud.example.com:443", true},
		{"http://aibud.example.com", false},
		{"https://other.example.com", false},
		{"https://aibud.example.com:8443", false},
	} {
		o := testTLSOptions(t)
		o.PublicURL = tt.public
		if err := o.check(); (err == nil) != tt.ok {
			t.Errorf("check(%s) = %v", tt.public, err)
		}
	}
	o := testTLSOptions(t)
	o.PublicURL = "http://localhost:8080"
	if _, _, _, _, err := tlsServers(o, http.NotFoundHandler(), nil); err == nil || !strings.Contains(err.Error(), "AIBUD_PUBLIC_URL") {
		t.Fatalf("tlsServers with a mismatched public URL: %v", err)
	}
}

func TestParseTLSDomain(t *testing.T) {
	for in, want := range map[string]string{"": "", " App.Example.com ": "app.example.com", "aibud.co": "aibud.co", "x-1.example.org": "x-1.example.org"} {
		if got, err := parseTLSDomain(in); err != nil || got != want {
			t.Errorf("parseTLSDomain(%q) = %q, %v", in, got, err)
		}
	}
	for _, in := range []string{"https://app.example.com", "app.example.com:443", "localhost", "1.2.3.4", "app..example.com", "-a.example.com", "app.example.com/x", "ex ample.com"} {
		if got, err := parseTLSDomain(in); err == nil {
			t.Errorf("parseTLSDomain(%q) = %q, want an error", in, got)
		}
	}
}

// TestIPExtractor: X-Forwarded-For counts only when the peer is a trusted
// proxy; Echo's default trust of private and loopback peers is off.
func TestIPExtractor(t *testing.T) {
	trusted, err := parseTrustedProxies(" 10.0.0.0/8, 172.18.0.1 ,, fd00::/8")
	if err != nil || len(trusted) != 3 || trusted[1] != netip.MustParsePrefix("172.18.0.1/32") {
		t.Fatalf("parseTrustedProxies = %v, %v", trusted, err)
	}
	if _, err := parseTrustedProxies("10.0.0.0/8,proxy.local"); err == nil {
		t.Fatal("a host name was accepted as a proxy range")
	}
	tests := []struct {
		name    string
		trusted []netip.Prefix
		peer    string
		xff     string
		want    string
	}{
		{"no proxies: header ignored", nil, "10.0.0.5:4000", "1.2.3.4", "10.0.0.5"},
		{"no proxies: loopback peer", nil, "127.0.0.1:4000", "1.2.3.4", "127.0.0.1"},
		{"trusted peer", trusted, "10.0.0.5:4000", "1.2.3.4", "1.2.3.4"},
		{"trusted single address", trusted, "172.18.0.1:4000", "1.2.3.4", "1.2.3.4"},
		{"untrusted private peer", trusted, "192.168.1.9:4000", "1.2.3.4", "192.168.1.9"},
		{"untrusted loopback peer", trusted, "127.0.0.1:4000", "1.2.3.4", "127.0.0.1"},
		{"untrusted public peer", trusted, "198.51.100.7:4000", "1.2.3.4", "198.51.100.7"},
		{"chain through two proxies", trusted, "10.0.0.5:4000", "1.2.3.4, 10.0.0.7", "1.2.3.4"},
		{"spoofed left part ignored", trusted, "10.0.0.5:4000", "6.6.6.6, 1.2.3.4", "1.2.3.4"},
		{"trusted IPv6 proxy", trusted, "[fd00::5]:4000", "2001:db8::9", "2001:db8::9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := echo.New()
			e.IPExtractor = ipExtractor(tt.trusted)
			e.GET("/ip", func(c echo.Context) error { return c.String(200, c.RealIP()) })
			req := httptest.NewRequest("GET", "/ip", nil)
			req.RemoteAddr = tt.peer
			req.Header.Set("X-Forwarded-For", tt.xff)
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, req)
			if rec.Body.String() != tt.want {
				t.Fatalf("RealIP = %q, want %q", rec.Body.String(), tt.want)
			}
		})
	}
}
