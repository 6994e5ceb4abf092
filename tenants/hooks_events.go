package tenants

import "time"

// The data of each outgoing webhook event. Field names are part of the
// public contract (documented on the webhooks page): add fields, never
// rename or remove them.

// PollVotedData is the data of poll.voted: a contact's whole current
// selection on a poll, from a tap on the poll or read from a written reply
// (from_text). An empty options list means the vote was withdrawn.
type PollVotedData struct {
	PollID   string    `json:"poll_id"`
	Phone    string    `json:"phone"`
	Options  []string  `json:"options"`
	FromText bool      `json:"from_text"`
	At       time.Time `json:"at"`
}

// VotedData is the poll.voted data of a vote. Votes the gateway could not
// decrypt carry no selection: do not emit them.
func VotedData(v Vote) PollVotedData {
	opts := v.Options
	if opts == nil {
		opts = []string{}
	}
	return PollVotedData{PollID: v.PollID, Phone: v.Phone, Options: opts, FromText: v.FromText, At: v.At.UTC()}
}

// ReplyClassifiedData is the data of reply.classified: a reply and what the
// classifier made of it.
type ReplyClassifiedData struct {
	ReplyID    string    `json:"reply_id"`
	PollID     string    `json:"poll_id,omitempty"`
	Phone      string    `json:"phone"`
	Text       string    `json:"text"`
	Intent     Intent    `json:"intent"`
	Confidence float64   `json:"confidence"`
	Sentiment  Sentiment `json:"sentiment"`
	Summary    string    `json:"summary"`
	Options    []string  `json:"options"` // poll options the text picks
	OptOut     bool      `json:"opt_out"`
	Language   string    `json:"language"`
	At         time.Time `json:"at"` // when the reply arrived
}

// ClassifiedData is the reply.classified data of a reply and its label.
func ClassifiedData(r Reply, c Classification) ReplyClassifiedData {
	opts := c.Options
	if opts == nil {
		opts = []string{}
	}
	return ReplyClassifiedData{ReplyID: r.ID, PollID: r.PollID, Phone: r.Phone, Text: r.Text, Intent: c.Intent,
		Confidence: c.Confidence, Sentiment: c.Sentiment, Summary: c.Summary, Options: opts, OptOut: c.OptOut,
		Language: c.Language, At: r.At.UTC()}
}

// ContactOptedOutData is the data of contact.opted_out: a contact who will
// get no more messages, and who asked (source: reply, manual, api).
type ContactOptedOutData struct {
	Phone  string    `json:"phone"`
	Name   string    `json:"name"`
	Source string    `json:"source"`
	Detail string    `json:"detail"` // e.g. the reply text
	At     time.Time `json:"at"`
}

// OptedOutData is the contact.opted_out data of a consent change.
func OptedOutData(c Contact, ev ConsentEvent) ContactOptedOutData {
	return ContactOptedOutData{Phone: c.Phone, Name: c.Name, Source: ev.Source, Detail: ev.Detail, At: ev.At.UTC()}
}

// CampaignCompletedData is the data of campaign.completed: every message of
// the poll has been sent or has failed. Results keep coming in afterwards
// (GET /api/v1/polls/{poll_id}).
type CampaignCompletedData struct {
	PollID      string    `json:"poll_id"`
	Question    string    `json:"question"`
	Options     []string  `json:"options"`
	InstanceID  string    `json:"instance_id"`
	Recipients  int       `json:"recipients"`
	CompletedAt time.Time `json:"completed_at"`
}

// CompletedData is the campaign.completed data of a poll just marked done.
func CompletedData(p Poll) CampaignCompletedData {
	return CampaignCompletedData{PollID: p.ID, Question: p.Question, Options: p.Options, InstanceID: p.InstanceID,
		Recipients: p.Recipients, CompletedAt: p.CompletedAt.UTC()}
}

// CreditsLowData is the data of credits.low: the balance fell below the
// threshold, so campaigns will soon stop sending.
type CreditsLowData struct {
	Balance   int64 `json:"balance"`
	Threshold int64 `json:"threshold"`
}

// CrossedLowBalance reports whether a change from before to after took the
// balance below LowBalance, so that credits.low is sent once per crossing
// and not on every debit under it.
func CrossedLowBalance(before, after int64) bool {
	return before >= LowBalance && after < LowBalance
}

// LowBalanceData is the credits.low data for a balance.
func LowBalanceData(balance int64) CreditsLowData {
	return CreditsLowData{Balance: balance, Threshold: LowBalance}
}
