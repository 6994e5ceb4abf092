package tenants

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"
)

// PollStatus is where a poll campaign is in its life.
type PollStatus string

const (
	PollDraft       PollStatus = "draft"       // written, not sent
	PollDispatching PollStatus = "dispatching" // credits reserved, messages being written
	PollScheduled   PollStatus = "scheduled"   // messages written, first one due later
	PollSending     PollStatus = "sending"     // messages going out
	PollDone        PollStatus = "done"        // every message sent or failed
	PollCancelled   PollStatus = "cancelled"   // stopped; unsent messages refunded
)

// Audience says who gets a poll: everyone, a tag, or listed phones.
type Audience struct {
	All    bool     `json:"all,omitempty"`
	Tag    string   `json:"tag,omitempty"`
	Phones []string `json:"phones,omitempty"`
}

// Poll is a question with 2–10 options sent to an audience from one number.
type Poll struct {
	ID         string     `json:"id"`
	TenantID   string     `json:"tenant_id"`
	Question   string     `json:"question"`
	Options    []string   `json:"options"`
	Multiple   bool       `json:"multiple"`
	InstanceID string     `json:"instance_id"`
	Audience   Audience   `json:"audience"`
	Status     PollStatus `json:"status"`

	Recipients      int       `json:"recipients"` // messages written at dispatch
	CreditsReserved int64     `json:"credits_reserved"`
	ScheduledAt     time.Time `json:"scheduled_at,omitzero"`
	CreatedAt       time.Time `json:"created_at"`
	DispatchedAt    time.Time `json:"dispatched_at,omitzero"`
	CompletedAt     time.Time `json:"completed_at,omitzero"`
	CancelledAt     time.Time `json:"cancelled_at,omitzero"`
}

// ReservationRef is the credit reference of the poll's reservation.
func (p Poll) ReservationRef() string { return "poll:" + p.ID }

// Poll limits, as WhatsApp enforces them.
const (
	MaxQuestionLen = 255
	MaxOptionLen   = 100
	MinOptions     = 2
	MaxOptions     = 10
)

// PollInput is what a client writes in the composer.
type PollInput struct {
	Question   string
	Options    []string
	Multiple   bool
	InstanceID string
	Audience   Audience
}

// Validate checks and tidies the input, naming the field at fault.
func (in *PollInput) Validate() error {
	in.Question = strings.TrimSpace(in.Question)
	if n := utf8.RuneCountInString(in.Question); n < 1 || n > MaxQuestionLen {
		return Invalid("question", "Question must be 1 to %d characters.", MaxQuestionLen)
	}
	var opts []string
	seen := map[string]bool{}
	for _, o := range in.Options {
		o = strings.TrimSpace(o)
		if o == "" {
			continue
		}
		if utf8.RuneCountInString(o) > MaxOptionLen {
			return Invalid("options", "Option %q is longer than %d characters.", o, MaxOptionLen)
		}
		if k := strings.ToLower(o); seen[k] {
			return Invalid("options", "Option %q appears twice; options must be different.", o)
		} else {
			seen[k] = true
		}
		opts = append(opts, o)
	}
	if len(opts) < MinOptions || len(opts) > MaxOptions {
		return Invalid("options", "A poll needs %d to %d options; it has %d.", MinOptions, MaxOptions, len(opts))
	}
	in.Options = opts
	if in.InstanceID == "" {
		return Invalid("instance_id", "Choose the WhatsApp number to send from.")
	}
	a := in.Audience
	n := 0
	for _, set := range []bool{a.All, a.Tag != "", len(a.Phones) > 0} {
		if set {
			n++
		}
	}
	if n != 1 {
		return Invalid("audience", "Choose one audience: all contacts, a tag, or a list of phones.")
	}
	if len(a.Phones) > 100_000 {
		return Invalid("audience", "A list audience holds at most 100,000 phones.")
	}
	return nil
}

// Message is one poll sent to one contact. Its id is deterministic (poll
// and phone), so dispatching twice never makes two, and it is the queue
// task id and the refund reference.
type Message struct {
	ID         string        `json:"id"`
	PollID     string        `json:"poll_id"`
	InstanceID string        `json:"instance_id"`
	Phone      string        `json:"phone"`
	Status     MessageStatus `json:"status"`
	WAID       string        `json:"wa_id,omitempty"` // the gateway's message id
	Error      string        `json:"error,omitempty"`
	Attempts   int           `json:"attempts,omitempty"`
	Refunded   bool          `json:"refunded,omitempty"`
	DueAt      time.Time     `json:"due_at"` // paced send time
	SentAt     time.Time     `json:"sent_at,omitzero"`
	UpdatedAt  time.Time     `json:"updated_at"`
}

// Unsent reports a message still waiting for (or in the middle of) its send.
func (s MessageStatus) Unsent() bool { return s == StatusQueued || s == StatusSending }

// MessageID is the deterministic id of a poll's message to a phone.
func MessageID(pollID, phone string) string { return "m-" + pollID + "-" + phone }

// Vote is a contact's current selection on a poll; the latest one wins.
type Vote struct {
	PollID     string    `json:"poll_id"`
	Phone      string    `json:"phone"`
	Options    []string  `json:"options"`
	Unreadable bool      `json:"unreadable,omitempty"` // the gateway could not decrypt it
	FromText   bool      `json:"from_text,omitempty"`  // read from a written reply, not a tap
	WAID       string    `json:"wa_id,omitempty"`
	At         time.Time `json:"at"`
}

// Withdrawn reports an empty selection that was readable.
func (v Vote) Withdrawn() bool { return len(v.Options) == 0 && !v.Unreadable }

// Reply is a text a contact wrote, linked to the poll it answers.
type Reply struct {
	ID     string `json:"id"`
	Phone  string `json:"phone"`
	PollID string `json:"poll_id,omitempty"`
	// InstanceID is the number the reply came to; answers go out from it.
	InstanceID string    `json:"instance_id,omitempty"`
	WAID       string    `json:"wa_id"`
	Text       string    `json:"text"`
	QuotedID   string    `json:"quoted_id,omitempty"`
	PushName   string    `json:"push_name,omitempty"`
	At         time.Time `json:"at"`
	// Classification is what the classifier made of it (nil until read);
	// HumanIntent is a person's correction, which wins over it.
	Classification *Classification `json:"classification,omitempty"`
	HumanIntent    Intent          `json:"human_intent,omitempty"`
}

// PollCounts is a campaign's progress.
type PollCounts struct {
	Total     int `json:"total"`
	Queued    int `json:"queued"`
	Sent      int `json:"sent"` // at least sent (includes delivered and read)
	Delivered int `json:"delivered"`
	Read      int `json:"read"`
	Failed    int `json:"failed"`
	Cancelled int `json:"cancelled"`
	Voted     int `json:"voted"`
	Replied   int `json:"replied"`
}

// Done reports whether no message is left to send.
func (c PollCounts) Done() bool { return c.Total > 0 && c.Queued == 0 }

// OptionResult is how many current votes an option has.
type OptionResult struct {
	Option string `json:"option"`
	Votes  int    `json:"votes"`
}

// Recipient is one row of a campaign's recipient table.
type Recipient struct {
	Message Message
	Name    string
	Vote    *Vote
	Reply   *Reply // the latest
}

// PollStore keeps polls, their messages, votes and replies.
type PollStore interface {
	PutPoll(ctx context.Context, p Poll) error
	Poll(ctx context.Context, tenantID, id string) (Poll, error)
	Polls(ctx context.Context, tenantID string) ([]Poll, error)
	UpdatePoll(ctx context.Context, tenantID, id string, fn func(*Poll) error) (Poll, error)
	// PutAudience keeps the phones a poll is sent to, fixed at send time so
	// that a dispatch resumed after a crash sends to exactly the same people
	// as the credits reserved for.
	PutAudience(ctx context.Context, tenantID, pollID string, phones []string) error
	Audience(ctx context.Context, tenantID, pollID string) ([]string, error)
	// WriteMessages stores messages that do not exist yet (by id), pacing
	// each one on its number with plan, in chunks; it returns the messages
	// as stored, including ones written by an earlier attempt.
	WriteMessages(ctx context.Context, tenantID string, p Poll, phones []string, plan PacePlanner) ([]Message, error)
	Message(ctx context.Context, tenantID, pollID, phone string) (Message, error)
	UpdateMessage(ctx context.Context, tenantID, pollID, phone string, fn func(*Message) error) (Message, error)
	// ForEachMessage visits a poll's messages in phone order.
	ForEachMessage(ctx context.Context, tenantID, pollID string, fn func(Message) error) error
	Votes(ctx context.Context, tenantID, pollID string) ([]Vote, error)
	Replies(ctx context.Context, tenantID, pollID string, limit int) ([]Reply, error)
	ContactReplies(ctx context.Context, tenantID, phone string) ([]Reply, error)
	// RepliesBefore returns at most n of a contact's replies stored before
	// the reply with the given id, oldest first.
	RepliesBefore(ctx context.Context, tenantID, phone, replyID string, n int) ([]Reply, error)
	ContactVotes(ctx context.Context, tenantID, phone string) ([]Vote, error)
	ContactMessages(ctx context.Context, tenantID, phone string) ([]Message, error)
}

// PacePlanner gives each message of a number its send time. The store calls
// it inside the transaction that writes the messages, with the number's
// stored cursor, and keeps the cursor it returns.
type PacePlanner func(cur PaceCursor, n int) (due []time.Time, next PaceCursor)
