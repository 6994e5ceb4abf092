package tenants

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"
)

// MessageQueue delivers send work: one task per message, with the message
// id as task id (so a message is never queued twice) and run at its due time.
type MessageQueue interface {
	EnqueueSend(ctx context.Context, tenantID string, m Message) error
}

// Campaigns is the poll campaign use case: compose, price, send, pace,
// deliver, cancel and report.
type Campaigns struct {
	Catalog   Catalog
	Polls     PollStore
	Contacts  ContactStore
	Phones    PhoneNormalizer
	Instances InstanceStore
	Shards    ShardCatalog
	Gateways  Gateways
	Credits   Credits
	Queue     MessageQueue
	Active    ActiveCampaigns
	Hooks     *Hooks // nil: no outgoing webhooks
	Pacing    Pacing
	NewID     func() string
	Now       func() time.Time
	Rand      func() float64 // jitter; nil uses math/rand
	Metrics   Metrics        // nil: not counted
	// RetryBackoff is the wait before retrying a send that failed for a
	// temporary reason (default 10 s).
	RetryBackoff time.Duration
	// SendConfirmWindow is how long a send interrupted without an answer
	// waits for the gateway's echo before it is sent again
	// (default DefaultSendConfirmWindow).
	SendConfirmWindow time.Duration
	// BreakerPause is how long a number rests after several failed sends
	// in a row (default DefaultBreakerPause).
	BreakerPause time.Duration
	Logger       *slog.Logger
}

// Preview is what a poll would cost before it is sent.
type Preview struct {
	Recipients int            `json:"recipients"`
	Cost       int64          `json:"cost"`
	Excluded   map[string]int `json:"excluded"` // reason → count: opted_out, invalid, duplicate
	phones     []string
}

// Exclusion reasons in a preview.
const (
	ExcludedOptedOut  = "opted_out"
	ExcludedInvalid   = "invalid"
	ExcludedDuplicate = "duplicate"
)

// Preview resolves the audience and prices it: one credit per recipient.
func (c *Campaigns) Preview(ctx context.Context, t Tenant, in PollInput) (Preview, error) {
	if err := in.Validate(); err != nil {
		return Preview{}, err
	}
	if _, err := c.Instances.Instance(ctx, t.ID, in.InstanceID); ErrorCode(err) == ENOTFOUND {
		return Preview{}, Invalid("instance_id", "That WhatsApp number does not exist.")
	} else if err != nil {
		return Preview{}, err
	}
	return c.resolve(ctx, t, in.Audience)
}

func (c *Campaigns) resolve(ctx context.Context, t Tenant, a Audience) (Preview, error) {
	pv := Preview{Excluded: map[string]int{}}
	seen := map[string]bool{}
	add := func(phone string, optedOut bool) {
		switch {
		case seen[phone]:
			pv.Excluded[ExcludedDuplicate]++
		case optedOut:
			seen[phone] = true
			pv.Excluded[ExcludedOptedOut]++
		default:
			seen[phone] = true
			pv.phones = append(pv.phones, phone)
		}
	}
	if len(a.Phones) > 0 {
		for _, raw := range a.Phones {
			phone, err := c.Phones.Normalize(raw, t.RegionOrDefault())
			if err != nil {
				pv.Excluded[ExcludedInvalid]++
				continue
			}
			ct, err := c.Contacts.Contact(ctx, t.ID, phone)
			if err != nil && ErrorCode(err) != ENOTFOUND {
				return pv, err
			}
			add(phone, err == nil && ct.OptedOut)
		}
	} else {
		err := c.Contacts.ForEachContact(ctx, t.ID, a.Tag, func(ct Contact) error {
			add(ct.Phone, ct.OptedOut)
			return nil
		})
		if err != nil {
			return pv, err
		}
	}
	pv.Recipients, pv.Cost = len(pv.phones), int64(len(pv.phones))
	return pv, nil
}

// Create stores a draft poll and prices it.
func (c *Campaigns) Create(ctx context.Context, t Tenant, in PollInput) (Poll, Preview, error) {
	if err := in.Validate(); err != nil {
		return Poll{}, Preview{}, err
	}
	if _, err := c.Instances.Instance(ctx, t.ID, in.InstanceID); err != nil {
		if ErrorCode(err) == ENOTFOUND {
			return Poll{}, Preview{}, Invalid("instance_id", "That WhatsApp number does not exist.")
		}
		return Poll{}, Preview{}, err
	}
	pv, err := c.resolve(ctx, t, in.Audience)
	if err != nil {
		return Poll{}, Preview{}, err
	}
	p := Poll{ID: c.NewID(), TenantID: t.ID, Question: in.Question, Options: in.Options, Multiple: in.Multiple,
		InstanceID: in.InstanceID, Audience: in.Audience, Status: PollDraft, CreatedAt: c.Now().UTC()}
	if err := c.Polls.PutPoll(ctx, p); err != nil {
		return Poll{}, Preview{}, err
	}
	return p, pv, nil
}

// SendResult is the answer to "send": what was queued, skipped and reserved.
type SendResult struct {
	Queued          int   `json:"queued"`
	Skipped         int   `json:"skipped"`
	CreditsReserved int64 `json:"credits_reserved"`
}

// Send reserves the credits for every recipient in one step (refused whole
// when short), writes one paced message per recipient and queues them. at
// (zero = now) schedules the first send. The audience is fixed first, then
// credits are reserved, then messages are written: every step is
// idempotent, so Reconcile can finish a dispatch a crash interrupted and
// the messages always match the reservation.
func (c *Campaigns) Send(ctx context.Context, t Tenant, pollID string, at time.Time) (SendResult, error) {
	if t.Status != TenantActive {
		return SendResult{}, Errorf(EFORBIDDEN, "This account is suspended; sending is paused.")
	}
	p, err := c.Polls.Poll(ctx, t.ID, pollID)
	if err != nil {
		return SendResult{}, err
	}
	now := c.Now().UTC()
	if !at.IsZero() && at.Before(now.Add(-time.Minute)) {
		return SendResult{}, Invalid("at", "The send time is in the past.")
	}
	if p.Status != PollDraft {
		return SendResult{}, Errorf(ECONFLICT, "This poll was already sent.")
	}
	in, err := c.Instances.Instance(ctx, t.ID, p.InstanceID)
	if err != nil {
		return SendResult{}, err
	}
	if in.State != StateOpen {
		return SendResult{}, Errorf(ECONFLICT, "The number %q is not connected. Connect it in Settings, then send.", in.Name)
	}
	pv, err := c.resolve(ctx, t, p.Audience)
	if err != nil {
		return SendResult{}, err
	}
	if pv.Recipients == 0 {
		return SendResult{}, Invalid("audience", "Nobody to send to: the audience is empty or everyone in it opted out.")
	}
	if bal, err := c.Credits.Balance(ctx, t.ID); err != nil {
		return SendResult{}, err
	} else if bal < pv.Cost {
		return SendResult{}, &InsufficientCreditsError{Balance: bal, Need: pv.Cost}
	}
	if err := c.Polls.PutAudience(ctx, t.ID, p.ID, pv.phones); err != nil {
		return SendResult{}, err
	}
	p, err = c.Polls.UpdatePoll(ctx, t.ID, p.ID, func(cur *Poll) error {
		if cur.Status != PollDraft {
			return Errorf(ECONFLICT, "This poll was already sent.")
		}
		cur.Status, cur.Recipients, cur.CreditsReserved, cur.DispatchedAt = PollDispatching, pv.Recipients, pv.Cost, now
		if !at.IsZero() {
			cur.ScheduledAt = at.UTC()
		}
		return nil
	})
	if err != nil {
		return SendResult{}, err
	}
	queued, err := c.dispatch(ctx, t, p, in, pv.phones)
	if err != nil {
		return SendResult{}, err
	}
	skipped := 0
	for _, n := range pv.Excluded {
		skipped += n
	}
	return SendResult{Queued: queued, Skipped: skipped, CreditsReserved: pv.Cost}, nil
}

// resume finishes a dispatch that stopped half-way, with the audience
// fixed when it started.
func (c *Campaigns) resume(ctx context.Context, t Tenant, p Poll) error {
	phones, err := c.Polls.Audience(ctx, t.ID, p.ID)
	if err != nil {
		return err
	}
	in, err := c.Instances.Instance(ctx, t.ID, p.InstanceID)
	if err != nil {
		return err
	}
	_, err = c.dispatch(ctx, t, p, in, phones)
	return err
}

// dispatch writes the paced messages and queues them. Queue failures are
// logged, not returned: the messages are stored as queued and the
// reconciler enqueues them once Redis answers.
func (c *Campaigns) dispatch(ctx context.Context, t Tenant, p Poll, in Instance, phones []string) (int, error) {
	earliest := c.Now().UTC()
	if p.ScheduledAt.After(earliest) {
		earliest = p.ScheduledAt
	}
	entry, err := c.Credits.Reserve(ctx, t.ID, p.ReservationRef(), int64(len(phones)))
	if err == nil && CrossedLowBalance(entry.BalanceAfter-entry.Delta, entry.BalanceAfter) {
		c.Hooks.Notify(ctx, t.ID, HookCreditsLow, LowBalanceData(entry.BalanceAfter))
	}
	if err != nil {
		if errors.Is(err, ErrInsufficientCredits) { // spent elsewhere since the check: back to draft
			_, uerr := c.Polls.UpdatePoll(ctx, t.ID, p.ID, func(cur *Poll) error { cur.Status = PollDraft; return nil })
			return 0, errors.Join(err, uerr)
		}
		return 0, err
	}
	if err := c.Active.MarkActive(ctx, t.ID, true); err != nil {
		return 0, err
	}
	loc, rnd := t.Location(), c.rand()
	plan := func(cur PaceCursor, n int) ([]time.Time, PaceCursor) {
		return c.Pacing.Plan(cur, earliest, n, in.ConnectedAt, loc, rnd)
	}
	msgs, err := c.Polls.WriteMessages(ctx, t.ID, p, phones, plan)
	if err != nil {
		return 0, err
	}
	status := PollSending
	if p.ScheduledAt.After(c.Now()) {
		status = PollScheduled
	}
	if _, err := c.Polls.UpdatePoll(ctx, t.ID, p.ID, func(cur *Poll) error { cur.Status = status; return nil }); err != nil {
		return 0, err
	}
	queued := 0
	for _, m := range msgs {
		if !m.Status.Unsent() {
			continue
		}
		queued++
		if err := c.Queue.EnqueueSend(ctx, t.ID, m); err != nil {
			c.Logger.Warn("enqueue failed; the reconciler will retry", "tenant", t.ID, "poll", p.ID, "err", err)
			return queued, nil
		}
	}
	return queued, nil
}

func (c *Campaigns) rand() func() float64 {
	if c.Rand != nil {
		return c.Rand
	}
	return rand.Float64
}

// Cancel stops a poll: every message not yet sent is cancelled and its
// credit refunded (once per message).
func (c *Campaigns) Cancel(ctx context.Context, t Tenant, pollID string) (int, error) {
	p, err := c.Polls.UpdatePoll(ctx, t.ID, pollID, func(cur *Poll) error {
		switch cur.Status {
		case PollDone, PollCancelled:
			return Errorf(ECONFLICT, "This poll is already %s.", cur.Status)
		}
		cur.Status, cur.CancelledAt = PollCancelled, c.Now().UTC()
		return nil
	})
	if err != nil {
		return 0, err
	}
	refunded := 0
	err = c.Polls.ForEachMessage(ctx, t.ID, p.ID, func(m Message) error {
		if m.Status != StatusQueued {
			return nil
		}
		// A message a worker is sending right now is left to it: it goes.
		ok, err := c.finish(ctx, t.ID, m, StatusCancelled, "cancelled", false)
		if ok {
			refunded++
		}
		return err
	})
	return refunded, err
}

// finish moves an unsent message to a final status and refunds its credit
// exactly once. It reports whether this call did it. A message a worker has
// claimed (sending) is only finished by that worker (claimed true).
func (c *Campaigns) finish(ctx context.Context, tenantID string, m Message, status MessageStatus, reason string, claimed bool) (bool, error) {
	changed := false
	m, err := c.Polls.UpdateMessage(ctx, tenantID, m.PollID, m.Phone, func(cur *Message) error {
		if cur.Status != StatusQueued && !(claimed && cur.Status == StatusSending) {
			return nil
		}
		cur.Status, cur.Error, cur.UpdatedAt, changed = status, reason, c.Now().UTC(), true
		return nil
	})
	if err != nil || !changed {
		return false, err
	}
	metricsOr(c.Metrics).MessageSent(string(status))
	_, _, err = c.Credits.Refund(ctx, tenantID, "poll:"+m.PollID, "refund:"+m.ID, 1)
	if err != nil {
		return true, fmt.Errorf("tenants.finish refund %s: %w", m.ID, err)
	}
	_, err = c.Polls.UpdateMessage(ctx, tenantID, m.PollID, m.Phone, func(cur *Message) error { cur.Refunded = true; return nil })
	return true, err
}

// RetryLater asks the queue to run a send again after a delay.
type RetryLater struct {
	After  time.Duration
	Reason string
}

func (e *RetryLater) Error() string { return "retry later: " + e.Reason }

// IsRetryLater reports whether err asks for a later retry.
func IsRetryLater(err error) (*RetryLater, bool) {
	var r *RetryLater
	ok := errors.As(err, &r)
	return r, ok
}
