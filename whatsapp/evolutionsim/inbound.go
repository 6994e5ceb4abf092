package evolutionsim

import (
	"fmt"
	"slices"
	"strings"
)

// Reply is an inbound text message, played by the control API.
type Reply struct {
	From     string `json:"from"`               // sender's phone number
	Text     string `json:"text"`               // message text
	Quoted   string `json:"quoted,omitempty"`   // id of the message replied to, if any
	LID      bool   `json:"lid,omitempty"`      // address the sender by an @lid with the phone JID in remoteJidAlt
	PushName string `json:"pushName,omitempty"` // sender's profile name; default "Contact <last 4 digits>"
}

// VoteMode chooses how a vote reaches the webhook.
type VoteMode string

// The vote shapes v2.3.7 produces: decrypted (option names and
// pollUpdates), still encrypted (decryption failed or the poll is not in
// the DB) and an empty selection (a retracted vote, or a failed decryption
// that yielded nothing).
const (
	VoteNormal    VoteMode = "normal"
	VoteEncrypted VoteMode = "encrypted"
	VoteEmpty     VoteMode = "empty"
)

// Vote is an inbound poll vote, played by the control API.
type Vote struct {
	From     string   `json:"from"`               // voter's phone number
	Poll     string   `json:"poll"`               // id of a poll this instance sent
	Options  []string `json:"options"`            // the voter's complete selection, by option name
	Mode     VoteMode `json:"mode,omitempty"`     // default VoteNormal
	PushName string   `json:"pushName,omitempty"` // voter's profile name
}

// senderSource is what Evolution's getDevice answers for the "3A…" ids of
// inbound messages.
const senderSource = "ios"

// Reply delivers an inbound text from r.From to an open instance as
// MESSAGES_UPSERT, the way v2.3.7 renders it (extendedTextMessage folded
// into conversation, the quote in top-level contextInfo). It returns the
// new message id.
func (s *Sim) Reply(name string, r Reply) (string, error) {
	if jidUser(createJid(r.From)) == "" || strings.TrimSpace(r.Text) == "" {
		return "", fmt.Errorf("%w: reply needs from and text", ErrInvalid)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	inst, err := s.openInstanceLocked(name)
	if err != nil {
		return "", err
	}
	msg := s.inboundLocked(inst, r.From, r.PushName, r.LID)
	msg.Message = map[string]any{"conversation": r.Text}
	msg.MessageType = "conversation"
	if r.Quoted != "" {
		msg.ContextInfo = quoteContextLocked(inst, r.Quoted)
	}
	s.emitLocked(inst, eventMessagesUpsert, msg)
	return msg.Key.ID, nil
}

// Vote delivers a vote on one of the instance's polls as MESSAGES_UPSERT
// pollUpdateMessage in the v2.3.7 shape. It returns ErrUnknownPoll for a
// poll this instance did not send and ErrInvalid for an option the poll
// does not have.
func (s *Sim) Vote(name string, v Vote) (string, error) {
	if jidUser(createJid(v.From)) == "" {
		return "", fmt.Errorf("%w: vote needs from", ErrInvalid)
	}
	mode := v.Mode
	if mode == "" {
		mode = VoteNormal
	}
	if mode != VoteNormal && mode != VoteEncrypted && mode != VoteEmpty {
		return "", fmt.Errorf("%w: unknown vote mode %q", ErrInvalid, mode)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	inst, err := s.openInstanceLocked(name)
	if err != nil {
		return "", err
	}
	poll := inst.messages[v.Poll]
	if poll == nil || poll.kind != "poll" {
		return "", fmt.Errorf("vote on %q: %w", v.Poll, ErrUnknownPoll)
	}
	for _, o := range v.Options {
		if !slices.Contains(poll.options, o) {
			return "", fmt.Errorf("%w: poll %s has no option %q", ErrInvalid, v.Poll, o)
		}
	}
	msg := s.inboundLocked(inst, v.From, v.PushName, false)
	msg.MessageType = "pollUpdateMessage"
	msg.Message = map[string]any{"pollUpdateMessage": map[string]any{
		"pollCreationMessageKey": messageKey{RemoteJid: poll.remoteJid, FromMe: true, ID: poll.id},
		"vote":                   s.voteBody(mode, v.Options),
		"senderTimestampMs":      longJSON(s.now().UnixMilli()),
	}}
	if mode != VoteEncrypted {
		msg.PollUpdates = pollUpdates(poll.options, v.Options, msg.Key.RemoteJid, mode)
	}
	s.emitLocked(inst, eventMessagesUpsert, msg)
	return msg.Key.ID, nil
}

// voteBody is message.pollUpdateMessage.vote: the encrypted payload always,
// and the option names when Evolution managed to decrypt them.
func (s *Sim) voteBody(mode VoteMode, options []string) map[string]any {
	vote := map[string]any{
		"encPayload": bufferJSON(s.rnd.bytes(16 + 32*max(len(options), 1))),
		"encIv":      bufferJSON(s.rnd.bytes(12)),
	}
	switch mode {
	case VoteNormal:
		vote["selectedOptions"] = append([]string{}, options...)
	case VoteEmpty:
		vote["selectedOptions"] = []string{}
	}
	return vote
}

// pollUpdates lists every option of the poll; only this vote's selection
// carries the voter, and an empty vote carries nobody.
func pollUpdates(options, selected []string, voter string, mode VoteMode) []pollUpdate {
	updates := make([]pollUpdate, len(options))
	for i, o := range options {
		updates[i] = pollUpdate{Name: o, Voters: []string{}}
		if mode == VoteNormal && slices.Contains(selected, o) {
			updates[i].Voters = []string{voter}
		}
	}
	return updates
}

// inboundLocked builds the common part of an inbound MESSAGES_UPSERT and
// counts the message. With lid the sender is addressed by a stable @lid
// and the phone JID moves to remoteJidAlt.
func (s *Sim) inboundLocked(inst *instance, from, pushName string, lid bool) waMessage {
	phone := createJid(from)
	key := messageKey{RemoteJid: phone, ID: s.rnd.inboundID(), AddressingMode: "pn"}
	if lid {
		key.RemoteJidAlt = phone
		key.RemoteJid = s.lidLocked(phone)
		key.AddressingMode = "lid"
	}
	if pushName == "" {
		digits := jidUser(phone)
		pushName = "Contact " + digits[max(len(digits)-4, 0):]
	}
	inst.received++
	return waMessage{
		Key:              key,
		PushName:         pushName,
		Status:           "DELIVERY_ACK", // inbound messages without a status get DELIVERY_ACK
		MessageTimestamp: s.now().Unix(),
		InstanceID:       inst.id,
		Source:           senderSource,
	}
}

// lidLocked returns the @lid the simulator assigned to a phone JID, minting
// one on first use so a contact keeps the same LID.
func (s *Sim) lidLocked(phone string) string {
	lid, ok := s.lids[phone]
	if !ok {
		lid = s.rnd.digits(15) + "@lid"
		s.lids[phone] = lid
	}
	return lid
}

// openInstanceLocked finds an instance that can receive messages.
func (s *Sim) openInstanceLocked(name string) (*instance, error) {
	inst := s.instances[name]
	if inst == nil {
		return nil, fmt.Errorf("instance %q: %w", name, ErrUnknownInstance)
	}
	if inst.state != stateOpen {
		return nil, fmt.Errorf("instance %q is %s: %w", name, inst.state, ErrWrongState)
	}
	return inst, nil
}
