// Package sandbox is the embedded default WhatsApp gateway, used when no
// Evolution API server is configured so that the whole product — linking a
// number, sending polls, collecting votes and replies — can be tried on one
// machine. Nothing reaches real WhatsApp and nothing leaves the process.
//
// Gateway implements tenants.Gateway and hands what a real gateway would post
// to the webhook to a Sink instead, so everything from the webhook onwards
// runs exactly as in production. A phone "scans" the QR code through Scan and
// contacts act through SimulateReply and SimulateVote: the UI's simulate
// buttons and the tests drive those.
//
// Every message sent goes sent → delivered → read, Config.StatusStep apart.
// To try the failure path, a recipient whose digits end in "000" (for example
// 5511999990000) is not on WhatsApp: the send fails as Evolution's does, with
// a *tenants.GatewayError (status 400) wrapping tenants.ErrNotOnWhatsApp.
package sandbox

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aibud/aibud/tenants"
)

// Sink receives the events the sandbox "gateway" produces, exactly as if a
// real gateway had posted them to the webhook with this token.
type Sink func(ctx context.Context, webhookToken string, events []tenants.GatewayEvent) error

// Config configures a Gateway. Zero values get the defaults in New.
type Config struct {
	ShardID    string        // the shard instances report; default "sandbox"
	StatusStep time.Duration // delay between sent→delivered→read; default 1 s
	Logger     *slog.Logger  // default slog.Default()
	Now        func() time.Time
}

// SentRecord is one message the sandbox accepted, kept so that the UI can
// show what "went out" and tests can check it without a phone.
type SentRecord struct {
	Instance string
	To       string
	ID       string
	Kind     string // "poll" or "text"
	Text     string // the poll's question or the text
	Options  []string
	Multiple bool
	QuoteID  string
	At       time.Time
}

// Sink retry policy: a real gateway retries its webhooks too, and an event
// lost here (a vote, a read receipt) would never come back.
const (
	sinkRetries = 3
	sinkBackoff = 50 * time.Millisecond
)

// errNoSink reports a Gateway used before SetSink: its events have nowhere
// to go, which is a wiring bug rather than a user error.
var errNoSink = errors.New("sandbox: no sink set")

// Gateway is an in-process WhatsApp gateway. It is safe for concurrent use.
type Gateway struct {
	shardID string
	step    time.Duration
	log     *slog.Logger
	now     func() time.Time

	// ctx is cancelled by Close; every sink call and background delivery
	// derives from it, so Close never waits on a slow sink.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu        sync.Mutex
	sink      Sink
	closed    bool
	instances map[string]*instance
	polls     map[string]*sentPoll // by message id, so votes can be checked
	sent      []SentRecord
	seq       uint64 // keeps connection events' dedupe keys apart
}

// New returns a running Gateway; call SetSink before use and Close when done.
func New(cfg Config) *Gateway {
	if cfg.ShardID == "" {
		cfg.ShardID = "sandbox"
	}
	if cfg.StatusStep <= 0 {
		cfg.StatusStep = time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Gateway{
		shardID: cfg.ShardID, step: cfg.StatusStep, log: cfg.Logger, now: cfg.Now,
		ctx: ctx, cancel: cancel,
		instances: map[string]*instance{},
		polls:     map[string]*sentPoll{},
	}
}

// SetSink sets where events go. It is separate from New because the sink
// (the webhook handler) is usually built after the gateway it will receive from.
func (g *Gateway) SetSink(s Sink) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.sink = s
}

// Close stops every background delivery and waits for it to end. Calls made
// after Close fail; Close may be called more than once.
func (g *Gateway) Close() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
	g.cancel()
	g.wg.Wait()
}

// Sent returns a copy of every message sent so far, oldest first.
func (g *Gateway) Sent() []SentRecord {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]SentRecord, len(g.sent))
	for i, r := range g.sent {
		r.Options = slices.Clone(r.Options)
		out[i] = r
	}
	return out
}

// goLocked runs fn on a goroutine the Gateway owns. The caller holds g.mu
// and has checked that the Gateway is not closed, so no goroutine can start
// after Close has begun waiting.
func (g *Gateway) goLocked(fn func(ctx context.Context)) {
	g.wg.Go(func() { fn(g.ctx) })
}

// emitLocked delivers ev in the background, as a real gateway's webhook
// arrives independently of the call that caused it. Port methods use it so
// that a sink which calls back into the domain can never deadlock its caller.
func (g *Gateway) emitLocked(webhookToken string, ev tenants.GatewayEvent) {
	g.goLocked(func(ctx context.Context) {
		if err := g.deliver(ctx, webhookToken, ev); err != nil {
			g.log.Warn("sandbox: event not delivered", "instance", ev.Instance, "kind", ev.Kind, "err", err)
		}
	})
}

// deliverNow delivers ev before returning, for the simulate calls: when the
// UI's button returns, the reply or vote is already recorded. It ends when
// either the caller gives up or the Gateway is closed.
func (g *Gateway) deliverNow(ctx context.Context, webhookToken string, ev tenants.GatewayEvent) error {
	joined, cancel := context.WithCancel(g.ctx)
	defer cancel()
	stop := context.AfterFunc(ctx, cancel)
	defer stop()
	return g.deliver(joined, webhookToken, ev)
}

// deliver hands ev to the sink, retrying a failing sink sinkRetries times
// with a doubling backoff.
func (g *Gateway) deliver(ctx context.Context, webhookToken string, ev tenants.GatewayEvent) error {
	g.mu.Lock()
	sink := g.sink
	g.mu.Unlock()
	if sink == nil {
		return errNoSink
	}
	wait := sinkBackoff
	for attempt := 1; ; attempt++ {
		err := sink(ctx, webhookToken, []tenants.GatewayEvent{ev})
		if err == nil {
			return nil
		}
		g.log.Warn("sandbox: sink failed", "instance", ev.Instance, "kind", ev.Kind,
			"dedupe", ev.DedupeKey, "attempt", attempt, "err", err)
		if attempt > sinkRetries || ctx.Err() != nil {
			return fmt.Errorf("sandbox: deliver %s: %w", ev.Kind, err)
		}
		if !sleep(ctx, wait) {
			return fmt.Errorf("sandbox: deliver %s: %w", ev.Kind, ctx.Err())
		}
		wait *= 2
	}
}

// sleep waits for d or until ctx ends, reporting whether the full d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// newMessageID returns "SBX" and 18 upper-case hex digits: random, so ids
// never collide across restarts, and marked so a sandbox id is recognisable
// next to real WhatsApp ids (3EB0…).
func newMessageID() string {
	b := make([]byte, 9)
	_, _ = rand.Read(b) // never fails (crypto/rand since Go 1.24)
	return "SBX" + strings.ToUpper(hex.EncodeToString(b))
}

// connectionEventLocked builds a connection event with a dedupe key that is
// unique per event, since connection changes carry no message id.
func (g *Gateway) connectionEventLocked(inst *instance, c tenants.ConnectionChange) tenants.GatewayEvent {
	g.seq++
	return tenants.GatewayEvent{
		Kind: tenants.EventConnection, Instance: inst.name,
		DedupeKey:  fmt.Sprintf("%s:%s:%s:%d", tenants.EventConnection, inst.name, c.State, g.seq),
		Connection: &c,
	}
}

// gatewayError builds the error a real gateway would have answered with.
func gatewayError(op string, status int, format string, args ...any) *tenants.GatewayError {
	return &tenants.GatewayError{Op: op, Status: status, Message: fmt.Sprintf(format, args...)}
}

// closedError answers calls made after Close. It is temporary because the
// next process (or a restarted gateway) will accept the call.
func closedError(op string) *tenants.GatewayError {
	return &tenants.GatewayError{Op: op, Status: http.StatusServiceUnavailable, Message: "sandbox gateway is closed", Temporary: true}
}
