package tenants

import (
	"context"
	"time"
)

// ActiveCampaigns is the catalog's list of tenants with campaigns in flight.
type ActiveCampaigns interface {
	MarkActive(ctx context.Context, tenantID string, active bool) error
	ActiveTenants(ctx context.Context) ([]string, error)
}

// Report is a campaign's state: the poll, its progress and its results.
type Report struct {
	Poll    Poll
	Counts  PollCounts
	Results []OptionResult
	// Unreadable counts votes the gateway could not decrypt; Withdrawn
	// counts voters who removed their vote.
	Unreadable int
	Withdrawn  int
	// Paused explains why the number is not sending, when it is not.
	Paused string
}

// Report counts a poll's messages, votes and replies. A poll whose last
// message has gone is marked done here.
func (c *Campaigns) Report(ctx context.Context, tenantID, pollID string) (Report, error) {
	r, _, err := c.ReportWithRecipients(ctx, tenantID, pollID, 0)
	return r, err
}

// ReportWithRecipients is Report plus the first limit recipient rows, read
// in the same single pass over the messages: the campaign page of a large
// poll reads each record once.
func (c *Campaigns) ReportWithRecipients(ctx context.Context, tenantID, pollID string, limit int) (Report, []Recipient, error) {
	p, err := c.Polls.Poll(ctx, tenantID, pollID)
	if err != nil {
		return Report{}, nil, err
	}
	r := Report{Poll: p}
	votes, err := c.Polls.Votes(ctx, tenantID, pollID)
	if err != nil {
		return r, nil, err
	}
	c.tallyVotes(&r, votes)
	replies, err := c.Polls.Replies(ctx, tenantID, pollID, 0)
	if err != nil {
		return r, nil, err
	}
	latest := map[string]*Reply{}
	for i := range replies { // newest first: keep the first seen
		if latest[replies[i].Phone] == nil {
			latest[replies[i].Phone] = &replies[i]
		}
	}
	r.Counts.Replied = len(latest)
	var rows []Recipient
	var byPhone map[string]*Vote
	if limit > 0 {
		byPhone = make(map[string]*Vote, len(votes))
		for i := range votes {
			byPhone[votes[i].Phone] = &votes[i]
		}
	}
	err = c.Polls.ForEachMessage(ctx, tenantID, pollID, func(m Message) error {
		r.Counts.add(m.Status)
		if len(rows) < limit {
			rows = append(rows, Recipient{Message: m, Vote: byPhone[m.Phone], Reply: latest[m.Phone]})
		}
		return nil
	})
	if err != nil {
		return r, nil, err
	}
	r.Paused = c.pausedReason(ctx, tenantID, p, r.Counts)
	if (p.Status == PollSending || p.Status == PollScheduled) && r.Counts.Done() {
		r.Poll, err = c.complete(ctx, tenantID, pollID)
	}
	return r, rows, err
}

// pausedReason explains why a poll with messages left is not sending.
func (c *Campaigns) pausedReason(ctx context.Context, tenantID string, p Poll, counts PollCounts) string {
	if counts.Queued == 0 {
		return ""
	}
	in, err := c.Instances.Instance(ctx, tenantID, p.InstanceID)
	switch {
	case err != nil:
		return ""
	case in.State != StateOpen:
		return "The number " + in.Name + " is disconnected. Sending resumes when it is connected again."
	case c.Now().Before(in.PausedUntil):
		return in.PauseReason
	}
	return ""
}

func (pc *PollCounts) add(s MessageStatus) {
	pc.Total++
	switch s {
	case StatusQueued, StatusSending:
		pc.Queued++
	case StatusSent:
		pc.Sent++
	case StatusDelivered:
		pc.Sent++
		pc.Delivered++
	case StatusRead:
		pc.Sent++
		pc.Delivered++
		pc.Read++
	case StatusFailed:
		pc.Failed++
	case StatusCancelled:
		pc.Cancelled++
	}
}

func (c *Campaigns) tallyVotes(r *Report, votes []Vote) {
	count := map[string]int{}
	for _, v := range votes {
		switch {
		case v.Unreadable:
			r.Unreadable++
		case v.Withdrawn():
			r.Withdrawn++
		default:
			r.Counts.Voted++
			for _, o := range v.Options {
				count[o]++
			}
		}
	}
	for _, o := range r.Poll.Options {
		r.Results = append(r.Results, OptionResult{Option: o, Votes: count[o]})
	}
}

func (c *Campaigns) complete(ctx context.Context, tenantID, pollID string) (Poll, error) {
	done := false
	p, err := c.Polls.UpdatePoll(ctx, tenantID, pollID, func(p *Poll) error {
		done = p.Status == PollSending || p.Status == PollScheduled
		if done {
			p.Status, p.CompletedAt = PollDone, c.Now().UTC()
		}
		return nil
	})
	if err == nil && done {
		c.Hooks.Notify(ctx, tenantID, HookCampaignCompleted, CompletedData(p))
	}
	return p, err
}

// Recipients returns every recipient row of a campaign, with each one's
// vote and latest reply.
func (c *Campaigns) Recipients(ctx context.Context, tenantID, pollID string) ([]Recipient, error) {
	_, rows, err := c.ReportWithRecipients(ctx, tenantID, pollID, int(^uint(0)>>1))
	return rows, err
}

// Reconcile makes the tenant's stored campaigns and the queue agree again:
// a dispatch that stopped half-way is finished, every message still queued
// is enqueued again (the task id stops doubles), finished polls are marked
// done. The tenant DB is the truth; Redis only delivers.
// inFlight reports whether any campaign still has work.
func (c *Campaigns) Reconcile(ctx context.Context, tenantID string) (requeued int, inFlight bool, err error) {
	polls, err := c.Polls.Polls(ctx, tenantID)
	if err != nil {
		return 0, false, err
	}
	t, err := c.Catalog.Tenant(ctx, tenantID)
	if err != nil {
		return 0, false, err
	}
	for _, p := range polls {
		switch p.Status {
		case PollDispatching:
			inFlight = true
			if err := c.resume(ctx, t, p); err != nil {
				c.Logger.Warn("resume dispatch", "tenant", tenantID, "poll", p.ID, "err", err)
			}
		case PollSending, PollScheduled:
			n, queued, err := c.requeue(ctx, tenantID, p)
			if err != nil {
				return requeued, true, err
			}
			requeued += n
			if queued > 0 {
				inFlight = true
			} else if _, err := c.complete(ctx, tenantID, p.ID); err != nil {
				return requeued, true, err
			}
		}
	}
	return requeued, inFlight, nil
}

// requeue enqueues the poll's queued messages that are due within the
// horizon; later ones already sit in the queue as scheduled tasks, and if
// Redis lost them they are caught by a later pass.
func (c *Campaigns) requeue(ctx context.Context, tenantID string, p Poll) (enqueued, queued int, err error) {
	horizon := c.Now().Add(reconcileHorizon)
	err = c.Polls.ForEachMessage(ctx, tenantID, p.ID, func(m Message) error {
		if !m.Status.Unsent() {
			return nil
		}
		queued++
		if m.DueAt.After(horizon) {
			return nil
		}
		if err := c.Queue.EnqueueSend(ctx, tenantID, m); err != nil {
			return err
		}
		enqueued++
		return nil
	})
	return enqueued, queued, err
}

// reconcileHorizon bounds how far ahead the reconciler enqueues; a lost
// message due later is found by a later pass.
const reconcileHorizon = time.Hour
