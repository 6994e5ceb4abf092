package sandbox

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/aibud/aibud/tenants"
)

// sentPoll is what SimulateVote needs to check a vote: who sent the poll
// and what could be chosen.
type sentPoll struct {
	instance *instance
	options  []string
	multiple bool
}

// notOnWhatsAppSuffix marks the numbers the sandbox treats as having no
// WhatsApp account, so the permanent-failure path can be tried by hand.
const notOnWhatsAppSuffix = "000"

// SendPoll accepts a poll on an open number and plays its receipts in the
// background. It validates as Evolution's schema does (non-blank number and
// question, 2–10 unique options) so the sandbox refuses what production would.
func (g *Gateway) SendPoll(ctx context.Context, in tenants.GatewayInstance, p tenants.OutboundPoll) (tenants.SentMessage, error) {
	var problems []string
	problems = requireNonBlank(problems, "number", p.To)
	problems = requireNonBlank(problems, "name", p.Question)
	switch {
	case len(p.Options) < 2:
		problems = append(problems, "values does not meet minimum length of 2")
	case len(p.Options) > 10:
		problems = append(problems, "values does not meet maximum length of 10")
	}
	if hasDuplicate(p.Options) {
		problems = append(problems, "values contains duplicate item")
	}
	rec := SentRecord{Kind: "poll", To: p.To, Text: p.Question, Options: slices.Clone(p.Options), Multiple: p.Multiple}
	return g.send(ctx, "sendPoll", in, p.Delay, rec, problems)
}

// SendText accepts a text (optionally quoting QuoteID) on an open number
// and plays its receipts in the background.
func (g *Gateway) SendText(ctx context.Context, in tenants.GatewayInstance, t tenants.OutboundText) (tenants.SentMessage, error) {
	var problems []string
	problems = requireNonBlank(problems, "number", t.To)
	problems = requireNonBlank(problems, "text", t.Text)
	rec := SentRecord{Kind: "text", To: t.To, Text: t.Text, QuoteID: t.QuoteID}
	return g.send(ctx, "sendText", in, t.Delay, rec, problems)
}

// send runs the checks in Evolution's order (schema, connection, recipient),
// holds the call for the typing delay as the port promises, then records the
// message and starts its receipts.
func (g *Gateway) send(ctx context.Context, op string, in tenants.GatewayInstance, delay time.Duration, rec SentRecord, problems []string) (tenants.SentMessage, error) {
	if len(problems) > 0 {
		return tenants.SentMessage{}, gatewayError(op, http.StatusBadRequest, "%s", strings.Join(problems, "; "))
	}
	if err := g.checkSend(op, in, rec.To); err != nil {
		return tenants.SentMessage{}, err
	}
	if !sleep(ctx, delay) {
		return tenants.SentMessage{}, &tenants.GatewayError{Op: op, Message: "typing delay interrupted", Temporary: true, Err: ctx.Err()}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	inst, err := g.openLocked(op, in) // it may have been logged out during the delay
	if err != nil {
		return tenants.SentMessage{}, err
	}
	rec.Instance, rec.ID, rec.At = inst.name, newMessageID(), g.now()
	g.sent = append(g.sent, rec)
	if rec.Kind == "poll" {
		g.polls[rec.ID] = &sentPoll{instance: inst, options: slices.Clone(rec.Options), multiple: rec.Multiple}
	}
	g.goLocked(func(ctx context.Context) { g.playReceipts(ctx, inst, rec.ID) })
	return tenants.SentMessage{ID: rec.ID, At: rec.At}, nil
}

// checkSend refuses a send from a number that is not open, then one to a
// number that is not on WhatsApp, as a permanent 400 like Evolution's.
func (g *Gateway) checkSend(op string, in tenants.GatewayInstance, to string) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, err := g.openLocked(op, in); err != nil {
		return err
	}
	if digits := onlyDigits(to); strings.HasSuffix(digits, notOnWhatsAppSuffix) {
		return &tenants.GatewayError{Op: op, Status: http.StatusBadRequest, Message: digits + " is not on WhatsApp", Err: tenants.ErrNotOnWhatsApp}
	}
	return nil
}

// openLocked finds the sending instance and requires it to be connected.
func (g *Gateway) openLocked(op string, in tenants.GatewayInstance) (*instance, error) {
	inst, err := g.lookupLocked(op, in)
	if err != nil {
		return nil, err
	}
	if inst.state != tenants.StateOpen {
		return nil, gatewayError(op, http.StatusBadRequest, "instance is not connected")
	}
	return inst, nil
}

// playReceipts delivers sent, delivered and read for message id, one
// StatusStep apart; the first also waits a step so the sender has stored
// the id before its first status arrives. It stops once the number is logged
// out or deleted, as an unlinked device receives no more receipts.
func (g *Gateway) playReceipts(ctx context.Context, inst *instance, id string) {
	for _, st := range []tenants.MessageStatus{tenants.StatusSent, tenants.StatusDelivered, tenants.StatusRead} {
		if !sleep(ctx, g.step) {
			return
		}
		g.mu.Lock()
		live := g.instances[inst.name] == inst && inst.state == tenants.StateOpen
		g.mu.Unlock()
		if !live {
			return
		}
		ev := tenants.GatewayEvent{
			Kind: tenants.EventMessageStatus, Instance: inst.name,
			DedupeKey: fmt.Sprintf("%s:%s:%s", tenants.EventMessageStatus, id, st),
			Status:    &tenants.StatusChange{MessageID: id, Status: st},
		}
		if err := g.deliver(ctx, inst.webhookToken, ev); err != nil {
			g.log.Warn("sandbox: status not delivered", "instance", inst.name, "message", id, "status", st, "err", err)
		}
	}
}

// SimulateReply plays a contact writing to the number, quoting quotedID
// when it is not empty. The sink has the message when SimulateReply returns.
func (g *Gateway) SimulateReply(ctx context.Context, instanceName, from, text, quotedID string) (string, error) {
	digits := onlyDigits(from)
	if digits == "" {
		return "", tenants.Invalid("from", "Enter the number the reply comes from.")
	}
	if strings.TrimSpace(text) == "" {
		return "", tenants.Invalid("text", "Enter the text of the reply.")
	}
	g.mu.Lock()
	inst, err := g.controlOpenLocked(instanceName)
	if err != nil {
		g.mu.Unlock()
		return "", err
	}
	id := newMessageID()
	ev := tenants.GatewayEvent{
		Kind: tenants.EventInboundText, Instance: inst.name,
		DedupeKey: fmt.Sprintf("%s:%s", tenants.EventInboundText, id),
		Text:      &tenants.InboundText{MessageID: id, From: digits, Text: text, QuotedID: quotedID, At: g.now()},
	}
	g.mu.Unlock()
	if err := g.deliverNow(ctx, inst.webhookToken, ev); err != nil {
		return "", err
	}
	return id, nil
}

// SimulateVote plays a contact voting on a poll this number sent. Options is
// the voter's complete current selection, as WhatsApp reports it; an empty
// selection withdraws the vote. The sink has the vote when it returns.
func (g *Gateway) SimulateVote(ctx context.Context, instanceName, from, pollMessageID string, options []string) (string, error) {
	digits := onlyDigits(from)
	if digits == "" {
		return "", tenants.Invalid("from", "Enter the number the vote comes from.")
	}
	g.mu.Lock()
	inst, err := g.controlOpenLocked(instanceName)
	if err == nil {
		err = g.checkVoteLocked(inst, pollMessageID, options)
	}
	if err != nil {
		g.mu.Unlock()
		return "", err
	}
	id := newMessageID()
	ev := tenants.GatewayEvent{
		Kind: tenants.EventPollVote, Instance: inst.name,
		DedupeKey: fmt.Sprintf("%s:%s", tenants.EventPollVote, id),
		Vote: &tenants.PollVote{
			MessageID: id, From: digits, PollMessageID: pollMessageID,
			Options: slices.Clone(options), At: g.now(),
		},
	}
	g.mu.Unlock()
	if err := g.deliverNow(ctx, inst.webhookToken, ev); err != nil {
		return "", err
	}
	return id, nil
}

// checkVoteLocked accepts only a selection WhatsApp could produce: options
// of a poll this number sent, each once, and one at most on a single-choice poll.
func (g *Gateway) checkVoteLocked(inst *instance, pollMessageID string, options []string) error {
	poll, ok := g.polls[pollMessageID]
	if !ok || poll.instance != inst {
		return tenants.Errorf(tenants.ENOTFOUND, "Number %q sent no poll %q.", inst.name, pollMessageID)
	}
	for _, o := range options {
		if !slices.Contains(poll.options, o) {
			return tenants.Invalid("options", "%q is not an option of this poll.", o)
		}
	}
	if hasDuplicate(options) {
		return tenants.Invalid("options", "Each option can be chosen once.")
	}
	if !poll.multiple && len(options) > 1 {
		return tenants.Invalid("options", "This poll allows a single choice.")
	}
	return nil
}

// controlOpenLocked finds the number a simulate call names; contacts can
// only reach a number whose phone is linked.
func (g *Gateway) controlOpenLocked(name string) (*instance, error) {
	inst, err := g.controlLookupLocked(name)
	if err != nil {
		return nil, err
	}
	if inst.state != tenants.StateOpen {
		return nil, tenants.Errorf(tenants.ECONFLICT, "Number %q is not connected: scan its QR code first.", name)
	}
	return inst, nil
}

// requireNonBlank adds Evolution's message for a blank required property.
func requireNonBlank(problems []string, name, value string) []string {
	if strings.TrimSpace(value) == "" {
		problems = append(problems, fmt.Sprintf("The %q cannot be empty", name))
	}
	return problems
}

func hasDuplicate(values []string) bool {
	seen := make(map[string]bool, len(values))
	for _, v := range values {
		if seen[v] {
			return true
		}
		seen[v] = true
	}
	return false
}
