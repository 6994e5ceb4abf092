package tenants

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ConnState is a WhatsApp number's connection state at the gateway.
type ConnState string

const (
	StateClose      ConnState = "close"
	StateConnecting ConnState = "connecting"
	StateOpen       ConnState = "open"
)

// GatewayInstance addresses one number on one gateway server: the shard it
// lives on, its name there and its per-instance token.
type GatewayInstance struct {
	ShardID string
	Name    string
	Token   string
}

// CreateInstanceRequest asks a gateway for a new number slot.
type CreateInstanceRequest struct {
	Name       string
	Token      string // our own random token; the gateway uses it as the instance key
	WebhookURL string // where the gateway posts events for this instance
	Number     string // optional: digits of the phone, to get a pairing code
}

// QRCode is what a client scans (or types) to link a phone.
type QRCode struct {
	State       ConnState // open when there is nothing left to scan
	Image       string    // data:image/png;base64,… or empty while none is ready
	Code        string    // the raw QR payload
	PairingCode string    // 8 characters, when a number was given
	Count       int       // how many QRs this attempt has produced
}

// OutboundPoll is a poll to send to one number.
type OutboundPoll struct {
	To       string // E.164 digits without '+'
	Question string
	Options  []string
	Multiple bool
	Delay    time.Duration // typing indicator before the send; the call blocks this long
}

// OutboundText is a text message to send to one number.
type OutboundText struct {
	To      string
	Text    string
	QuoteID string
	Delay   time.Duration
}

// SentMessage is the gateway's receipt for a send.
type SentMessage struct {
	ID string // the WhatsApp message id (3EB0…), used to match statuses and votes
	At time.Time
}

// Gateway is the port to a WhatsApp gateway server (Evolution API, the
// sandbox). One value talks to one shard.
type Gateway interface {
	CreateInstance(ctx context.Context, req CreateInstanceRequest) (GatewayInstance, QRCode, error)
	Connect(ctx context.Context, in GatewayInstance, number string) (QRCode, error)
	ConnectionState(ctx context.Context, in GatewayInstance) (ConnState, error)
	Logout(ctx context.Context, in GatewayInstance) error
	DeleteInstance(ctx context.Context, in GatewayInstance) error
	SendPoll(ctx context.Context, in GatewayInstance, p OutboundPoll) (SentMessage, error)
	SendText(ctx context.Context, in GatewayInstance, t OutboundText) (SentMessage, error)
}

// ErrNotOnWhatsApp is the permanent failure of a send to a number that has no
// WhatsApp account.
var ErrNotOnWhatsApp = errors.New("number is not on WhatsApp")

// GatewayError is a failed gateway call. Temporary errors (5xx, timeouts,
// connection refused) may be retried; others will fail the same way again.
type GatewayError struct {
	Op        string
	Status    int // HTTP status, 0 when no answer came
	Message   string
	Temporary bool
	// NotSent says the request certainly never reached the gateway (the
	// connection was refused). Without an answer and without this, a send
	// may have gone out.
	NotSent bool
	Err     error
}

// sendOutcomeUnknown reports a failed send that may nonetheless have gone
// out: no answer came, and the request may have reached the gateway.
func sendOutcomeUnknown(err error) bool {
	var ge *GatewayError
	return errors.As(err, &ge) && ge.Status == 0 && !ge.NotSent
}

func (e *GatewayError) Error() string {
	return fmt.Sprintf("gateway %s: status %d: %s", e.Op, e.Status, e.Message)
}

func (e *GatewayError) Unwrap() error { return e.Err }

// IsTemporary reports whether err is a gateway failure worth retrying.
func IsTemporary(err error) bool {
	var ge *GatewayError
	return errors.As(err, &ge) && ge.Temporary
}

// EventKind is the kind of a domain event that came back from a gateway.
type EventKind string

const (
	EventConnection    EventKind = "connection"
	EventQR            EventKind = "qr"
	EventMessageStatus EventKind = "message_status"
	EventInboundText   EventKind = "inbound_text"
	EventPollVote      EventKind = "poll_vote"
	EventIgnored       EventKind = "ignored" // understood, but nothing for us to do
)

// MessageStatus is how far a sent message got.
type MessageStatus string

const (
	StatusQueued    MessageStatus = "queued"
	StatusSending   MessageStatus = "sending" // claimed by a worker, the gateway call under way
	StatusSent      MessageStatus = "sent"
	StatusDelivered MessageStatus = "delivered"
	StatusRead      MessageStatus = "read"
	StatusFailed    MessageStatus = "failed"
	StatusCancelled MessageStatus = "cancelled" // never sent: its poll was cancelled or the contact opted out
)

// StatusRank orders statuses so that a late "sent" never overwrites "read".
func StatusRank(s MessageStatus) int {
	switch s {
	case StatusQueued, StatusSending:
		return 0
	case StatusSent:
		return 1
	case StatusDelivered:
		return 2
	case StatusRead:
		return 3
	case StatusFailed, StatusCancelled:
		return 4
	}
	return -1
}

// GatewayEvent is one webhook from a gateway, translated into the domain.
// Exactly one of the pointer fields is set, matching Kind.
type GatewayEvent struct {
	Kind     EventKind
	Instance string // the gateway's instance name
	// DedupeKey is the same for redeliveries of one event (event, message id,
	// status) and different otherwise.
	DedupeKey  string
	Connection *ConnectionChange
	QR         *QRCode
	Status     *StatusChange
	Text       *InboundText
	Vote       *PollVote
}

// ConnectionChange reports a number's new connection state.
type ConnectionChange struct {
	State       ConnState
	Refused     bool // the QR limit was reached; the attempt is over
	Number      string
	ProfileName string
	Reason      int
}

// StatusChange is a delivery update for a message we sent.
type StatusChange struct {
	MessageID string
	Status    MessageStatus
	// To and PollName are set on the gateway's echo of a poll we sent:
	// they match a send whose answer never came back to its message.
	To       string
	PollName string
}

// InboundText is a text a contact wrote to one of the tenant's numbers.
type InboundText struct {
	MessageID string
	From      string // E.164 digits; empty when only a privacy id (LID) is known
	FromLID   string
	PushName  string
	Text      string
	QuotedID  string // the message it replies to, when quoted
	At        time.Time
}

// PollVote is a contact's complete current selection on one poll. An empty
// Options means the vote was withdrawn or could not be read (Unreadable).
type PollVote struct {
	MessageID     string
	From          string
	FromLID       string
	PollMessageID string
	Options       []string
	Unreadable    bool // the gateway could not decrypt the vote
	At            time.Time
}
