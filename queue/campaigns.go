package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aibud/aibud/tenants"
	"github.com/hibiken/asynq"
)

// Task types of poll campaigns.
const (
	TypeMessageSend        = "message:send"
	TypeCampaignsReconcile = "campaigns:reconcile"
)

// sendMaxRetry bounds how long a message waits for its number: with delays
// capped at maxRetryDelay, 60 retries is about fifteen hours.
const (
	sendMaxRetry  = 60
	maxRetryDelay = 15 * time.Minute
)

type messagePayload struct {
	TenantID string `json:"tenant_id"`
	PollID   string `json:"poll_id"`
	Phone    string `json:"phone"`
}

// Sender implements tenants.MessageQueue on Asynq.
type Sender struct {
	Client *Client
}

// EnqueueSend queues the message's send at its due time with the message id
// as task id; a message already in the queue is not queued again.
func (s Sender) EnqueueSend(ctx context.Context, tenantID string, m tenants.Message) error {
	payload, err := json.Marshal(messagePayload{TenantID: tenantID, PollID: m.PollID, Phone: m.Phone})
	if err != nil {
		return err
	}
	task := asynq.NewTask(TypeMessageSend, payload)
	_, err = s.Client.Enqueue(ctx, task, asynq.TaskID(m.ID), asynq.ProcessAt(m.DueAt), asynq.Queue(QueueDefault),
		asynq.MaxRetry(sendMaxRetry), asynq.Timeout(2*time.Minute))
	if errors.Is(err, asynq.ErrTaskIDConflict) {
		return nil
	}
	return err
}

// CampaignHandlers runs campaign tasks against the domain.
type CampaignHandlers struct {
	Campaigns *tenants.Campaigns
	Active    tenants.ActiveCampaigns
	Logger    *slog.Logger
}

// Register adds the handlers to the worker.
func (h *CampaignHandlers) Register(w *Worker) {
	w.Handle(TypeMessageSend, asynq.HandlerFunc(h.handleSend))
	w.Handle(TypeCampaignsReconcile, asynq.HandlerFunc(h.handleReconcile))
}

// handleSend delivers one message. When its retries run out the message
// fails and its credit is refunded, so no credit waits forever.
func (h *CampaignHandlers) handleSend(ctx context.Context, t *asynq.Task) error {
	var p messagePayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.TenantID == "" || p.PollID == "" || p.Phone == "" {
		return fmt.Errorf("bad %s payload %q: %w", TypeMessageSend, t.Payload(), asynq.SkipRetry)
	}
	err := h.Campaigns.Deliver(ctx, p.TenantID, p.PollID, p.Phone)
	if err == nil {
		return nil
	}
	retried, _ := asynq.GetRetryCount(ctx)
	maxRetry, _ := asynq.GetMaxRetry(ctx)
	if retried >= maxRetry {
		reason := "gave up after retries: " + err.Error()
		if gerr := h.Campaigns.GiveUp(ctx, p.TenantID, p.PollID, p.Phone, reason); gerr != nil {
			return errors.Join(err, gerr)
		}
		return fmt.Errorf("%w: %w", err, asynq.SkipRetry)
	}
	return err
}

// RetryDelay honours a domain's "retry later" wait, capped, and backs off
// exponentially otherwise.
func RetryDelay(n int, err error, t *asynq.Task) time.Duration {
	if r, ok := tenants.IsRetryLater(err); ok && r.After > 0 {
		return min(r.After, maxRetryDelay)
	}
	return min(asynq.DefaultRetryDelayFunc(n, err, t), maxRetryDelay)
}

// NewReconcileTask is the periodic reconcile pass; unique for its period so
// several schedulers never run it twice.
func NewReconcileTask() *asynq.Task { return asynq.NewTask(TypeCampaignsReconcile, nil) }

func (h *CampaignHandlers) handleReconcile(ctx context.Context, _ *asynq.Task) error {
	return h.ReconcileAll(ctx)
}

// ReconcileAll reconciles every tenant with campaigns in flight.
func (h *CampaignHandlers) ReconcileAll(ctx context.Context) error {
	ids, err := h.Active.ActiveTenants(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, id := range ids {
		n, err := h.Campaigns.Reconcile(ctx, id)
		if err != nil {
			errs = append(errs, fmt.Errorf("tenant %s: %w", id, err))
			continue
		}
		if n > 0 {
			h.Logger.Info("reconciled campaigns", "tenant", id, "requeued", n)
		}
	}
	return errors.Join(errs...)
}
