// Package evolutionsim simulates the Evolution API v2.3.7 WhatsApp gateway:
// its REST API, the close→connecting→open lifecycle with rotating QR codes,
// outbound sends with their status webhooks, inbound replies and poll votes,
// and webhook delivery with Evolution's retry policy. Aibud's tests, demos
// and load runs talk to it instead of a real gateway, so it reproduces the
// gateway's quirks (guard order, error envelopes, {"count":0} answers,
// "[object Object]" bodies) rather than an idealised API.
//
// The package deliberately imports nothing from the rest of Aibud: it stands
// in for the remote peer, and sharing types with the client under test would
// let a mistake on one side hide the same mistake on the other.
//
// Besides the Evolution routes, the handler serves a control API under
// /_sim/ (and the same actions as Go methods) that plays the phone side:
// scanning the QR, dropping the connection, replying and voting.
package evolutionsim

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Defaults are Evolution's own (env.config.ts and Baileys' qrTimeout), so a
// zero Config behaves like a stock gateway except where noted.
const (
	DefaultGlobalKey  = "BQYHJGJHJ"
	defaultQRInterval = 45 * time.Second
	defaultQRLimit    = 30
	defaultServerURL  = "http://localhost:8080"
	maxBodyBytes      = 136 << 20 // Evolution's JSON body limit
)

// RetryPolicy mirrors Evolution's retryWebhookRequest (v2.3.0 and later):
// exponential backoff with ±20% jitter, and a set of statuses that stop
// retrying at once. Zero fields take Evolution's defaults.
type RetryPolicy struct {
	MaxAttempts  int           // attempts in total, the first included; default 10
	Initial      time.Duration // delay before the second attempt, doubled each time; default 5s
	Max          time.Duration // cap on a single delay; default 300s
	NonRetryable []int         // statuses that end retries; default 400, 401, 403, 404, 422
	Timeout      time.Duration // per attempt; default 30s
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = 10
	}
	if p.Initial <= 0 {
		p.Initial = 5 * time.Second
	}
	if p.Max <= 0 {
		p.Max = 300 * time.Second
	}
	if p.NonRetryable == nil {
		p.NonRetryable = []int{400, 401, 403, 404, 422}
	}
	if p.Timeout <= 0 {
		p.Timeout = 30 * time.Second
	}
	return p
}

// Config tunes the simulator. The zero value is a usable gateway with
// Evolution's timings, except that ConnectWait and StatusStep default to zero
// so tests do not sleep.
type Config struct {
	GlobalKey    string        // AUTHENTICATION_API_KEY; default "BQYHJGJHJ", as Evolution falls back to
	QRInterval   time.Duration // how often a new QR is produced while connecting; default 45s
	QRLimit      int           // QRCODE_LIMIT; default 30, then "refused" and back to close
	ConnectWait  time.Duration // how long connect/create sleep after starting the socket (real: 2s/5s)
	EmptyFirstQR bool          // answer the first connect/create of an instance with {"count":0} (#1541, #2385)
	StatusStep   time.Duration // delay between SEND_MESSAGE, SERVER_ACK, DELIVERY_ACK and READ webhooks
	// AnswerDelay is the time between a message going out and the send
	// call's answer (Baileys' relay round trip). As in Evolution, a client
	// hanging up meanwhile does not stop the message.
	AnswerDelay  time.Duration
	WebhookRetry RetryPolicy  // delivery retries; zero fields take Evolution's defaults
	Duplicate    float64      // probability in [0,1] that a webhook is delivered twice
	Reorder      bool         // deliver an instance's webhooks out of order (small random delays)
	ServerURL    string       // "server_url" in webhook envelopes; default http://localhost:8080
	Logger       *slog.Logger // default discards
	Now          func() time.Time
	Seed         int64 // seeds ids, tokens and jitter; 0 picks a time-based seed
}

func (c Config) withDefaults() Config {
	if c.GlobalKey == "" {
		c.GlobalKey = DefaultGlobalKey
	}
	if c.QRInterval <= 0 {
		c.QRInterval = defaultQRInterval
	}
	if c.QRLimit <= 0 {
		c.QRLimit = defaultQRLimit
	}
	if c.ServerURL == "" {
		c.ServerURL = defaultServerURL
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	c.WebhookRetry = c.WebhookRetry.withDefaults()
	return c
}

// Sim is one simulated Evolution server. All state lives behind mu; the
// goroutines it starts (QR tickers, status steps, webhook deliveries) are
// tracked by wg, stopped through ctx and waited for by Close.
type Sim struct {
	cfg     Config
	log     *slog.Logger
	now     func() time.Time
	rnd     *lockedRand
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	hooks   *dispatcher
	handler http.Handler

	mu        sync.Mutex
	closed    bool
	seq       int64 // creation order, so fetchInstances is stable
	instances map[string]*instance
	lids      map[string]string // phone JID → stable @lid, for replies with LID addressing
	calls     []Call
	sent      []SentMessage
	failures  map[string]FailMode // by number digits
	latency   time.Duration
}

// New builds a simulator. It starts no goroutine: tickers and deliveries are
// started on demand and all of them are stopped by Close.
func New(cfg Config) *Sim {
	cfg = cfg.withDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	s := &Sim{
		cfg:       cfg,
		log:       cfg.Logger,
		now:       cfg.Now,
		rnd:       newLockedRand(cfg.Seed),
		ctx:       ctx,
		cancel:    cancel,
		instances: map[string]*instance{},
		lids:      map[string]string{},
		failures:  map[string]FailMode{},
	}
	s.hooks = newDispatcher(ctx, &s.wg, cfg, s.rnd)
	rest, control := http.NewServeMux(), http.NewServeMux()
	s.registerRESTRoutes(rest)
	s.registerControlRoutes(control)
	s.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/_sim/") {
			control.ServeHTTP(w, r)
			return
		}
		s.serveREST(w, r, rest)
	})
	return s
}

// Handler serves the Evolution REST API and, under /_sim/, the control API.
func (s *Sim) Handler() http.Handler { return s.handler }

// Close stops every goroutine the simulator owns (QR tickers, status steps,
// webhook deliveries and their retries) and waits for them. Pending webhooks
// are dropped, as a restarted Evolution drops its in-memory retries.
func (s *Sim) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.hooks.close()
	s.cancel()
	s.wg.Wait()
	s.hooks.closeIdle()
	return nil
}

// registerRESTRoutes lists the Evolution routes the simulator implements.
// The catch-all "/" answers like Evolution's own 404 handler, for any method,
// so a wrong method gets 404 "Cannot POST /x" rather than Go's 405.
func (s *Sim) registerRESTRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /{$}", s.handleWelcome)
	mux.HandleFunc("POST /instance/create", s.handleCreate)
	mux.HandleFunc("GET /instance/connect/{instance}", s.handleConnect)
	mux.HandleFunc("GET /instance/connectionState/{instance}", s.handleConnectionState)
	mux.HandleFunc("GET /instance/fetchInstances", s.handleFetchInstances)
	mux.HandleFunc("DELETE /instance/logout/{instance}", s.handleLogout)
	mux.HandleFunc("DELETE /instance/delete/{instance}", s.handleDelete)
	mux.HandleFunc("POST /instance/restart/{instance}", s.handleRestart)
	mux.HandleFunc("POST /webhook/set/{instance}", s.handleWebhookSet)
	mux.HandleFunc("GET /webhook/find/{instance}", s.handleWebhookFind)
	mux.HandleFunc("POST /chat/whatsappNumbers/{instance}", s.handleWhatsAppNumbers)
	mux.HandleFunc("POST /message/sendText/{instance}", s.handleSendText)
	mux.HandleFunc("POST /message/sendPoll/{instance}", s.handleSendPoll)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeEnvelope(w, http.StatusNotFound, []string{"Cannot " + r.Method + " " + r.URL.RequestURI()})
	})
}

// serveREST records the call for /_sim/calls, applies the configured
// latency and then routes it. The body is read once and replayed so the
// log holds exactly what the client sent.
func (s *Sim) serveREST(w http.ResponseWriter, r *http.Request, mux *http.ServeMux) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes))
	if err != nil {
		writeEnvelope(w, http.StatusBadRequest, []string{"request body could not be read"})
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	s.mu.Lock()
	s.calls = append(s.calls, Call{
		At:       s.now(),
		Method:   r.Method,
		Path:     r.URL.Path,
		Query:    r.URL.RawQuery,
		Instance: callInstance(r, body),
		Body:     rawJSON(body),
	})
	latency := s.latency
	s.mu.Unlock()
	if !s.hold(w, r, latency) {
		return
	}
	mux.ServeHTTP(w, r)
}

func (s *Sim) handleWelcome(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"status":             200,
		"message":            "Welcome to the Evolution API, it is working!",
		"version":            "2.3.7",
		"clientName":         "evolution",
		"manager":            s.cfg.ServerURL + "/manager",
		"documentation":      "https://doc.evolution-api.com",
		"whatsappWebVersion": "2.3000.1030831524",
	})
}

// spawnLocked runs fn on a goroutine owned by the Sim, unless the Sim is
// closed. Callers hold s.mu, which orders every wg.Add before Close's Wait.
func (s *Sim) spawnLocked(fn func(ctx context.Context)) bool {
	if s.closed {
		return false
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		fn(s.ctx)
	}()
	return true
}

// hold keeps a request open for d (typing delay, latency, connect wait).
// If the client goes away or the Sim is closing first, it answers 500 and
// reports false, and the handler must stop without side effects.
func (s *Sim) hold(w http.ResponseWriter, r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
	case <-s.ctx.Done():
	}
	writeEnvelope(w, http.StatusInternalServerError, []string{"Error: request interrupted"})
	return false
}

// sleepCtx sleeps for d unless ctx ends first; it reports whether it slept.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// callInstance names the instance a REST call is about: the last segment of
// /<group>/<action>/{instance}, the body of /instance/create, or the
// fetchInstances filter.
func callInstance(r *http.Request, body []byte) string {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if len(parts) == 3 {
		return parts[2]
	}
	if r.URL.Path == "/instance/create" {
		var b struct {
			InstanceName string `json:"instanceName"`
		}
		_ = json.Unmarshal(body, &b) // a broken body is logged as-is; the name is best effort
		return b.InstanceName
	}
	return r.URL.Query().Get("instanceName")
}

// rawJSON keeps a request body for the call log: valid JSON as is, anything
// else as a JSON string, nothing as null.
func rawJSON(body []byte) json.RawMessage {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	if json.Valid(body) {
		return json.RawMessage(bytes.Clone(body))
	}
	quoted, _ := json.Marshal(string(body)) // marshalling a string cannot fail
	return quoted
}

// isoMillis formats t as Evolution and Prisma do: UTC, milliseconds, "Z".
func isoMillis(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}
