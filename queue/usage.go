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

// TypeUsageSnapshot writes one tenant's daily usage snapshots.
const TypeUsageSnapshot = "usage:snapshot"

// usageRetention keeps a finished snapshot task's id for two days, so a
// second scheduler enqueuing the same tenant and day is refused.
const usageRetention = 48 * time.Hour

type usagePayload struct {
	TenantID string `json:"tenant_id"`
	Day      string `json:"day"`
}

// UsageScheduler enqueues the daily snapshot of every tenant. Task ids name
// tenant and day, so any number of schedulers (one per node) make one task
// per tenant per day.
type UsageScheduler struct {
	Client  *Client
	Tenants interface {
		ListTenants(ctx context.Context) ([]tenants.Tenant, error)
	}
	Now    func() time.Time
	Logger *slog.Logger
}

// EnqueueAll queues today's snapshot task of every tenant and returns how
// many were new.
func (u *UsageScheduler) EnqueueAll(ctx context.Context) (int, error) {
	list, err := u.Tenants.ListTenants(ctx)
	if err != nil {
		return 0, err
	}
	day := u.Now().UTC().Format(time.DateOnly)
	n := 0
	for _, t := range list {
		payload, _ := json.Marshal(usagePayload{TenantID: t.ID, Day: day})
		_, err := u.Client.Enqueue(ctx, asynq.NewTask(TypeUsageSnapshot, payload),
			asynq.TaskID("usage:"+t.ID+":"+day), asynq.Retention(usageRetention), asynq.Queue(QueueLow), asynq.MaxRetry(5))
		switch {
		case errors.Is(err, asynq.ErrTaskIDConflict):
		case err != nil:
			return n, fmt.Errorf("enqueue usage snapshot %s: %w", t.ID, err)
		default:
			n++
		}
	}
	return n, nil
}

// UsageHandler runs the daily per-tenant task: usage snapshots, and a
// cancelled subscription ending at its period end.
type UsageHandler struct {
	Usage   *tenants.Usage
	Billing *tenants.Billing // nil: no plan expiry
}

// Register adds the handler to the worker.
func (h *UsageHandler) Register(w *Worker) {
	w.Handle(TypeUsageSnapshot, asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
		var p usagePayload
		if err := json.Unmarshal(t.Payload(), &p); err != nil || p.TenantID == "" {
			return fmt.Errorf("bad %s payload: %w", TypeUsageSnapshot, asynq.SkipRetry)
		}
		_, err := h.Usage.Snapshot(ctx, p.TenantID)
		if tenants.ErrorCode(err) == tenants.ENOTFOUND {
			return nil // the tenant was erased since
		}
		if err == nil && h.Billing != nil {
			_, err = h.Billing.ExpirePlan(ctx, p.TenantID)
		}
		return err
	}))
}
