package evolutionsim

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// messageKey is a Baileys message key as Evolution serialises it.
type messageKey struct {
	RemoteJid      string `json:"remoteJid"`
	FromMe         bool   `json:"fromMe"`
	ID             string `json:"id"`
	RemoteJidAlt   string `json:"remoteJidAlt,omitempty"`
	AddressingMode string `json:"addressingMode,omitempty"`
}

// waMessage is the output of prepareMessage(): the send response, the
// SEND_MESSAGE data and the MESSAGES_UPSERT data.
type waMessage struct {
	Key              messageKey     `json:"key"`
	PushName         string         `json:"pushName"`
	Status           string         `json:"status"`
	Message          map[string]any `json:"message"`
	ContextInfo      map[string]any `json:"contextInfo,omitempty"`
	MessageType      string         `json:"messageType"`
	MessageTimestamp int64          `json:"messageTimestamp"`
	PollUpdates      []pollUpdate   `json:"pollUpdates,omitempty"`
	InstanceID       string         `json:"instanceId"`
	Source           string         `json:"source"`
}

// pollUpdate is one option of a decrypted vote (v2.3.7 pollUpdates).
type pollUpdate struct {
	Name   string   `json:"name"`
	Voters []string `json:"voters"`
}

// statusUpdate is the MESSAGES_UPDATE data for a delivery/read receipt.
type statusUpdate struct {
	KeyID       string  `json:"keyId"`
	RemoteJid   string  `json:"remoteJid"`
	FromMe      bool    `json:"fromMe"`
	Participant *string `json:"participant"`
	Status      string  `json:"status"`
	InstanceID  string  `json:"instanceId"`
	MessageID   string  `json:"messageId"`
}

// sentRecord is a message an instance sent, kept to resolve quotes and to
// check votes against the poll's options.
type sentRecord struct {
	id        string
	dbID      string // the Message row id, "messageId" in updates
	remoteJid string
	kind      string // "text" or "poll"
	text      string
	name      string
	options   []string
	pollType  string
}

// outgoing is a validated send request.
type outgoing struct {
	number     string
	delay      int // ms the request stays open, like sendMessageWithTyping
	kind       string
	text       string
	quoted     string
	name       string
	options    []string
	selectable int
}

// handleSendText implements POST /message/sendText/{instance}.
func (s *Sim) handleSendText(w http.ResponseWriter, r *http.Request) {
	s.handleSend(w, r, "text", func(f *schemaFields, out *outgoing) {
		out.text = f.requiredString("text")
		out.delay, _ = f.optionalInt("delay")
		var quoted struct {
			Key struct {
				ID string `json:"id"`
			} `json:"key"`
		}
		if f.decode("quoted", "object", &quoted) {
			out.quoted = quoted.Key.ID
		}
	})
}

// handleSendPoll implements POST /message/sendPoll/{instance} with the
// schema's rules: selectableCount an integer 0–10, 2–10 unique values.
func (s *Sim) handleSendPoll(w http.ResponseWriter, r *http.Request) {
	s.handleSend(w, r, "poll", func(f *schemaFields, out *outgoing) {
		out.name = f.requiredString("name")
		out.delay, _ = f.optionalInt("delay")
		if !f.has("selectableCount") {
			f.fail(`instance requires property "selectableCount"`)
		} else if n, ok := f.optionalInt("selectableCount"); ok {
			switch {
			case n < 0:
				f.fail("selectableCount must be greater than or equal to 0")
			case n > 10:
				f.fail("selectableCount must be less than or equal to 10")
			}
			out.selectable = n
		}
		out.options = pollValues(f)
	})
}

// handleSend is what both send endpoints share: the instance guard, the
// body's schema and the number; read takes the rest, in the order
// Evolution's schema reports them.
// Schema failures are answered 400 in Evolution's envelope.
func (s *Sim) handleSend(w http.ResponseWriter, r *http.Request, kind string, read func(*schemaFields, *outgoing)) {
	inst, ok := s.guardInstance(w, r)
	if !ok {
		return
	}
	f, err := newSchemaFields(r)
	if err != nil {
		writeEnvelope(w, http.StatusBadRequest, []string{err.Error()})
		return
	}
	out := outgoing{kind: kind}
	out.number = f.requiredString("number")
	read(f, &out)
	if len(f.msgs) > 0 {
		writeEnvelope(w, http.StatusBadRequest, f.msgs)
		return
	}
	s.send(w, r, inst, out)
}

func pollValues(f *schemaFields) []string {
	if !f.has("values") {
		f.fail(`instance requires property "values"`)
		return nil
	}
	var items []json.RawMessage
	if !f.decode("values", "array", &items) {
		return nil
	}
	values := make([]string, 0, len(items))
	seen := map[string]bool{}
	duplicate := false
	for i, raw := range items {
		var v string
		if err := json.Unmarshal(raw, &v); err != nil {
			f.fail("values[%d] is not of a type(s) string", i)
			continue
		}
		duplicate = duplicate || seen[v]
		seen[v] = true
		values = append(values, v)
	}
	if len(items) < 2 {
		f.fail("values does not meet minimum length of 2")
	}
	if len(items) > 10 {
		f.fail("values does not meet maximum length of 10")
	}
	if duplicate {
		f.fail("values contains duplicate item")
	}
	return values
}

// send runs a validated send: state and onWhatsApp checks, the typing
// delay with the request held open, then the message, its log entry and
// its webhooks.
func (s *Sim) send(w http.ResponseWriter, r *http.Request, inst *instance, out outgoing) {
	jid := createJid(out.number)
	if status, message := s.checkRecipient(inst, jid, out.number); status != 0 {
		writeEnvelope(w, status, message)
		return
	}
	if !s.hold(w, r, time.Duration(out.delay)*time.Millisecond) {
		return
	}
	s.mu.Lock()
	if s.instances[inst.name] != inst || inst.state != stateOpen {
		s.mu.Unlock()
		writeEnvelope(w, http.StatusBadRequest, []string{connectionClosed})
		return
	}
	msg := s.sendLocked(inst, jid, out)
	s.mu.Unlock()
	sleepCtx(r.Context(), s.cfg.AnswerDelay) // the message is out whether or not anyone hears the answer
	writeJSON(w, http.StatusCreated, msg)
}

// connectionClosed is the simulator's answer to a send on an instance that
// is not open. Evolution has no guard for this: Baileys throws Boom
// "Connection Closed" (428) and sendMessageWithTyping rethrows it as
// BadRequestException(error.toString()), hence 400 with this message.
const connectionClosed = "Error: Connection Closed"

// checkRecipient mirrors what happens before Evolution sends: the socket
// must be open, then onWhatsApp must know the number. It returns a zero
// status when the send may go ahead.
func (s *Sim) checkRecipient(inst *instance, jid, number string) (int, any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if inst.state != stateOpen {
		return http.StatusBadRequest, []string{connectionClosed}
	}
	switch s.failures[jidUser(jid)] {
	case FailNotOnWhatsApp:
		return http.StatusBadRequest, []any{onWhatsApp{JID: jid, Exists: false, Number: number}}
	case FailServerError:
		return http.StatusInternalServerError, []string{"Error: Internal Server Error"}
	}
	return 0, nil
}

// sendLocked creates the message as prepareMessage() renders it, logs it,
// emits SEND_MESSAGE and schedules its receipts.
func (s *Sim) sendLocked(inst *instance, jid string, out outgoing) waMessage {
	rec := &sentRecord{id: s.rnd.outboundID(), dbID: s.rnd.cuid(), remoteJid: jid, kind: out.kind}
	msg := waMessage{
		Key:              messageKey{RemoteJid: jid, FromMe: true, ID: rec.id},
		PushName:         "Você",
		Status:           "PENDING",
		MessageTimestamp: s.now().Unix(),
		InstanceID:       inst.id,
		Source:           "web",
	}
	entry := SentMessage{Instance: inst.name, Number: jidUser(jid), ID: rec.id, Type: out.kind, At: s.now()}
	switch out.kind {
	case "text":
		rec.text = out.text
		entry.Text = out.text
		msg.Message = map[string]any{"conversation": out.text}
		msg.MessageType = "conversation"
		if out.quoted != "" {
			msg.ContextInfo = quoteContextLocked(inst, out.quoted)
		}
	case "poll":
		rec.name, rec.options = out.name, out.options
		entry.Name, entry.Options = out.name, out.options
		rec.pollType = "pollCreationMessage" // multi-choice, including 0 = unlimited
		if out.selectable == 1 {
			rec.pollType = "pollCreationMessageV3"
		}
		msg.Message = map[string]any{
			rec.pollType:         rec.pollCreation(out.selectable),
			"messageContextInfo": map[string]any{"messageSecret": bufferJSON(s.rnd.bytes(32))},
		}
		msg.MessageType = rec.pollType
	}
	inst.messages[rec.id] = rec
	s.sent = append(s.sent, entry)
	s.emitLocked(inst, eventSendMessage, msg)
	s.scheduleReceiptsLocked(inst, rec)
	return msg
}

func (rec *sentRecord) pollCreation(selectable int) map[string]any {
	options := make([]map[string]string, len(rec.options))
	for i, o := range rec.options {
		options[i] = map[string]string{"optionName": o}
	}
	return map[string]any{"name": rec.name, "options": options, "selectableOptionsCount": selectable}
}

// quoteContextLocked is the top-level contextInfo of a message that quotes
// quotedID; the quoted content is known only for this instance's messages.
func quoteContextLocked(inst *instance, quotedID string) map[string]any {
	info := map[string]any{"stanzaId": quotedID}
	if rec := inst.messages[quotedID]; rec != nil {
		info["participant"] = inst.wuid
		if rec.kind == "poll" {
			info["quotedMessage"] = map[string]any{rec.pollType: rec.pollCreation(0)}
		} else {
			info["quotedMessage"] = map[string]any{"conversation": rec.text}
		}
	}
	return info
}

// scheduleReceiptsLocked emits MESSAGES_UPDATE SERVER_ACK, DELIVERY_ACK and
// READ, in that order: at once when StatusStep is zero, else one per step
// from a goroutine the Sim owns.
func (s *Sim) scheduleReceiptsLocked(inst *instance, rec *sentRecord) {
	statuses := []string{"SERVER_ACK", "DELIVERY_ACK", "READ"}
	if s.cfg.StatusStep <= 0 {
		for _, status := range statuses {
			s.emitLocked(inst, eventMessagesUpdate, receipt(inst, rec, status))
		}
		return
	}
	s.spawnLocked(func(ctx context.Context) {
		for _, status := range statuses {
			if !sleepCtx(ctx, s.cfg.StatusStep) {
				return
			}
			s.mu.Lock()
			if s.instances[inst.name] == inst {
				s.emitLocked(inst, eventMessagesUpdate, receipt(inst, rec, status))
			}
			s.mu.Unlock()
		}
	})
}

func receipt(inst *instance, rec *sentRecord, status string) statusUpdate {
	return statusUpdate{
		KeyID:      rec.id,
		RemoteJid:  rec.remoteJid,
		FromMe:     true,
		Status:     status,
		InstanceID: inst.id,
		MessageID:  rec.dbID,
	}
}

// onWhatsApp is an OnWhatsAppDto: whatsappNumbers' rows and the body of the
// 400 for a number that is not on WhatsApp.
type onWhatsApp struct {
	JID    string `json:"jid"`
	Exists bool   `json:"exists"`
	Number string `json:"number"`
}

// handleWhatsAppNumbers implements POST /chat/whatsappNumbers/{instance}:
// every number exists unless the control API said otherwise.
func (s *Sim) handleWhatsAppNumbers(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.guardInstance(w, r); !ok {
		return
	}
	f, err := newSchemaFields(r)
	if err != nil {
		writeEnvelope(w, http.StatusBadRequest, []string{err.Error()})
		return
	}
	var numbers []string
	if !f.has("numbers") {
		f.fail(`instance requires property "numbers"`)
	} else {
		f.decode("numbers", "array", &numbers)
	}
	if len(f.msgs) > 0 {
		writeEnvelope(w, http.StatusBadRequest, f.msgs)
		return
	}
	s.mu.Lock()
	rows := make([]onWhatsApp, len(numbers))
	for i, n := range numbers {
		jid := createJid(n)
		rows[i] = onWhatsApp{JID: jid, Exists: s.failures[jidUser(jid)] != FailNotOnWhatsApp, Number: n}
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, rows)
}
