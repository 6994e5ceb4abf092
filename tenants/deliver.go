package tenants

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Circuit breaker settings: after breakerFailures sends in a row fail for a
// number, its sending pauses for Campaigns.BreakerPause
// (DefaultBreakerPause), or until it reconnects.
const (
	breakerFailures     = 5
	DefaultBreakerPause = 5 * time.Minute
	disconnectRetry     = time.Minute
)

// Deliver sends one queued message. It re-reads everything first, so a
// repeated task does nothing twice: a message already sent, cancelled or
// failed is left alone. A temporary problem returns *RetryLater; a
// permanent one fails the message and refunds its credit once.
func (c *Campaigns) Deliver(ctx context.Context, tenantID, pollID, phone string) error {
	m, err := c.Polls.Message(ctx, tenantID, pollID, phone)
	if ErrorCode(err) == ENOTFOUND {
		return nil // erased meanwhile
	} else if err != nil {
		return err
	}
	if !m.Status.Unsent() {
		return nil
	}
	if m.Status == StatusSending {
		// An earlier attempt claimed it and died in, or lost the answer of,
		// its gateway call. If the message went out, the gateway's echo
		// (SEND_MESSAGE, retried by the gateway until we take it) marks it
		// sent; only once that has had time to come is it sent again.
		if wait := c.confirmWindow() - c.Now().Sub(m.UpdatedAt); wait > 0 {
			return &RetryLater{After: wait, Reason: "waiting to learn whether an interrupted send went out"}
		}
	}
	p, err := c.Polls.Poll(ctx, tenantID, pollID)
	if err != nil {
		return err
	}
	if p.Status == PollCancelled {
		_, err := c.finish(ctx, tenantID, m, StatusCancelled, "cancelled", true)
		return err
	}
	if t, err := c.Catalog.Tenant(ctx, tenantID); err != nil {
		return err
	} else if t.Status != TenantActive {
		return &RetryLater{After: 10 * time.Minute, Reason: "account suspended"}
	}
	if ct, err := c.Contacts.Contact(ctx, tenantID, phone); err == nil && ct.OptedOut {
		_, err := c.finish(ctx, tenantID, m, StatusCancelled, "opted out", true)
		return err
	}
	in, err := c.Instances.Instance(ctx, tenantID, m.InstanceID)
	if ErrorCode(err) == ENOTFOUND {
		return c.fail(ctx, tenantID, m, "the number was removed")
	} else if err != nil {
		return err
	}
	now := c.Now()
	if in.State != StateOpen {
		return &RetryLater{After: disconnectRetry, Reason: "number disconnected"}
	}
	if now.Before(in.PausedUntil) {
		return &RetryLater{After: in.PausedUntil.Sub(now), Reason: in.PauseReason}
	}
	claimed, err := c.claim(ctx, tenantID, m)
	if err != nil || !claimed {
		return err
	}
	return c.send(ctx, tenantID, p, in, m)
}

// claim marks the message as being sent, so that a cancel arriving during
// the gateway call leaves it alone (it is going out) instead of refunding
// a message that was delivered. A message already "sending" was claimed by
// an attempt that died mid-call and whose send, after the confirm window,
// is taken not to have gone out; it is claimed again only if nobody else
// did so since it was read.
func (c *Campaigns) claim(ctx context.Context, tenantID string, m Message) (bool, error) {
	claimed := false
	_, err := c.Polls.UpdateMessage(ctx, tenantID, m.PollID, m.Phone, func(cur *Message) error {
		claimed = cur.Status == StatusQueued || (cur.Status == StatusSending && cur.UpdatedAt.Equal(m.UpdatedAt))
		if claimed {
			cur.Status, cur.UpdatedAt = StatusSending, c.Now().UTC()
		}
		return nil
	})
	return claimed, err
}

func (c *Campaigns) send(ctx context.Context, tenantID string, p Poll, in Instance, m Message) error {
	gw, err := c.gateway(ctx, in)
	if err != nil {
		return err
	}
	sent, err := gw.SendPoll(ctx, in.Ref(), OutboundPoll{To: m.Phone, Question: p.Question, Options: p.Options, Multiple: p.Multiple})
	if err == nil {
		return c.markSent(ctx, tenantID, in, m, sent)
	}
	if errors.Is(err, ErrNotOnWhatsApp) {
		return c.fail(ctx, tenantID, m, "not on WhatsApp")
	}
	var ge *GatewayError
	if errors.As(err, &ge) && !ge.Temporary {
		return c.fail(ctx, tenantID, m, "refused by the gateway: "+ge.Message)
	}
	return c.tripBreaker(ctx, tenantID, in, m, err)
}

func (c *Campaigns) markSent(ctx context.Context, tenantID string, in Instance, m Message, sent SentMessage) error {
	now := c.Now().UTC()
	_, err := c.Polls.UpdateMessage(ctx, tenantID, m.PollID, m.Phone, func(cur *Message) error {
		if cur.Status.Unsent() {
			cur.Status = StatusSent
		}
		if cur.WAID == sent.ID {
			return nil // the gateway's echo came first and recorded it
		}
		cur.WAID, cur.SentAt, cur.UpdatedAt, cur.Error = sent.ID, now, now, ""
		cur.Attempts++
		return nil
	})
	if err != nil {
		return fmt.Errorf("tenants.Deliver mark sent %s: %w", m.ID, err)
	}
	metricsOr(c.Metrics).MessageSent(OutcomeSent)
	metricsOr(c.Metrics).CreditsSpent(1)
	if in.Failures > 0 {
		_, err = c.Instances.UpdateInstance(ctx, tenantID, in.ID, func(cur *Instance) error { cur.Failures = 0; return nil })
	}
	return err
}

// fail marks a message failed for good and refunds its credit.
func (c *Campaigns) fail(ctx context.Context, tenantID string, m Message, reason string) error {
	_, err := c.finish(ctx, tenantID, m, StatusFailed, reason, true)
	c.Logger.Info("message failed", "tenant", tenantID, "message", m.ID, "reason", reason)
	return err
}

// tripBreaker counts a temporary failure against the number and pauses it
// after several in a row, so a struggling number is not hammered.
func (c *Campaigns) tripBreaker(ctx context.Context, tenantID string, in Instance, m Message, cause error) error {
	now := c.Now().UTC()
	in, err := c.Instances.UpdateInstance(ctx, tenantID, in.ID, func(cur *Instance) error {
		cur.Failures++
		if cur.Failures >= breakerFailures && !now.Before(cur.PausedUntil) {
			pause := c.breakerPause()
			cur.PausedUntil = now.Add(pause)
			cur.PauseReason = fmt.Sprintf("Sending paused for %s after %d failed sends in a row.", humanDuration(pause), cur.Failures)
		}
		return nil
	})
	if err != nil {
		return err
	}
	unknown := sendOutcomeUnknown(cause)
	if _, err := c.Polls.UpdateMessage(ctx, tenantID, m.PollID, m.Phone, func(cur *Message) error {
		cur.Attempts++
		cur.Error = cause.Error()
		if cur.Status == StatusSending && unknown {
			// No answer: it may have gone out. It stays claimed, and is sent
			// again only if the gateway's echo does not come in time.
			cur.UpdatedAt = now
		} else if cur.Status == StatusSending { // not gone: cancellable again until the retry
			cur.Status = StatusQueued
		}
		return nil
	}); err != nil {
		return err
	}
	after := c.RetryBackoff
	if after <= 0 {
		after = 10 * time.Second
	}
	if unknown {
		after = max(after, c.confirmWindow())
	}
	if now.Before(in.PausedUntil) {
		after = in.PausedUntil.Sub(now)
	}
	metricsOr(c.Metrics).MessageSent(OutcomeRetry)
	return &RetryLater{After: after, Reason: cause.Error()}
}

// DefaultSendConfirmWindow is how long a send interrupted without an
// answer waits for the gateway's echo before it is sent again. Evolution
// retries webhooks after 5, 10, 20, 40 s…, so a restart of a few seconds
// is well covered.
const DefaultSendConfirmWindow = 2 * time.Minute

func (c *Campaigns) breakerPause() time.Duration {
	if c.BreakerPause > 0 {
		return c.BreakerPause
	}
	return DefaultBreakerPause
}

// humanDuration says "5 minutes" or "30 seconds".
func humanDuration(d time.Duration) string {
	if d >= time.Minute && d%time.Minute == 0 {
		if d == time.Minute {
			return "1 minute"
		}
		return fmt.Sprintf("%d minutes", int(d.Minutes()))
	}
	return fmt.Sprintf("%d seconds", int(d.Round(time.Second).Seconds()))
}

func (c *Campaigns) confirmWindow() time.Duration {
	if c.SendConfirmWindow > 0 {
		return c.SendConfirmWindow
	}
	return DefaultSendConfirmWindow
}

func (c *Campaigns) gateway(ctx context.Context, in Instance) (Gateway, error) {
	return gatewayOf(ctx, c.Shards, c.Gateways, in)
}

// GiveUp fails a message whose retries ran out and refunds it.
func (c *Campaigns) GiveUp(ctx context.Context, tenantID, pollID, phone, reason string) error {
	m, err := c.Polls.Message(ctx, tenantID, pollID, phone)
	if err != nil || !m.Status.Unsent() {
		return err
	}
	return c.fail(ctx, tenantID, m, reason)
}
