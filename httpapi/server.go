// Package httpapi is Aibud's HTTP face: the dashboard pages, the JSON API,
// authentication and the webhooks. Handlers are methods on Server and call
// the domain in package tenants; nothing here is stored directly.
package httpapi

import (
	"context"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aibud/aibud/tenants"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
)

// Config is what the HTTP layer needs to know about the deployment.
type Config struct {
	PublicURL   string // e.g. https://app.example.com; decides cookie Secure and links
	Secret      []byte // signs session tokens
	ClerkIssuer string // optional: accept Clerk session tokens from this issuer
	// ClerkJWKSURL defaults to ClerkIssuer + "/.well-known/jwks.json".
	ClerkJWKSURL string
	// ClerkAuthorizedParties lists accepted `azp` origins; empty means the
	// public URL only.
	ClerkAuthorizedParties []string
	BodyLimit              string // per request, Echo notation; default "1M"
	// IPExtractor decides the client address (login throttling, logs);
	// main builds it from AIBUD_TRUSTED_PROXIES. nil: Echo's default, which
	// believes X-Forwarded-For from anyone.
	IPExtractor echo.IPExtractor
	// APIKeyRate and APIKeyBurst size each API key's token bucket:
	// requests a second and burst (defaults 20 and 40).
	APIKeyRate  float64
	APIKeyBurst int
	// MetricsToken, when set, is the Bearer token /metrics requires.
	MetricsToken string
	Logger       *slog.Logger
	Now          func() time.Time
}

// Deps are the domain services the handlers call.
type Deps struct {
	Accounts  *tenants.Accounts
	Credits   tenants.Credits
	Numbers   *tenants.Numbers
	Contacts  *tenants.Contacts
	Campaigns *tenants.Campaigns
	Billing   *tenants.Billing
	Usage     *tenants.Usage
	Inbox     *tenants.Inbox
	Admin     *tenants.Admin // the operator console; nil answers 404 there
	Tenants   tenants.TenantUpdater
	// ParseWebhook turns a gateway webhook body (and the event name from a
	// by-events path, if any) into domain events.
	ParseWebhook func(body []byte, pathEvent string) ([]tenants.GatewayEvent, error)
	// Sandbox, when set, offers "simulate" buttons for numbers on the
	// sandbox shard (SandboxShardID); nothing reaches real WhatsApp there.
	Sandbox        Sandbox
	SandboxShardID string
	// Ready reports whether the server can do work (catalog open, Redis
	// answers); nil means always ready.
	Ready func(ctx context.Context) error
	// APIKeys authenticates `Authorization: Bearer ak_…`; nil turns API
	// keys off.
	APIKeys *tenants.APIKeys
	// Metrics are the domain counters the use cases report to; nil: the
	// server makes its own, which nothing else moves.
	Metrics *Metrics
	// QueueStats answers each queue's depth when /metrics is scraped, and
	// OpenTenants the open tenant DBs; nil leaves the series out.
	QueueStats  func(ctx context.Context) (map[string]int, error)
	OpenTenants func() int
	// Exporter streams tenant export files for the console's download
	// (handleAdminTenantExport); Eraser deletes an owner's account and
	// exports a contact's data (registerDataRightsRoutes). nil: 503 there.
	Exporter TenantExporter
	Eraser   *tenants.Eraser
}

// Sandbox is the control side of the sandbox gateway.
type Sandbox interface {
	Scan(ctx context.Context, instanceName, number, profileName string) error
	SimulateReply(ctx context.Context, instanceName, from, text, quotedID string) (string, error)
	SimulateVote(ctx context.Context, instanceName, from, pollMessageID string, options []string) (string, error)
}

// Server is the HTTP server's handlers and their shared state.
type Server struct {
	cfg      Config
	deps     Deps
	echo     *echo.Echo
	pages    map[string]*template.Template
	tokens   *tokenIssuer
	throttle *loginThrottle
	clerk    *clerkVerifier // nil when Clerk is off
	secure   bool           // cookies get Secure (public URL is https)
	log      *slog.Logger

	keyLimits *keyLimiter    // a token bucket per API key
	malformed warnSampler    // warnings about malformed gateway webhooks
	metrics   *serverMetrics // this server's Prometheus registry
}

// New builds the server and its routes. ctx bounds background work (the
// Clerk key refresher); cancel it to stop that.
func New(ctx context.Context, cfg Config, deps Deps) (*Server, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.BodyLimit == "" {
		cfg.BodyLimit = "1M"
	}
	u, err := url.Parse(cfg.PublicURL)
	if err != nil {
		return nil, err
	}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg: cfg, deps: deps, pages: pages, log: cfg.Logger,
		tokens:   &tokenIssuer{secret: cfg.Secret, issuer: cfg.PublicURL, now: cfg.Now},
		throttle: newLoginThrottle(cfg.Now),
		secure:   u.Scheme == "https",
	}
	s.keyLimits = newKeyLimiter(cfg.APIKeyRate, cfg.APIKeyBurst)
	s.metrics = s.newServerMetrics()
	if cfg.ClerkIssuer != "" {
		if s.clerk, err = newClerkVerifier(ctx, cfg); err != nil {
			return nil, err
		}
	}
	s.echo = s.newEcho()
	return s, nil
}

// Handler returns the complete HTTP handler. Go's cross-origin protection
// wraps everything: a browser form posted from another site is refused
// before any handler runs, while API and webhook clients (which send no
// Origin or Sec-Fetch-Site headers) pass.
func (s *Server) Handler() http.Handler {
	return http.NewCrossOriginProtection().Handler(s.echo)
}

// Routes lists every registered route (method and path), for tests that
// must cover them all.
func (s *Server) Routes() []*echo.Route { return s.echo.Routes() }

func (s *Server) newEcho() *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.handleError
	e.IPExtractor = s.cfg.IPExtractor
	e.Use(middleware.RequestID())
	e.Use(s.observeHTTP()) // before the access log, so it counts the status sent
	e.Use(s.accessLog())
	e.Use(middleware.Recover())
	e.Use(middleware.SecureWithConfig(middleware.SecureConfig{
		XSSProtection:         "0",
		ContentTypeNosniff:    "nosniff",
		XFrameOptions:         "DENY",
		ReferrerPolicy:        "same-origin",
		ContentSecurityPolicy: "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'",
		HSTSMaxAge:            31536000,
	}))
	e.Use(serverBodyLimit(s.cfg.BodyLimit)) // import routes set their own, larger limits

	e.GET("/healthz", s.handleHealthz)
	e.GET("/readyz", s.handleReadyz)
	registerStatic(e)
	s.registerAccountRoutes(e)
	s.registerCreditRoutes(e)
	s.registerNumberRoutes(e)
	s.registerSettingsRoutes(e)
	s.registerWebhookRoutes(e)
	s.registerPollRoutes(e)
	s.registerContactRoutes(e)
	s.registerBillingRoutes(e)
	s.registerUsageRoutes(e)
	s.registerInboxRoutes(e)
	s.registerAPIKeyRoutes(e)
	s.registerOpenAPIRoutes(e)
	s.registerMetricsRoutes(e)
	s.registerDataRightsRoutes(e)
	s.registerAdminRoutes(e)
	s.registerCampaignPages(e)
	return e
}

// accessLog logs one line per request with its id, route and latency.
func (s *Server) accessLog() echo.MiddlewareFunc {
	return middleware.RequestLoggerWithConfig(middleware.RequestLoggerConfig{
		LogStatus: true, LogURIPath: true, LogMethod: true, LogLatency: true,
		LogRequestID: true, LogRemoteIP: true, LogRoutePath: true, LogError: true,
		HandleError: true, // run the error handler first so the logged status is the real one
		LogValuesFunc: func(c echo.Context, v middleware.RequestLoggerValues) error {
			// Gateway webhooks arrive thousands a second and probes every
			// few seconds: only their failures are worth a line.
			if v.Status < 400 && quietPath(v.URIPath) {
				return nil
			}
			level := slog.LevelInfo
			if v.Status >= 500 {
				level = slog.LevelError
			}
			s.log.LogAttrs(c.Request().Context(), level, "http",
				slog.String("id", v.RequestID), slog.String("method", v.Method),
				slog.String("path", v.URIPath), slog.String("route", v.RoutePath),
				slog.Int("status", v.Status), slog.Duration("latency", v.Latency),
				slog.String("ip", v.RemoteIP))
			return nil
		},
	})
}

// quietPath reports paths whose successful requests are not access-logged.
func quietPath(p string) bool {
	return strings.HasPrefix(p, "/webhooks/evolution/") || p == "/healthz" || p == "/readyz" || p == "/metrics"
}

func (s *Server) handleHealthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) handleReadyz(c echo.Context) error {
	if s.deps.Ready != nil {
		if err := s.deps.Ready(c.Request().Context()); err != nil {
			s.log.Warn("not ready", "err", err)
			return c.JSON(http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "reason": err.Error()})
		}
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ready"})
}
