package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"sync"
	"time"

	"github.com/aibud/aibud/httpapi"
	"github.com/aibud/aibud/queue"
	"github.com/aibud/aibud/store"
	"github.com/aibud/aibud/tenants"
	"github.com/aibud/aibud/whatsapp"
	"github.com/aibud/aibud/whatsapp/sandbox"
	"github.com/hibiken/asynq"
	"github.com/robfig/cron/v3"
)

// Main is one running aibud process: everything serve builds, in the order
// it is built, so that Close can take it down in reverse. End-to-end tests
// start the real program through it on :0 with a temp data dir.
type Main struct {
	Config Config
	Logger *slog.Logger

	Store     *store.Store
	Gateways  *whatsapp.Registry
	Sandbox   *sandbox.Gateway // nil when an Evolution server is configured
	Numbers   *tenants.Numbers
	Contacts  *tenants.Contacts
	Campaigns *tenants.Campaigns
	// CampaignTasks runs campaign work from the queue (and the reconciler).
	CampaignTasks *queue.CampaignHandlers
	Usage         *tenants.Usage
	Billing       *tenants.Billing
	Inbox         *tenants.Inbox
	Classifier    tenants.Classifier
	UsageTasks    *queue.UsageScheduler
	Redis         *queue.Redis
	Inspector     *asynq.Inspector
	Metrics       *httpapi.Metrics
	Queue         *queue.Client
	Worker        *queue.Worker // campaign sends and the reconciler
	Background    *queue.Worker // classification, outgoing webhooks, usage snapshots
	Cron          *cron.Cron
	HTTP          *http.Server
	Redirect      *http.Server // with AIBUD_TLS_DOMAIN: HTTP → HTTPS and the ACME challenge
	Profiler      *http.Server // with AIBUD_PPROF_ADDR: Go's /debug/pprof/ on loopback
	Hooks         *tenants.Hooks

	listener  net.Listener
	cancel    context.CancelFunc // stops background work bound to the process
	served    chan error
	closeOnce sync.Once
	closeErr  error
}

// NewMain returns a Main for cfg; Run starts it.
func NewMain(cfg Config, logger *slog.Logger) *Main {
	return &Main{Config: cfg, Logger: logger}
}

// Run opens the stores, connects to Redis and starts the configured roles.
// It returns once everything is serving; Close stops it.
func (m *Main) Run(ctx context.Context) error {
	cfg := m.Config
	bg, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	m.Metrics = httpapi.NewMetrics() // before the use cases that count into it
	m.served = make(chan error, 3)   // one per server: HTTP(S), redirect, profiler
	if cfg.PprofAddr != "" {
		if err := m.startProfiler(cfg.PprofAddr); err != nil {
			return fmt.Errorf("AIBUD_PPROF_ADDR: %w", err)
		}
	}

	secret, err := cfg.secretKey()
	if err != nil {
		return fmt.Errorf("AIBUD_SECRET: %w", err)
	}
	if m.Store, err = store.Open(store.Options{Dir: cfg.DataDir, MaxOpenTenants: cfg.MaxOpenTenants, Logger: m.Logger}); err != nil {
		return fmt.Errorf("AIBUD_DATA_DIR: %w", err)
	}
	if err := m.startGateways(ctx); err != nil {
		return err
	}
	if m.Redis, err = queue.Connect(ctx, queue.RedisConfig{URL: cfg.RedisURL}, m.Logger); err != nil {
		return fmt.Errorf("REDIS_URL: %w", err)
	}
	m.Queue = queue.NewClient(m.Redis)
	m.Inspector = queue.NewInspector(m.Redis)
	if m.Classifier, err = newClassifier(bg, cfg, m.Logger); err != nil {
		return err
	}
	m.startCampaigns()

	if cfg.HasRole("worker") {
		// Two workers, so that slow work (a Gemini call, a customer's slow
		// webhook endpoint) never holds the slots campaign sends need. Both
		// know every task type; each takes only from its own queues.
		// Sends are scheduled to the second; their worker moves due tasks
		// to the queue four times a second, so a send starts within a
		// quarter second of its slot instead of up to a second late.
		m.Worker = queue.NewWorker(m.Redis, queue.WorkerConfig{Queues: queue.SendQueues(), RetryDelay: queue.RetryDelay,
			DelayedTaskCheckInterval: 250 * time.Millisecond}, m.Logger)
		m.Background = queue.NewWorker(m.Redis, queue.WorkerConfig{Queues: queue.BackgroundQueues(), Concurrency: 10,
			RetryDelay: queue.RetryDelay}, m.Logger)
		for _, w := range []*queue.Worker{m.Worker, m.Background} {
			m.CampaignTasks.Register(w)
			(&queue.HookHandlers{Hooks: m.Hooks, Logger: m.Logger}).Register(w)
			(&queue.UsageHandler{Usage: m.Usage, Billing: m.Billing}).Register(w)
			if err := w.Start(); err != nil {
				return fmt.Errorf("start worker: %w", err)
			}
		}
		// Whatever Redis lost while this process was down is queued again
		// from the tenant databases.
		if err := m.enqueueReconcile(ctx); err != nil {
			m.Logger.Warn("first reconcile pass not queued", "err", err)
		}
	}
	if cfg.HasRole("cron") {
		m.Cron = m.newCron()
		m.Cron.Start()
		m.enqueueUsage(ctx) // fills the days missed while no scheduler ran
	}
	if cfg.HasRole("web") {
		return m.startHTTP(bg, secret)
	}
	return nil
}

func (m *Main) accounts() *tenants.Accounts {
	return &tenants.Accounts{
		Catalog: m.Store, Databases: m.Store, Credits: m.Store,
		Hasher: httpapi.Argon2idHasher{}, NewID: store.NewID, Now: m.now, Logger: m.Logger,
	}
}

func (m *Main) now() time.Time { return time.Now() }

// sandboxControl is the sandbox for the "simulate" buttons, or nil (an
// interface holding a nil pointer would not compare equal to nil).
func (m *Main) sandboxControl() httpapi.Sandbox {
	if m.Sandbox == nil {
		return nil
	}
	return m.Sandbox
}

func (m *Main) startHTTP(bg context.Context, secret []byte) error {
	extractor := ipExtractor(m.Config.TrustedProxies)
	if m.Config.TLSDomain != "" {
		extractor = ipExtractor(nil) // no proxy in front: the peer is the client
	}
	srv, err := httpapi.New(bg, httpapi.Config{
		PublicURL: m.Config.PublicURL, Secret: secret, ClerkIssuer: m.Config.ClerkIssuer, Logger: m.Logger,
		MetricsToken: m.Config.MetricsToken, APIKeyRate: m.Config.APIKeyRate, APIKeyBurst: m.Config.APIKeyBurst,
		IPExtractor: extractor,
	}, httpapi.Deps{
		Accounts: m.accounts(), Credits: m.Store, Numbers: m.Numbers, ParseWebhook: parseWebhook,
		Contacts: m.Contacts, Campaigns: m.Campaigns, Usage: m.Usage, Inbox: m.Inbox, Billing: m.Billing, Tenants: m.Store,
		APIKeys: &tenants.APIKeys{Store: m.Store, Catalog: m.Store, Now: m.now, NewID: store.NewID, Logger: m.Logger},
		Metrics: m.Metrics, QueueStats: m.queueDepths, OpenTenants: m.Store.Pool.OpenCount,
		Exporter: m.Store, Eraser: m.newEraser(),
		Admin: &tenants.Admin{Catalog: m.Store, Credits: m.Store, Billing: m.Billing, Usage: m.Usage, Instances: m.Store,
			Polls: m.Store, Shards: m.Store, Gateways: m.Gateways, Audit: m.Store, Hasher: httpapi.Argon2idHasher{},
			NewID: store.NewID, Now: m.now, Logger: m.Logger},
		Sandbox: m.sandboxControl(), SandboxShardID: sandboxShardID, Ready: m.ready,
	})
	if err != nil {
		return err
	}
	srv.EnableWebhooks(m.Hooks)
	cfg := m.Config
	handler, errorLog := srv.Handler(), slog.NewLogLogger(m.Logger.Handler(), slog.LevelWarn)
	if cfg.TLSDomain != "" {
		httpsSrv, redirectSrv, httpsLn, redirectLn, err := tlsServers(tlsOptions{Domain: cfg.TLSDomain, Email: cfg.TLSEmail,
			Addr: cfg.TLSAddr, HTTPAddr: cfg.Addr, DataDir: cfg.DataDir, PublicURL: cfg.PublicURL}, handler, errorLog)
		if err != nil {
			return err
		}
		m.HTTP, m.Redirect, m.listener = httpsSrv, redirectSrv, httpsLn
		go func() { m.served <- redirectSrv.Serve(redirectLn) }()
		go func() { m.served <- httpsSrv.Serve(httpsLn) }()
		m.Logger.Info("serving HTTPS with Let's Encrypt certificates", "domain", cfg.TLSDomain, "https", cfg.TLSAddr, "http", cfg.Addr)
		return nil
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("AIBUD_ADDR: %w", err)
	}
	m.listener, m.HTTP = ln, newHTTPServer(handler, errorLog)
	go func() { m.served <- m.HTTP.Serve(ln) }()
	return nil
}

// startProfiler serves Go's profiler on a loopback address of its own, never
// through the public router.
func (m *Main) startProfiler(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	m.Profiler = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { m.served <- m.Profiler.Serve(ln) }()
	m.Logger.Info("profiler listening", "addr", ln.Addr().String())
	return nil
}

// ready is /readyz: the catalog reads and Redis answers.
func (m *Main) ready(ctx context.Context) error {
	if err := m.Store.Ping(ctx); err != nil {
		return fmt.Errorf("catalog: %w", err)
	}
	if err := m.Redis.Ping(ctx); err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	return nil
}

// Addr returns the address the HTTP server listens on (useful with :0).
func (m *Main) Addr() string {
	if m.listener == nil {
		return ""
	}
	return m.listener.Addr().String()
}

// Close shuts down in order: stop HTTP intake, stop cron, drain workers,
// close the tenant DBs and the catalog, close Redis. Safe on a partly
// started Main, and to call more than once.
func (m *Main) Close() error {
	m.closeOnce.Do(func() { m.closeErr = m.close() })
	return m.closeErr
}

func (m *Main) close() error {
	var errs []error
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	for _, srv := range []*http.Server{m.HTTP, m.Redirect, m.Profiler} {
		if srv == nil {
			continue
		}
		if err := srv.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("http shutdown: %w", err))
		}
		if err := <-m.served; err != nil && !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, err)
		}
	}
	cancel()
	if m.Cron != nil {
		<-m.Cron.Stop().Done()
	}
	var drain sync.WaitGroup // both workers drain at once, within one timeout
	for _, w := range []*queue.Worker{m.Worker, m.Background} {
		if w != nil {
			drain.Go(w.Shutdown)
		}
	}
	drain.Wait()
	if m.cancel != nil {
		m.cancel()
	}
	if m.Sandbox != nil {
		m.Sandbox.Close()
	}
	if m.Queue != nil {
		errs = append(errs, m.Queue.Close())
	}
	if m.Inspector != nil {
		errs = append(errs, m.Inspector.Close())
	}
	if m.Store != nil {
		errs = append(errs, m.Store.Close())
	}
	if m.Redis != nil {
		errs = append(errs, m.Redis.Close())
	}
	return errors.Join(errs...)
}

// queueDepths is /metrics' aibud_queue_depth: tasks pending, running,
// scheduled or waiting to retry, per queue (0 for a queue Redis has not
// seen yet). Asynq's inspector takes no context; go-redis' timeouts bound it.
func (m *Main) queueDepths(ctx context.Context) (map[string]int, error) {
	known, err := m.Inspector.Queues()
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	for name := range queue.AllQueues() {
		out[name] = 0
	}
	for _, name := range known {
		info, err := m.Inspector.GetQueueInfo(name)
		if err != nil {
			return nil, err
		}
		out[name] = info.Pending + info.Active + info.Scheduled + info.Retry
	}
	return out, nil
}
