package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aibud/aibud/billing"
	"github.com/aibud/aibud/tenants"
)

// Config is every setting of `aibud serve`, in one typed struct. Values come
// from the defaults, then the environment, then flags.
type Config struct {
	Addr                 string
	DataDir              string
	PublicURL            string
	RedisURL             string
	Secret               string
	MaxOpenTenants       int
	Roles                []string
	ClerkIssuer          string
	LogLevel             slog.Level
	EvolutionURL         string // registers the "default" gateway shard at start-up
	EvolutionKey         string
	Pacing               tenants.Pacing
	GeminiKey            string
	GeminiModel          string
	BackupDir            string // AIBUD_BACKUP_DIR; empty: no backups
	MetricsToken         string
	PprofAddr            string // loopback address of the Go profiler; empty: off
	APIKeyRate           float64
	APIKeyBurst          int
	Stripe               billing.Config       // keys; empty: billing pages say it is not configured
	StripePrices         tenants.PriceCatalog // plan and pack price ids
	TLSDomain            string               // AIBUD_TLS_DOMAIN: HTTPS with Let's Encrypt; empty: plain HTTP
	TLSAddr              string               // HTTPS listen address when TLSDomain is set
	TLSEmail             string               // contact given to Let's Encrypt
	TrustedProxies       []netip.Prefix       // peers whose X-Forwarded-For is believed
	WebhooksAllowPrivate bool                 // outgoing webhooks may reach loopback/private addresses
	SendConfirmWindow    time.Duration        // how long an interrupted send waits for the gateway's echo
	ReconcileEvery       time.Duration        // how often campaigns are checked against the queue
	BreakerPause         time.Duration        // how long a number rests after failed sends in a row
	// SendRetryBackoff is the wait before a send that failed for a
	// temporary reason is tried again; not a setting, tests shorten it.
	SendRetryBackoff time.Duration
}

// setting describes one configuration value: its environment variable, flag
// and help. The table is the single source for -h, the README and parsing.
type setting struct {
	env, flag, def, help string
	set                  func(c *Config, v string) error
}

// flagHelp means -h was asked for and the usage has been printed.
var flagHelp = flag.ErrHelp

var allRoles = []string{"web", "worker", "cron"}

func settings() []setting {
	return []setting{
		{"AIBUD_ADDR", "addr", ":8080", "address the HTTP server listens on", func(c *Config, v string) error {
			_, port, err := net.SplitHostPort(v)
			if n, perr := strconv.Atoi(port); err != nil || perr != nil || n < 0 || n > 65535 {
				return fmt.Errorf("want host:port with a port number, e.g. :8080; got %q", v)
			}
			c.Addr = v
			return nil
		}},
		{"AIBUD_DATA_DIR", "data-dir", "./data", "directory of the catalog and tenant databases", func(c *Config, v string) error {
			if strings.TrimSpace(v) == "" {
				return errors.New("must not be empty")
			}
			c.DataDir = v
			return nil
		}},
		{"AIBUD_PUBLIC_URL", "public-url", "http://localhost:8080", "URL people and gateways use to reach this server (links, webhook URLs)", func(c *Config, v string) error {
			u, err := url.Parse(v)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return fmt.Errorf("want an absolute http(s) URL, got %q", v)
			}
			c.PublicURL = strings.TrimSuffix(v, "/")
			return nil
		}},
		{"REDIS_URL", "redis-url", "", "redis:// or rediss:// URL of the queue's Redis; empty runs an in-process Redis", func(c *Config, v string) error {
			if v != "" {
				u, err := url.Parse(v)
				if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host == "" {
					return fmt.Errorf("want redis://host:port or rediss://…, got a %q URL", schemeOf(v))
				}
			}
			c.RedisURL = v
			return nil
		}},
		{"AIBUD_SECRET", "secret", "", "key that signs sessions (at least 32 characters); empty: generated once and kept in the data dir", func(c *Config, v string) error {
			if v != "" && len(v) < 32 {
				return errors.New("must be at least 32 characters")
			}
			c.Secret = v
			return nil
		}},
		{"AIBUD_MAX_OPEN_TENANTS", "max-open-tenants", "256", "tenant databases kept open at once (least recently used are closed)", func(c *Config, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 100000 {
				return fmt.Errorf("want a whole number from 1 to 100000, got %q", v)
			}
			c.MaxOpenTenants = n
			return nil
		}},
		{"AIBUD_ROLES", "roles", "web,worker,cron", "what this process runs: any of web, worker, cron", func(c *Config, v string) error {
			c.Roles = nil
			for _, r := range strings.Split(v, ",") {
				r = strings.TrimSpace(r)
				if !slices.Contains(allRoles, r) {
					return fmt.Errorf("unknown role %q (want web, worker or cron)", r)
				}
				if !slices.Contains(c.Roles, r) {
					c.Roles = append(c.Roles, r)
				}
			}
			return nil
		}},
		{"AIBUD_CLERK_ISSUER", "clerk-issuer", "", "accept Clerk session tokens from this issuer URL (optional)", func(c *Config, v string) error {
			if v != "" {
				if u, err := url.Parse(v); err != nil || u.Scheme != "https" && u.Scheme != "http" {
					return fmt.Errorf("want the issuer's https URL, got %q", v)
				}
			}
			c.ClerkIssuer = v
			return nil
		}},
		{"EVOLUTION_API_URL", "evolution-url", "", "Evolution API server registered as the default gateway shard; empty uses the sandbox gateway", func(c *Config, v string) error {
			if v != "" {
				u, err := url.Parse(v)
				if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
					return fmt.Errorf("want the gateway's http(s) base URL, got %q", v)
				}
			}
			c.EvolutionURL = strings.TrimSuffix(v, "/")
			return nil
		}},
		{"EVOLUTION_API_KEY", "evolution-key", "", "global API key of that Evolution server (AUTHENTICATION_API_KEY there)", func(c *Config, v string) error {
			c.EvolutionKey = v
			return nil
		}},
		{"AIBUD_SEND_INTERVAL", "send-interval", "5s", "minimum time between two sends from one WhatsApp number; 0 or off disables", func(c *Config, v string) error {
			return parseDuration(v, &c.Pacing.Interval)
		}},
		{"AIBUD_SEND_JITTER", "send-jitter", "3s", "random extra time added to each interval; 0 or off disables", func(c *Config, v string) error {
			return parseDuration(v, &c.Pacing.Jitter)
		}},
		{"AIBUD_DAILY_CAP", "daily-cap", "250", "messages per WhatsApp number per day; 0 or off disables", func(c *Config, v string) error {
			if v == "off" {
				c.Pacing.DailyCap = 0
				return nil
			}
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > 1_000_000 {
				return fmt.Errorf("want a whole number or off, got %q", v)
			}
			c.Pacing.DailyCap = n
			return nil
		}},
		{"AIBUD_WARMUP", "warmup", "on", "ramp the daily cap up over a new number's first week (on/off)", func(c *Config, v string) error {
			switch v {
			case "on", "true", "1":
				c.Pacing.Warmup = true
			case "off", "false", "0":
				c.Pacing.Warmup = false
			default:
				return fmt.Errorf("want on or off, got %q", v)
			}
			return nil
		}},
		{"AIBUD_QUIET_HOURS", "quiet-hours", "21-8", "hours (tenant time zone) when nothing is sent, as start-end; 0 or off disables", func(c *Config, v string) error {
			if v == "off" || v == "0" {
				c.Pacing.QuietStart, c.Pacing.QuietEnd = 0, 0
				return nil
			}
			var a, b int
			if _, err := fmt.Sscanf(v, "%d-%d", &a, &b); err != nil || a < 0 || a > 23 || b < 0 || b > 23 || a == b {
				return fmt.Errorf("want start-end hours such as 21-8, or off; got %q", v)
			}
			c.Pacing.QuietStart, c.Pacing.QuietEnd = a, b
			return nil
		}},
		{"AIBUD_SEND_CONFIRM_WINDOW", "send-confirm-window", "2m", "how long a send cut off without an answer (crash, timeout) waits for the gateway's echo before it is sent again", func(c *Config, v string) error {
			return parseMinDuration(v, time.Second, &c.SendConfirmWindow)
		}},
		{"AIBUD_BREAKER_PAUSE", "breaker-pause", "5m", "how long a number stops sending after 5 failed sends in a row (unless it reconnects first)", func(c *Config, v string) error {
			return parseMinDuration(v, time.Second, &c.BreakerPause)
		}},
		{"AIBUD_RECONCILE_EVERY", "reconcile-every", "1m", "how often campaigns are checked against the queue; tasks Redis lost are queued again", func(c *Config, v string) error {
			return parseMinDuration(v, time.Second, &c.ReconcileEvery)
		}},
		{"GEMINI_API_KEY", "gemini-key", "", "classify replies with Gemini (the offline rules are the fallback); empty uses the offline rules only", func(c *Config, v string) error {
			c.GeminiKey = v
			return nil
		}},
		{"AIBUD_GEMINI_MODEL", "gemini-model", "gemini-2.5-flash", "Gemini model used with GEMINI_API_KEY", func(c *Config, v string) error {
			if strings.TrimSpace(v) == "" || strings.ContainsAny(v, "/ ") {
				return fmt.Errorf("want a model name such as gemini-2.5-flash, got %q", v)
			}
			c.GeminiModel = v
			return nil
		}},
		{"STRIPE_SECRET_KEY", "stripe-secret-key", "", "Stripe secret key; empty turns paid plans and credit packs off", func(c *Config, v string) error {
			c.Stripe.SecretKey = v
			return nil
		}},
		{"STRIPE_WEBHOOK_SECRET", "stripe-webhook-secret", "", "signing secret of the /webhooks/stripe endpoint", func(c *Config, v string) error {
			c.Stripe.WebhookSecret = v
			return nil
		}},
		{"STRIPE_API_URL", "stripe-api-url", "", "Stripe API base URL; empty is Stripe itself (tests point it at stripe-mock)", func(c *Config, v string) error {
			if v != "" {
				u, err := url.Parse(v)
				if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
					return fmt.Errorf("want an http(s) URL, got %q", v)
				}
			}
			c.Stripe.APIURL = v
			return nil
		}},
		{"AIBUD_STRIPE_PRICE_GROWTH", "stripe-price-growth", "", "Stripe price id of the Growth plan", func(c *Config, v string) error {
			c.StripePrices.Growth = v
			return nil
		}},
		{"AIBUD_STRIPE_PRICE_PRO", "stripe-price-pro", "", "Stripe price id of the Pro plan", func(c *Config, v string) error {
			c.StripePrices.Pro = v
			return nil
		}},
		{"AIBUD_STRIPE_PRICE_PACK_1000", "stripe-price-pack-1000", "", "Stripe price id of the 1,000-credit pack", func(c *Config, v string) error {
			c.StripePrices.Pack1000 = v
			return nil
		}},
		{"AIBUD_STRIPE_PRICE_PACK_5000", "stripe-price-pack-5000", "", "Stripe price id of the 5,000-credit pack", func(c *Config, v string) error {
			c.StripePrices.Pack5000 = v
			return nil
		}},
		{"AIBUD_BACKUP_DIR", "backup-dir", "", "directory of the daily incremental backups of every database (02:30 UTC); empty turns them off", func(c *Config, v string) error {
			c.BackupDir = v
			return nil
		}},
		{"AIBUD_PPROF_ADDR", "pprof-addr", "", "serve Go's profiler (/debug/pprof/) on this loopback address, e.g. 127.0.0.1:6060; empty: off", func(c *Config, v string) error {
			if v == "" {
				c.PprofAddr = ""
				return nil
			}
			host, _, err := net.SplitHostPort(v)
			if err != nil {
				return fmt.Errorf("want host:port, got %q", v)
			}
			if ip, err := netip.ParseAddr(host); host != "localhost" && (err != nil || !ip.IsLoopback()) {
				return fmt.Errorf("the profiler shows the process's memory: give a loopback address such as 127.0.0.1:6060, not %q", v)
			}
			c.PprofAddr = v
			return nil
		}},
		{"AIBUD_METRICS_TOKEN", "metrics-token", "", "Bearer token that /metrics requires (at least 16 characters); empty leaves /metrics open, so keep it off the internet", func(c *Config, v string) error {
			if v != "" && len(v) < 16 {
				return errors.New("must be at least 16 characters")
			}
			c.MetricsToken = v
			return nil
		}},
		{"AIBUD_API_KEY_RATE", "api-key-rate", "20", "requests a second each tenant API key may make; more get 429 with Retry-After", func(c *Config, v string) error {
			n, err := strconv.ParseFloat(v, 64)
			if err != nil || n <= 0 || n > 10000 {
				return fmt.Errorf("want a number of requests a second from 0.1 to 10000, e.g. 20; got %q", v)
			}
			c.APIKeyRate = n
			return nil
		}},
		{"AIBUD_API_KEY_BURST", "api-key-burst", "40", "requests a tenant API key may make at once above its rate", func(c *Config, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 100000 {
				return fmt.Errorf("want a whole number from 1 to 100000, e.g. 40; got %q", v)
			}
			c.APIKeyBurst = n
			return nil
		}},
		{"AIBUD_TLS_DOMAIN", "tls-domain", "", "serve HTTPS for this domain with Let's Encrypt certificates (cached in <data>/autocert); AIBUD_ADDR then redirects to it; empty: plain HTTP", func(c *Config, v string) error {
			d, err := parseTLSDomain(v)
			c.TLSDomain = d
			return err
		}},
		{"AIBUD_TLS_ADDR", "tls-addr", ":443", "address of the HTTPS server when AIBUD_TLS_DOMAIN is set", func(c *Config, v string) error {
			if _, port, err := net.SplitHostPort(v); err != nil || port == "" {
				return fmt.Errorf("want host:port, e.g. :443; got %q", v)
			}
			c.TLSAddr = v
			return nil
		}},
		{"AIBUD_TLS_EMAIL", "tls-email", "", "contact address Let's Encrypt may write to about certificates (optional)", func(c *Config, v string) error {
			c.TLSEmail = strings.TrimSpace(v)
			return nil
		}},
		{"AIBUD_TRUSTED_PROXIES", "trusted-proxies", "", "comma-separated CIDRs of the reverse proxies whose X-Forwarded-For is believed; empty: none", func(c *Config, v string) error {
			p, err := parseTrustedProxies(v)
			c.TrustedProxies = p
			return err
		}},
		{"AIBUD_WEBHOOKS_ALLOW_PRIVATE", "webhooks-allow-private", "off", "let outgoing webhooks reach loopback and private addresses (on/off); off keeps them to the public internet", func(c *Config, v string) error {
			switch v {
			case "on", "true", "1":
				c.WebhooksAllowPrivate = true
			case "off", "false", "0":
				c.WebhooksAllowPrivate = false
			default:
				return fmt.Errorf("want on or off, got %q", v)
			}
			return nil
		}},
		{"AIBUD_LOG_LEVEL", "log-level", "info", "debug, info, warn or error", func(c *Config, v string) error {
			return c.LogLevel.UnmarshalText([]byte(v))
		}},
	}
}

// parseDuration reads a Go duration; "0" and "off" mean zero.
func parseDuration(v string, d *time.Duration) error {
	if v == "off" || v == "0" {
		*d = 0
		return nil
	}
	x, err := time.ParseDuration(v)
	if err != nil || x < 0 || x > 24*time.Hour {
		return fmt.Errorf("want a duration such as 5s, or off; got %q", v)
	}
	*d = x
	return nil
}

// parseMinDuration reads a Go duration of at least lo.
func parseMinDuration(v string, lo time.Duration, d *time.Duration) error {
	x, err := time.ParseDuration(v)
	if err != nil || x < lo || x > 24*time.Hour {
		return fmt.Errorf("want a duration of at least %v such as 2m, got %q", lo, v)
	}
	*d = x
	return nil
}

func schemeOf(v string) string {
	if i := strings.Index(v, "://"); i > 0 {
		return v[:i]
	}
	return "scheme-less"
}

// LoadConfig builds the config from defaults, the environment (getenv) and
// the command-line args. A bad value is an error naming its variable.
func LoadConfig(args []string, getenv func(string) string) (Config, error) {
	return loadConfig(args, getenv, io.Discard)
}

// loadConfig is LoadConfig writing usage and flag errors to out.
func loadConfig(args []string, getenv func(string) string, out io.Writer) (Config, error) {
	var c Config
	fs := flag.NewFlagSet("aibud serve", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: aibud serve [flags]\n\nEvery flag can also be set by its environment variable.\n\n")
		for _, s := range settings() {
			fmt.Fprintf(fs.Output(), "  -%s (%s, default %q)\n      %s\n", s.flag, s.env, s.def, s.help)
		}
	}
	flagVals := map[string]*string{}
	for _, s := range settings() {
		v := s.def
		if e, ok := lookup(getenv, s.env); ok {
			v = e
		}
		flagVals[s.flag] = fs.String(s.flag, v, s.help)
	}
	if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
		return c, flagHelp
	} else if err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	for _, s := range settings() {
		if err := s.set(&c, *flagVals[s.flag]); err != nil {
			return c, fmt.Errorf("%s (-%s): %w", s.env, s.flag, err)
		}
	}
	if c.EvolutionURL != "" && c.EvolutionKey == "" {
		return c, errors.New("EVOLUTION_API_KEY (-evolution-key): required when EVOLUTION_API_URL is set")
	}
	return c, nil
}

func lookup(getenv func(string) string, key string) (string, bool) {
	v := getenv(key)
	return v, v != ""
}

// HasRole reports whether this process runs the role.
func (c Config) HasRole(r string) bool { return slices.Contains(c.Roles, r) }

// secretKey returns the signing key: AIBUD_SECRET, or one generated on first
// start and kept in <data>/secret (mode 0600) so sessions survive restarts.
func (c Config) secretKey() ([]byte, error) {
	if c.Secret != "" {
		return []byte(c.Secret), nil
	}
	path := filepath.Join(c.DataDir, "secret")
	if b, err := os.ReadFile(path); err == nil {
		if len(b) < 32 {
			return nil, fmt.Errorf("%s is shorter than 32 bytes; delete it to generate a new one", path)
		}
		return b, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, err
	}
	key := []byte(hex.EncodeToString(raw))
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	if _, err := f.Write(key); err != nil {
		f.Close()
		return nil, err
	}
	return key, f.Close()
}
