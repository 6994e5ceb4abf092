package main

import (
	"crypto/tls"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/crypto/acme/autocert"
)

// TLS without a proxy (AIBUD_TLS_DOMAIN): Aibud gets its own certificate
// from Let's Encrypt and serves HTTPS; the plain-HTTP address answers the
// ACME http-01 challenge and redirects everything else to HTTPS. Without
// it, Aibud serves plain HTTP behind the operator's proxy and believes
// X-Forwarded-For only from AIBUD_TRUSTED_PROXIES.

// tlsOptions is what tlsServers needs from the configuration.
type tlsOptions struct {
	Domain    string // the one host name certificates are issued for
	Email     string // optional contact for Let's Encrypt (expiry notices)
	Addr      string // HTTPS listen address, e.g. ":443"
	HTTPAddr  string // plain-HTTP listen address (redirect and ACME), e.g. ":80"
	DataDir   string // certificates are cached in <DataDir>/autocert
	PublicURL string // must be https://<Domain>
}

// check refuses a configuration in which links and webhook URLs would not
// name the host the certificate is for.
func (o tlsOptions) check() error {
	u, err := url.Parse(o.PublicURL)
	if err != nil || u.Scheme != "https" || u.Hostname() != o.Domain || (u.Port() != "" && u.Port() != "443") {
		return fmt.Errorf("AIBUD_PUBLIC_URL must be https://%s when AIBUD_TLS_DOMAIN is set, got %q", o.Domain, o.PublicURL)
	}
	return nil
}

// parseTLSDomain validates AIBUD_TLS_DOMAIN: empty (off) or a plain DNS
// name such as app.example.com — no scheme, port, path or IP address.
func parseTLSDomain(v string) (string, error) {
	v = strings.ToLower(strings.TrimSpace(v))
	if v == "" {
		return "", nil
	}
	if _, err := netip.ParseAddr(v); err == nil || !strings.Contains(v, ".") || len(v) > 253 {
		return "", fmt.Errorf("want a domain name such as app.example.com, got %q", v)
	}
	for _, label := range strings.Split(v, ".") {
		if label == "" || len(label) > 63 || strings.HasPrefix(label, "-") || strings.HasSuffix(label, "-") {
			return "", fmt.Errorf("want a domain name such as app.example.com, got %q", v)
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
				return "", fmt.Errorf("want a domain name such as app.example.com, got %q", v)
			}
		}
	}
	return v, nil
}

// newCertManager returns the autocert manager for o: certificates for
// o.Domain only, cached on disk in the data directory so that restarts do
// not ask Let's Encrypt again (its rate limits are per week).
func newCertManager(o tlsOptions) *autocert.Manager {
	return &autocert.Manager{
		Prompt:     autocert.AcceptTOS,
		Cache:      autocert.DirCache(filepath.Join(o.DataDir, "autocert")),
		HostPolicy: autocert.HostWhitelist(o.Domain),
		Email:      o.Email,
	}
}

// tlsServers builds the HTTPS server for handler and the plain-HTTP server
// that answers ACME http-01 challenges, serves /healthz (so a local health
// check needs no certificate) and redirects the rest to https://<domain>.
// It listens on both addresses; the HTTPS listener already speaks TLS, so
// run httpsSrv.Serve(httpsLn) and redirectSrv.Serve(redirectLn), and
// Shutdown both on exit.
func tlsServers(o tlsOptions, handler http.Handler, errorLog *log.Logger) (httpsSrv, redirectSrv *http.Server, httpsLn, redirectLn net.Listener, err error) {
	if err := o.check(); err != nil {
		return nil, nil, nil, nil, err
	}
	certs := newCertManager(o)
	tlsCfg := certs.TLSConfig() // GetCertificate, and h2 + acme-tls/1 (the TLS-ALPN-01 challenge)
	tlsCfg.MinVersion = tls.VersionTLS12
	httpsSrv = newHTTPServer(handler, errorLog)
	httpsSrv.TLSConfig = tlsCfg
	redirectSrv = newHTTPServer(certs.HTTPHandler(httpsRedirect(o.Domain, handler)), errorLog)

	if redirectLn, err = net.Listen("tcp", o.HTTPAddr); err != nil {
		return nil, nil, nil, nil, fmt.Errorf("AIBUD_ADDR (HTTP redirect): %w", err)
	}
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		redirectLn.Close()
		return nil, nil, nil, nil, fmt.Errorf("AIBUD_TLS_ADDR: %w", err)
	}
	return httpsSrv, redirectSrv, tls.NewListener(ln, tlsCfg), redirectLn, nil
}

// newHTTPServer is an http.Server with the timeouts every Aibud listener
// uses.
func newHTTPServer(handler http.Handler, errorLog *log.Logger) *http.Server {
	return &http.Server{
		Handler: handler, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 60 * time.Second,
		WriteTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second, ErrorLog: errorLog,
	}
}

// httpsRedirect sends every plain-HTTP request to the same path on
// https://<domain> (301 for GET and HEAD, 308 otherwise so that a POST
// stays a POST), except the health checks, which app answers.
func httpsRedirect(domain string, app http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			app.ServeHTTP(w, r)
			return
		}
		status := http.StatusMovedPermanently
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			status = http.StatusPermanentRedirect
		}
		http.Redirect(w, r, "https://"+domain+r.URL.RequestURI(), status)
	})
}

// parseTrustedProxies reads AIBUD_TRUSTED_PROXIES: comma-separated CIDRs
// or single addresses of the reverse proxies in front of Aibud.
func parseTrustedProxies(v string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, part := range strings.Split(v, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if p, err := netip.ParsePrefix(part); err == nil {
			out = append(out, p.Masked())
		} else if a, aerr := netip.ParseAddr(part); aerr == nil {
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
		} else {
			return nil, fmt.Errorf("want CIDRs such as 10.0.0.0/8,172.18.0.1, got %q", part)
		}
	}
	return out, nil
}

// ipExtractor is Echo's IPExtractor for the trusted proxies: with none, the
// peer's address is the client's and X-Forwarded-For is ignored; with some,
// X-Forwarded-For is read right to left through those proxies only. Echo
// trusts loopback, link-local and private peers by default; that is turned
// off, so only the ranges the operator lists count.
func ipExtractor(trusted []netip.Prefix) echo.IPExtractor {
	if len(trusted) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, p := range trusted {
		opts = append(opts, echo.TrustIPRange(&net.IPNet{IP: net.IP(p.Addr().AsSlice()), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}))
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}
