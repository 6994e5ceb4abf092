package tenants

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"time"
)

// Outgoing webhook events: what a tenant's own systems (a CRM, a sheet, a
// bot) can be told about as it happens. The data of each is a *Data type
// below; hooks_send.go signs and delivers them.
const (
	HookPollVoted         = "poll.voted"
	HookReplyClassified   = "reply.classified"
	HookContactOptedOut   = "contact.opted_out"
	HookCampaignCompleted = "campaign.completed"
	HookCreditsLow        = "credits.low"
)

// HookEvents lists every event an endpoint can subscribe to.
var HookEvents = []string{HookPollVoted, HookReplyClassified, HookContactOptedOut, HookCampaignCompleted, HookCreditsLow}

// Limits of outgoing webhooks.
const (
	MaxHookEndpoints   = 10
	maxHookURLLen      = 2000
	DefaultHookHistory = 50
)

// Endpoint is a URL of the tenant's that receives events, signed with its
// secret. The secret is shown once, when the endpoint is created.
type Endpoint struct {
	ID        string    `json:"id"`
	URL       string    `json:"url"`
	Secret    string    `json:"secret"`
	Events    []string  `json:"events"`
	CreatedAt time.Time `json:"created_at"`
	Disabled  bool      `json:"disabled,omitempty"`
}

// Wants reports whether the endpoint is on and subscribed to event.
func (e Endpoint) Wants(event string) bool { return !e.Disabled && slices.Contains(e.Events, event) }

// SecretHint is the start of the secret, enough to tell two apart.
func (e Endpoint) SecretHint() string {
	if len(e.Secret) < 10 {
		return ""
	}
	return e.Secret[:10] + "…"
}

// DeliveryStatus is where one delivery of an event to an endpoint stands.
type DeliveryStatus string

const (
	DeliveryPending   DeliveryStatus = "pending"   // queued or waiting for a retry
	DeliveryDelivered DeliveryStatus = "delivered" // the endpoint answered 2xx
	DeliveryFailed    DeliveryStatus = "failed"    // retries ran out, or refused for good
)

// Delivery is one event on its way to one endpoint. Body is fixed when the
// event happens, so every attempt and every replay sends the same bytes.
type Delivery struct {
	ID            string          `json:"id"`
	EndpointID    string          `json:"endpoint_id"`
	EventID       string          `json:"event_id"` // the same for replays: receivers dedupe on it
	Event         string          `json:"event"`
	Body          json.RawMessage `json:"body"`
	Status        DeliveryStatus  `json:"status"`
	Attempts      int             `json:"attempts"`
	LastCode      int             `json:"last_code,omitempty"` // HTTP status of the last attempt; 0: no answer
	LastError     string          `json:"last_error,omitempty"`
	CreatedAt     time.Time       `json:"created_at"`
	LastAttemptAt time.Time       `json:"last_attempt_at,omitzero"`
	NextAttemptAt time.Time       `json:"next_attempt_at,omitzero"`
	ReplayOf      string          `json:"replay_of,omitempty"`
}

// HookStore keeps a tenant's endpoints and their delivery log.
type HookStore interface {
	// AddEndpoint stores a new endpoint unless the tenant has limit already.
	AddEndpoint(ctx context.Context, tenantID string, ep Endpoint, limit int) error
	Endpoints(ctx context.Context, tenantID string) ([]Endpoint, error)
	Endpoint(ctx context.Context, tenantID, id string) (Endpoint, error)
	UpdateEndpoint(ctx context.Context, tenantID, id string, fn func(*Endpoint) error) (Endpoint, error)
	DeleteEndpoint(ctx context.Context, tenantID, id string) error
	// PutDeliveries stores new deliveries as pending, in one transaction.
	PutDeliveries(ctx context.Context, tenantID string, ds []Delivery) error
	Delivery(ctx context.Context, tenantID, id string) (Delivery, error)
	UpdateDelivery(ctx context.Context, tenantID, id string, fn func(*Delivery) error) (Delivery, error)
	// Deliveries lists the newest first, of one endpoint or ("") of all.
	Deliveries(ctx context.Context, tenantID, endpointID string, limit int) ([]Delivery, error)
	// PendingDeliveries lists the ids of deliveries still pending.
	PendingDeliveries(ctx context.Context, tenantID string) ([]string, error)
}

// HookQueue queues one delivery attempt; the queue retries it.
type HookQueue interface {
	EnqueueHook(ctx context.Context, tenantID, deliveryID string) error
}

// HookRequest is one signed POST to an endpoint.
type HookRequest struct {
	URL    string
	Header map[string]string
	Body   []byte
}

// HookSender posts a request and returns the HTTP status. It must refuse
// (with an error wrapping ErrHookAddress) to connect to an address
// HookAddressAllowed refuses, checked on the connection itself so that a
// name re-resolving to a private address is caught too.
type HookSender interface {
	SendHook(ctx context.Context, req HookRequest) (status int, err error)
}

// Resolver looks host names up; *net.Resolver implements it.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Hooks is the outgoing webhooks use case: endpoints, events, signed
// deliveries with retries, and the delivery log with replay.
type Hooks struct {
	Store    HookStore
	Queue    HookQueue
	Sender   HookSender
	Resolver Resolver // nil: net.DefaultResolver
	// AllowPrivate lets endpoints point at loopback and private networks
	// (AIBUD_WEBHOOKS_ALLOW_PRIVATE); off, the feature cannot be used to
	// probe the server's own network.
	AllowPrivate bool
	// Backoff is the wait before retry n (1, 2, …); nil doubles from 30 s
	// up to 15 minutes.
	Backoff func(attempt int) time.Duration
	NewID   func() string
	Now     func() time.Time
	Logger  *slog.Logger
}

// Create adds an endpoint for the events given; its URL must be http(s)
// and, unless AllowPrivate, resolve to public addresses only. The secret in
// the answer is never shown again.
func (h *Hooks) Create(ctx context.Context, tenantID, rawURL string, events []string) (Endpoint, error) {
	evs, err := validEvents(events)
	if err != nil {
		return Endpoint{}, err
	}
	u, err := h.checkURL(ctx, rawURL)
	if err != nil {
		return Endpoint{}, err
	}
	secret, err := newHookSecret()
	if err != nil {
		return Endpoint{}, err
	}
	ep := Endpoint{ID: h.NewID(), URL: u, Secret: secret, Events: evs, CreatedAt: h.Now().UTC()}
	if err := h.Store.AddEndpoint(ctx, tenantID, ep, MaxHookEndpoints); err != nil {
		return Endpoint{}, err
	}
	h.Logger.Info("webhook endpoint added", "tenant", tenantID, "endpoint", ep.ID, "events", evs)
	return ep, nil
}

func validEvents(events []string) ([]string, error) {
	var out []string
	for _, ev := range events {
		if !slices.Contains(HookEvents, ev) {
			return nil, Invalid("events", "Unknown event %q; the events are %v.", ev, HookEvents)
		}
		if !slices.Contains(out, ev) {
			out = append(out, ev)
		}
	}
	if len(out) == 0 {
		return nil, Invalid("events", "Choose at least one event.")
	}
	return out, nil
}

func newHookSecret() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("tenants.newHookSecret: %w", err)
	}
	return "whsec_" + hex.EncodeToString(b), nil
}

// List returns the tenant's endpoints, oldest first.
func (h *Hooks) List(ctx context.Context, tenantID string) ([]Endpoint, error) {
	return h.Store.Endpoints(ctx, tenantID)
}

// Delete removes an endpoint; deliveries still queued for it are dropped.
func (h *Hooks) Delete(ctx context.Context, tenantID, id string) error {
	if _, err := h.Store.Endpoint(ctx, tenantID, id); err != nil {
		return err
	}
	return h.Store.DeleteEndpoint(ctx, tenantID, id)
}

// SetDisabled pauses or resumes an endpoint; paused, it gets no new events.
func (h *Hooks) SetDisabled(ctx context.Context, tenantID, id string, disabled bool) (Endpoint, error) {
	return h.Store.UpdateEndpoint(ctx, tenantID, id, func(ep *Endpoint) error { ep.Disabled = disabled; return nil })
}

// Deliveries is the delivery log, newest first: of one endpoint, or of all
// when endpointID is empty.
func (h *Hooks) Deliveries(ctx context.Context, tenantID, endpointID string, limit int) ([]Delivery, error) {
	if endpointID != "" {
		if _, err := h.Store.Endpoint(ctx, tenantID, endpointID); err != nil {
			return nil, err
		}
	}
	if limit <= 0 || limit > 200 {
		limit = DefaultHookHistory
	}
	return h.Store.Deliveries(ctx, tenantID, endpointID, limit)
}

// hookEnvelope is the body of every delivery.
type hookEnvelope struct {
	ID        string    `json:"id"`
	Event     string    `json:"event"`
	CreatedAt time.Time `json:"created_at"`
	TenantID  string    `json:"tenant_id"`
	Data      any       `json:"data"`
}

// Emit tells every endpoint of the tenant subscribed to event: the body is
// stored with one pending delivery per endpoint, then each is queued. A
// nil *Hooks emits nothing. Callers log an error and carry on: a webhook
// never fails the operation that caused it. A delivery that could not be
// queued stays pending and Requeue finds it.
func (h *Hooks) Emit(ctx context.Context, tenantID, event string, data any) error {
	if h == nil {
		return nil
	}
	if !slices.Contains(HookEvents, event) {
		return fmt.Errorf("tenants.Emit: unknown event %q", event)
	}
	eps, err := h.Store.Endpoints(ctx, tenantID)
	if err != nil {
		return fmt.Errorf("tenants.Emit %s: %w", event, err)
	}
	eps = slices.DeleteFunc(eps, func(ep Endpoint) bool { return !ep.Wants(event) })
	if len(eps) == 0 {
		return nil
	}
	now, eventID := h.Now().UTC(), "evt_"+h.NewID()
	body, err := json.Marshal(hookEnvelope{ID: eventID, Event: event, CreatedAt: now, TenantID: tenantID, Data: data})
	if err != nil {
		return fmt.Errorf("tenants.Emit %s: %w", event, err)
	}
	ds := make([]Delivery, len(eps))
	for i, ep := range eps {
		ds[i] = Delivery{ID: h.NewID(), EndpointID: ep.ID, EventID: eventID, Event: event, Body: body, Status: DeliveryPending, CreatedAt: now}
	}
	if err := h.Store.PutDeliveries(ctx, tenantID, ds); err != nil {
		return fmt.Errorf("tenants.Emit %s: %w", event, err)
	}
	h.enqueue(ctx, tenantID, ds)
	return nil
}

// Notify is Emit for the places events happen: a failure is logged, never
// returned, so a webhook cannot fail a vote, a reply or a send.
func (h *Hooks) Notify(ctx context.Context, tenantID, event string, data any) {
	if err := h.Emit(ctx, tenantID, event, data); err != nil {
		h.Logger.Warn("webhook event not recorded", "tenant", tenantID, "event", event, "err", err)
	}
}

func (h *Hooks) enqueue(ctx context.Context, tenantID string, ds []Delivery) {
	for _, d := range ds {
		if err := h.Queue.EnqueueHook(ctx, tenantID, d.ID); err != nil {
			h.Logger.Warn("webhook delivery not queued; it stays pending", "tenant", tenantID, "delivery", d.ID, "err", err)
		}
	}
}

// Replay sends a finished delivery again as a new delivery with the same
// body and event id. A delivery still pending is being retried already.
func (h *Hooks) Replay(ctx context.Context, tenantID, deliveryID string) (Delivery, error) {
	d, err := h.Store.Delivery(ctx, tenantID, deliveryID)
	if err != nil {
		return Delivery{}, err
	}
	if d.Status == DeliveryPending {
		return Delivery{}, Errorf(ECONFLICT, "This delivery is still being retried; replay it once it has succeeded or failed.")
	}
	ep, err := h.Store.Endpoint(ctx, tenantID, d.EndpointID)
	if ErrorCode(err) == ENOTFOUND {
		return Delivery{}, Errorf(ECONFLICT, "The endpoint of this delivery was deleted.")
	} else if err != nil {
		return Delivery{}, err
	}
	if ep.Disabled {
		return Delivery{}, Errorf(ECONFLICT, "The endpoint is paused; resume it to replay.")
	}
	nd := Delivery{ID: h.NewID(), EndpointID: d.EndpointID, EventID: d.EventID, Event: d.Event, Body: d.Body,
		Status: DeliveryPending, CreatedAt: h.Now().UTC(), ReplayOf: d.ID}
	if err := h.Store.PutDeliveries(ctx, tenantID, []Delivery{nd}); err != nil {
		return Delivery{}, err
	}
	h.enqueue(ctx, tenantID, []Delivery{nd})
	return nd, nil
}

// Requeue queues every pending delivery of the tenant again, e.g. after
// Redis lost its tasks; the queue's task id stops doubles.
func (h *Hooks) Requeue(ctx context.Context, tenantID string) (int, error) {
	ids, err := h.Store.PendingDeliveries(ctx, tenantID)
	if err != nil {
		return 0, err
	}
	for _, id := range ids {
		if err := h.Queue.EnqueueHook(ctx, tenantID, id); err != nil {
			return 0, err
		}
	}
	return len(ids), nil
}
