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

// Task types of poll campaigns and replies.
const (
	TypeMessageSend        = "message:send"
	TypeCampaignsReconcile = "campaigns:reconcile"
	TypeReplyClassify      = "reply:classify"
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
	_, err = s.Client.Enqueue(ctx, task, asynq.TaskID(m.ID), asynq.ProcessAt(notBefore(m.DueAt)), asynq.Queue(QueueDefault),
		asynq.MaxRetry(sendMaxRetry), asynq.Timeout(2*time.Minute))
	if errors.Is(err, asynq.ErrTaskIDConflict) {
		return nil
	}
	return err
}

// notBefore rounds a due time up to a whole second: Asynq keeps scheduled
// times in whole seconds and would otherwise run a task up to a second
// early — before a scheduled campaign's start or a pacing gap's end.
func notBefore(t time.Time) time.Time {
	if r := t.Truncate(time.Second); !r.Equal(t) {
		return r.Add(time.Second)
	}
	return t
}

// CampaignHandlers runs campaign and reply tasks against the domain.
type CampaignHandlers struct {
	Campaigns *tenants.Campaigns
	Inbox     *tenants.Inbox
	Hooks     *tenants.Hooks // nil: no webhook deliveries to requeue
	Active    tenants.ActiveCampaigns
	Logger    *slog.Logger
}

// Register adds the handlers to the worker.
func (h *CampaignHandlers) Register(w *Worker) {
	w.Handle(TypeMessageSend, asynq.HandlerFunc(h.handleSend))
	w.Handle(TypeCampaignsReconcile, asynq.HandlerFunc(h.handleReconcile))
	w.Handle(TypeReplyClassify, asynq.HandlerFunc(h.handleClassify))
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
	if errors.Is(err, asynq.ErrLeaseExpired) {
		// Its worker died mid-task (a crash, a kill) and Asynq's recoverer
		// found it a minute or so later: run it again at once. The handlers
		// are idempotent, and a send cut off mid-call waits for the
		// gateway's echo itself.
		return time.Second
	}
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
		if err := h.reconcile(ctx, id); err != nil {
			errs = append(errs, fmt.Errorf("tenant %s: %w", id, err))
		}
	}
	return errors.Join(errs...)
}

// reconcile requeues one tenant's unsent messages and unread replies, and
// takes it off the active list once nothing is in flight.
func (h *CampaignHandlers) reconcile(ctx context.Context, tenantID string) error {
	n, busy, err := h.Campaigns.Reconcile(ctx, tenantID)
	if tenants.ErrorCode(err) == tenants.ENOTFOUND {
		return h.Active.MarkActive(ctx, tenantID, false) // erased
	} else if err != nil {
		return err
	}
	waiting := 0
	if h.Inbox != nil {
		if waiting, err = h.Inbox.Sweep(ctx, tenantID); err != nil {
			return err
		}
	}
	if h.Hooks != nil {
		if hooks, err := h.Hooks.Requeue(ctx, tenantID); err != nil {
			return err
		} else if hooks > 0 {
			h.Logger.Info("webhook deliveries requeued", "tenant", tenantID, "deliveries", hooks)
		}
	}
	if n > 0 || waiting > 0 {
		h.Logger.Info("reconciled", "tenant", tenantID, "messages_requeued", n, "replies_requeued", waiting)
	}
	if !busy && waiting == 0 {
		return h.Active.MarkActive(ctx, tenantID, false)
	}
	return nil
}

type replyPayload struct {
	TenantID string `json:"tenant_id"`
	ReplyID  string `json:"reply_id"`
}

// EnqueueClassify implements tenants.ReplyQueue: one task per reply on the
// low queue (sends and webhooks come first), the reply id as task id.
func (s Sender) EnqueueClassify(ctx context.Context, tenantID, replyID string) error {
	payload, err := json.Marshal(replyPayload{TenantID: tenantID, ReplyID: replyID})
	if err != nil {
		return err
	}
	_, err = s.Client.Enqueue(ctx, asynq.NewTask(TypeReplyClassify, payload), asynq.TaskID("classify:"+tenantID+":"+replyID),
		asynq.Queue(QueueLow), asynq.MaxRetry(10), asynq.Timeout(time.Minute))
	if errors.Is(err, asynq.ErrTaskIDConflict) {
		return nil
	}
	return err
}

func (h *CampaignHandlers) handleClassify(ctx context.Context, t *asynq.Task) error {
	var p replyPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.TenantID == "" || p.ReplyID == "" {
		return fmt.Errorf("bad %s payload: %w", TypeReplyClassify, asynq.SkipRetry)
	}
	err := h.Inbox.Classify(ctx, p.TenantID, p.ReplyID)
	if tenants.ErrorCode(err) == tenants.ENOTFOUND {
		return nil // erased meanwhile
	}
	return err
}
