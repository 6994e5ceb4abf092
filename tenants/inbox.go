package tenants

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// ReplyStore keeps replies and what was made of them.
type ReplyStore interface {
	Reply(ctx context.Context, tenantID, id string) (Reply, error)
	UpdateReply(ctx context.Context, tenantID, id string, fn func(*Reply) error) (Reply, error)
	Unclassified(ctx context.Context, tenantID string) ([]string, error)
	PutTextVote(ctx context.Context, tenantID, pollID, phone string, options []string, at time.Time) (bool, error)
	UpdateContact(ctx context.Context, tenantID, phone string, fn func(*Contact) error) (Contact, error)
}

// ReplyQueue queues the classification of a reply.
type ReplyQueue interface {
	EnqueueClassify(ctx context.Context, tenantID, replyID string) error
}

// Inbox reads every reply: an opt-out is honoured the moment it arrives,
// then the classifier labels the reply, a picked option counts as a vote,
// and the contact's lead status follows.
type Inbox struct {
	Replies    ReplyStore
	Polls      PollStore
	Contacts   *Contacts
	Classifier Classifier // Gemini with the rules as fallback, or the rules
	Fast       Classifier // the offline rules, for the opt-out fast path
	Queue      ReplyQueue
	Active     ActiveCampaigns // the reconciler sweeps active tenants
	AutoReply  *AutoReplies    // nil: no auto-replies
	Hooks      *Hooks          // nil: no outgoing webhooks
	Metrics    Metrics         // nil: not counted
	Now        func() time.Time
	Logger     *slog.Logger
}

// OnReplies runs before a webhook with replies is answered: the contact of
// someone who writes first is created, a STOP is honoured before any
// further send, and classification is queued.
func (b *Inbox) OnReplies(ctx context.Context, tenantID string, replies []Reply) error {
	if err := b.Active.MarkActive(ctx, tenantID, true); err != nil {
		return err
	}
	for _, r := range replies {
		if _, err := b.Contacts.EnsureInbound(ctx, tenantID, r.Phone, r.PushName); err != nil {
			return err
		}
		fast, err := b.Fast.Classify(ctx, ClassifyInput{Text: r.Text})
		if err != nil {
			return err
		}
		if fast.OptOut {
			if _, err := b.Contacts.OptOut(ctx, tenantID, r.Phone, "reply", r.Text); err != nil {
				return err
			}
			b.Logger.Info("opt-out honoured at intake", "tenant", tenantID, "reply", r.ID)
			if b.AutoReply != nil {
				if err := b.AutoReply.ConfirmOptOut(ctx, tenantID, r); err != nil {
					b.Logger.Warn("opt-out confirmation not sent", "tenant", tenantID, "err", err)
				}
			}
		}
		if err := b.Queue.EnqueueClassify(ctx, tenantID, r.ID); err != nil {
			// The reply is marked unclassified in the store; the sweep finds it.
			b.Logger.Warn("classification not queued", "tenant", tenantID, "reply", r.ID, "err", err)
		}
	}
	return nil
}

// historyLen is how many earlier exchanges the classifier sees.
const historyLen = 6

// Classify labels one reply. Doing it again is harmless: a reply already
// classified is left alone.
func (b *Inbox) Classify(ctx context.Context, tenantID, replyID string) error {
	r, err := b.Replies.Reply(ctx, tenantID, replyID)
	if err != nil {
		return err
	}
	if r.Classification != nil {
		return nil
	}
	in, poll, err := b.input(ctx, tenantID, r)
	if err != nil {
		return err
	}
	start := b.Now()
	c, err := b.Classifier.Classify(ctx, in)
	if err != nil {
		return fmt.Errorf("tenants.Classify %s: %w", replyID, err)
	}
	metricsOr(b.Metrics).Classified(c.Classifier, b.Now().Sub(start))
	c.At = b.Now().UTC()
	if _, err := b.Replies.UpdateReply(ctx, tenantID, replyID, func(cur *Reply) error { cur.Classification = &c; return nil }); err != nil {
		return err
	}
	b.Hooks.Notify(ctx, tenantID, HookReplyClassified, ClassifiedData(r, c))
	if c.OptOut {
		if _, err := b.Contacts.OptOut(ctx, tenantID, r.Phone, "reply", r.Text); err != nil {
			return err
		}
	}
	if len(c.Options) > 0 && poll.ID != "" && !c.OptOut {
		wrote, err := b.Replies.PutTextVote(ctx, tenantID, poll.ID, r.Phone, c.Options, r.At)
		if err != nil {
			return err
		}
		if wrote {
			b.Hooks.Notify(ctx, tenantID, HookPollVoted, VotedData(Vote{PollID: poll.ID, Phone: r.Phone, Options: c.Options, FromText: true, At: r.At}))
		}
	}
	if err := b.updateLead(ctx, tenantID, r.Phone, c.Intent); err != nil {
		return err
	}
	if b.AutoReply != nil && !c.OptOut {
		return b.AutoReply.Maybe(ctx, tenantID, r, c.Intent)
	}
	return nil
}

// input gathers what the classifier may see: the text, the poll and a
// short history with the contact — no names or numbers.
func (b *Inbox) input(ctx context.Context, tenantID string, r Reply) (ClassifyInput, Poll, error) {
	in := ClassifyInput{Text: r.Text, TenantID: tenantID}
	var poll Poll
	if r.PollID != "" {
		p, err := b.Polls.Poll(ctx, tenantID, r.PollID)
		if err != nil && ErrorCode(err) != ENOTFOUND {
			return in, poll, err
		}
		poll, in.Question, in.Options = p, p.Question, p.Options
	}
	if hb, ok := b.Classifier.(HistoryBlind); ok && hb.IgnoresHistory() {
		return in, poll, nil
	}
	// Only the last few: a contact who writes a lot must not make each
	// reply slower to read than the one before.
	earlier, err := b.Polls.RepliesBefore(ctx, tenantID, r.Phone, r.ID, historyLen)
	if err != nil {
		return in, poll, err
	}
	for _, e := range earlier {
		in.History = append(in.History, "them: "+e.Text)
	}
	return in, poll, nil
}

// leadStep is how an intent moves a lead: the status it leads to and the
// score it adds.
var leadStep = map[Intent]struct {
	status LeadStatus
	score  int
}{
	IntentInterested:    {LeadHot, 30},
	IntentQuestion:      {LeadEngaged, 15},
	IntentNotInterested: {LeadCold, -30},
	IntentOptOut:        {LeadOptedOut, -100},
	IntentWrongNumber:   {LeadCold, -50},
	IntentAutoReply:     {"", 0},
	IntentOther:         {LeadEngaged, 5},
}

func (b *Inbox) updateLead(ctx context.Context, tenantID, phone string, intent Intent) error {
	step := leadStep[intent]
	_, err := b.Replies.UpdateContact(ctx, tenantID, phone, func(c *Contact) error {
		c.Score = max(-100, min(100, c.Score+step.score))
		switch {
		case c.OptedOut:
			c.LeadStatus = LeadOptedOut
		case step.status != "":
			c.LeadStatus = step.status
		case c.LeadStatus == "" || c.LeadStatus == LeadNew:
			c.LeadStatus = LeadEngaged
		}
		c.UpdatedAt = b.Now().UTC()
		return nil
	})
	if ErrorCode(err) == ENOTFOUND {
		return nil // erased meanwhile
	}
	return err
}

// Sweep queues every reply of the tenant still waiting for the classifier,
// e.g. after a restart that lost the queue.
func (b *Inbox) Sweep(ctx context.Context, tenantID string) (int, error) {
	ids, err := b.Replies.Unclassified(ctx, tenantID)
	if err != nil {
		return 0, err
	}
	for _, id := range ids {
		if err := b.Queue.EnqueueClassify(ctx, tenantID, id); err != nil {
			return 0, err
		}
	}
	return len(ids), nil
}

// Correct records a person's label for a reply; it wins over the
// classifier's and counts in the accuracy figures.
func (b *Inbox) Correct(ctx context.Context, tenantID, replyID string, intent Intent) (Reply, error) {
	if _, ok := leadStep[intent]; !ok {
		return Reply{}, Invalid("intent", "Unknown intent %q.", intent)
	}
	r, err := b.Replies.UpdateReply(ctx, tenantID, replyID, func(cur *Reply) error { cur.HumanIntent = intent; return nil })
	if err != nil {
		return r, err
	}
	if intent == IntentOptOut {
		if _, err := b.Contacts.OptOut(ctx, tenantID, r.Phone, "manual", "labelled opt-out in the inbox"); err != nil {
			return r, err
		}
	}
	return r, b.updateLead(ctx, tenantID, r.Phone, intent)
}

// Intent returns the label that counts: the person's, else the classifier's.
func (r Reply) Intent() Intent {
	if r.HumanIntent != "" {
		return r.HumanIntent
	}
	if r.Classification != nil {
		return r.Classification.Intent
	}
	return ""
}
