package queue

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"

	"github.com/aibud/aibud/tenants"
	"github.com/hibiken/asynq"
)

// TypeHookDeliver is one attempt at an outgoing webhook delivery.
const TypeHookDeliver = "hook:deliver"

// Outgoing webhook delivery settings.
const (
	// hookMaxRetry with the domain's backoff (30 s doubling, at most 15
	// min) keeps trying for about an hour; then the delivery
	// fails and can be replayed from the log.
	hookMaxRetry = 8
	// HookTimeout bounds one POST to an endpoint, connection included.
	HookTimeout = 10 * time.Second
	// hookBodyLimit is how much of an endpoint's answer is read (and
	// thrown away) so that the connection can be reused.
	hookBodyLimit = 64 << 10
)

type hookPayload struct {
	TenantID   string `json:"tenant_id"`
	DeliveryID string `json:"delivery_id"`
}

// EnqueueHook implements tenants.HookQueue: one task per delivery with the
// delivery id as task id, so a delivery is never queued twice.
func (s Sender) EnqueueHook(ctx context.Context, tenantID, deliveryID string) error {
	payload, err := json.Marshal(hookPayload{TenantID: tenantID, DeliveryID: deliveryID})
	if err != nil {
		return err
	}
	_, err = s.Client.Enqueue(ctx, asynq.NewTask(TypeHookDeliver, payload), asynq.TaskID("hook:"+deliveryID),
		asynq.Queue(QueueHooks), asynq.MaxRetry(hookMaxRetry), asynq.Timeout(HookTimeout+20*time.Second))
	if errors.Is(err, asynq.ErrTaskIDConflict) {
		return nil
	}
	return err
}

// HookHandlers runs webhook deliveries against the domain.
type HookHandlers struct {
	Hooks  *tenants.Hooks
	Logger *slog.Logger
}

// Register adds the handler to the worker.
func (h *HookHandlers) Register(w *Worker) {
	w.Handle(TypeHookDeliver, asynq.HandlerFunc(h.handleDeliver))
}

// handleDeliver makes one attempt. The domain answers *RetryLater with its
// backoff (RetryDelay honours it); when the retries run out the delivery
// is marked failed.
func (h *HookHandlers) handleDeliver(ctx context.Context, t *asynq.Task) error {
	var p hookPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.TenantID == "" || p.DeliveryID == "" {
		return fmt.Errorf("bad %s payload %q: %w", TypeHookDeliver, t.Payload(), asynq.SkipRetry)
	}
	err := h.Hooks.Deliver(ctx, p.TenantID, p.DeliveryID)
	if err == nil || tenants.ErrorCode(err) == tenants.ENOTFOUND {
		return nil // delivered, finished before, or the tenant is gone
	}
	retried, _ := asynq.GetRetryCount(ctx)
	maxRetry, _ := asynq.GetMaxRetry(ctx)
	if retried >= maxRetry {
		if gerr := h.Hooks.GiveUp(ctx, p.TenantID, p.DeliveryID); gerr != nil {
			return errors.Join(err, gerr)
		}
		h.Logger.Info("webhook delivery failed for good", "tenant", p.TenantID, "delivery", p.DeliveryID, "err", err)
		return fmt.Errorf("%w: %w", err, asynq.SkipRetry)
	}
	return err
}

// HookSender implements tenants.HookSender with net/http. Unless private
// destinations are allowed, every connection is checked on the address
// actually dialled (the dialer's Control hook), so a host name that
// resolves to a public address when the URL is checked and to a private
// one a moment later (DNS rebinding) is still refused.
type HookSender struct {
	client *http.Client
}

// NewHookSender returns a sender; allowPrivate (AIBUD_WEBHOOKS_ALLOW_PRIVATE)
// lets it reach loopback and private networks.
func NewHookSender(allowPrivate bool) *HookSender {
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	if !allowPrivate {
		dialer.Control = refuseNonPublic
	}
	transport := &http.Transport{
		Proxy:                 nil, // a proxy would be what the dialer checks, not the endpoint
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: HookTimeout,
	}
	return &HookSender{client: &http.Client{
		Transport: transport,
		Timeout:   HookTimeout,
		// A redirect is an answer, not an instruction: 3xx is recorded as
		// a failed attempt and never followed to another address.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// refuseNonPublic is the dialer's Control: it runs after name resolution,
// on the IP address about to be connected to.
func refuseNonPublic(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return fmt.Errorf("%w: %q", tenants.ErrHookAddress, address)
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return fmt.Errorf("%w: %q is not an IP address", tenants.ErrHookAddress, host)
	}
	return tenants.HookAddressAllowed(ip)
}

// SendHook implements tenants.HookSender: it POSTs the body and returns
// the status; the answer's body is read (up to 64 KiB) and dropped.
func (s *HookSender) SendHook(ctx context.Context, r tenants.HookRequest) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.URL, bytes.NewReader(r.Body))
	if err != nil {
		return 0, fmt.Errorf("%w: %v", tenants.ErrHookAddress, err)
	}
	for k, v := range r.Header {
		req.Header.Set(k, v)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, hookBodyLimit))
	return resp.StatusCode, nil
}
