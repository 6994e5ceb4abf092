package evolution

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/aibud/aibud/tenants"
)

// messageKey addresses a message. remoteJid is the chat; in v2.3.7 an @lid
// chat is swapped for remoteJidAlt when the phone number is known, and
// Baileys 6 put that number in senderPn instead.
type messageKey struct {
	RemoteJid    string `json:"remoteJid"`
	RemoteJidAlt string `json:"remoteJidAlt"`
	SenderPn     string `json:"senderPn"`
	FromMe       bool   `json:"fromMe"`
	ID           string `json:"id"`
}

// upsertData is MESSAGES_UPSERT's data. Only the fields we use are
// declared: encoding/json skips the rest whatever their shape, which is what
// keeps binary protobuf fields (messageSecret, mediaKey, jpegThumbnail) from
// failing a payload however the gateway chose to encode them.
type upsertData struct {
	Key              messageKey     `json:"key"`
	PushName         string         `json:"pushName"`
	MessageType      string         `json:"messageType"`
	Message          messageContent `json:"message"`
	ContextInfo      *contextInfo   `json:"contextInfo"`
	MessageTimestamp flexInt64      `json:"messageTimestamp"`
}

type contextInfo struct {
	StanzaID string `json:"stanzaId"`
}

type captioned struct {
	Caption     string       `json:"caption"`
	ContextInfo *contextInfo `json:"contextInfo"`
}

type messageContent struct {
	Conversation        string `json:"conversation"`
	ExtendedTextMessage *struct {
		Text        string       `json:"text"`
		ContextInfo *contextInfo `json:"contextInfo"`
	} `json:"extendedTextMessage"`
	ImageMessage      *captioned  `json:"imageMessage"`
	VideoMessage      *captioned  `json:"videoMessage"`
	DocumentMessage   *captioned  `json:"documentMessage"`
	PollUpdateMessage *pollUpdate `json:"pollUpdateMessage"`
}

type pollUpdate struct {
	PollCreationMessageKey messageKey `json:"pollCreationMessageKey"`
	Vote                   *struct {
		// EncPayload and EncIv are bytes in any of the gateway's three
		// encodings; we only need to know whether they are there.
		EncPayload      json.RawMessage `json:"encPayload"`
		EncIv           json.RawMessage `json:"encIv"`
		SelectedOptions json.RawMessage `json:"selectedOptions"`
	} `json:"vote"`
	SenderTimestampMs flexInt64 `json:"senderTimestampMs"`
}

// upsert maps MESSAGES_UPSERT: a contact's text (or media caption) or poll
// vote in a one-to-one chat. Our own messages, groups, status broadcasts,
// newsletters and other message types are ignored.
func (p webhookParser) upsert(data json.RawMessage) (tenants.GatewayEvent, error) {
	var d upsertData
	if err := decode(data, &d); err != nil {
		return tenants.GatewayEvent{}, err
	}
	from, lid := sender(d.Key)
	if d.Key.ID == "" || d.Key.FromMe || (from == "" && lid == "") {
		return p.ignored(d.Key.ID), nil
	}
	at, ok := d.MessageTimestamp.time()
	if !ok && d.Message.PollUpdateMessage != nil {
		at, ok = msTime(d.Message.PollUpdateMessage.SenderTimestampMs)
	}
	if !ok {
		at = p.envelopeTime()
	}
	key := p.event + ":" + d.Key.ID
	if d.MessageType == "pollUpdateMessage" || d.Message.PollUpdateMessage != nil {
		vote := readVote(d.Message.PollUpdateMessage)
		if vote == nil {
			return p.ignored(d.Key.ID), nil
		}
		vote.MessageID, vote.From, vote.FromLID, vote.At = d.Key.ID, from, lid, at
		return tenants.GatewayEvent{Kind: tenants.EventPollVote, DedupeKey: key, Vote: vote}, nil
	}
	text, quoted := d.text()
	if text == "" {
		return p.ignored(d.Key.ID), nil
	}
	in := &tenants.InboundText{
		MessageID: d.Key.ID, From: from, FromLID: lid, PushName: d.PushName,
		Text: text, QuotedID: quoted, At: at,
	}
	return tenants.GatewayEvent{Kind: tenants.EventInboundText, DedupeKey: key, Text: in}, nil
}

// text returns the message's text and the id it quotes. v2.3.7 folds
// extendedTextMessage into conversation and moves its quote context to the
// top-level contextInfo; the other places are read for older gateways.
func (d upsertData) text() (text, quoted string) {
	var ctxs []*contextInfo
	m := d.Message
	switch {
	case m.Conversation != "":
		text = m.Conversation
	case m.ExtendedTextMessage != nil:
		text, ctxs = m.ExtendedTextMessage.Text, append(ctxs, m.ExtendedTextMessage.ContextInfo)
	default:
		for _, c := range []*captioned{m.ImageMessage, m.VideoMessage, m.DocumentMessage} {
			if c != nil && c.Caption != "" {
				text, ctxs = c.Caption, append(ctxs, c.ContextInfo)
				break
			}
		}
	}
	for _, c := range append([]*contextInfo{d.ContextInfo}, ctxs...) {
		if c != nil && c.StanzaID != "" {
			return text, c.StanzaID
		}
	}
	return text, ""
}

// readVote reads a v2.3.7 vote, whose selectedOptions the gateway has
// replaced with option names. Absent options, or options that are still
// hashes, mean the gateway could not decrypt the vote: Unreadable, with nil
// Options. An empty list is a readable withdrawal: empty, non-nil Options.
func readVote(u *pollUpdate) *tenants.PollVote {
	if u == nil || u.PollCreationMessageKey.ID == "" {
		return nil
	}
	v := &tenants.PollVote{PollMessageID: u.PollCreationMessageKey.ID, Unreadable: true}
	if u.Vote == nil || isAbsent(u.Vote.SelectedOptions) {
		return v
	}
	var names []string
	if json.Unmarshal(u.Vote.SelectedOptions, &names) != nil {
		return v
	}
	v.Options, v.Unreadable = append([]string{}, names...), false
	return v
}

func isAbsent(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || string(t) == "null"
}

// sender finds the contact's phone digits and privacy id (the whole
// "…@lid" JID, which the gateway accepts as an address) among the key's
// JIDs. Chats that are not one-to-one yield neither.
func sender(k messageKey) (from, lid string) {
	if isGroupLike(k.RemoteJid) {
		return "", ""
	}
	for _, jid := range []string{k.RemoteJid, k.RemoteJidAlt, k.SenderPn} {
		if d := Digits(jid); d != "" && from == "" {
			from = d
		} else if strings.HasSuffix(jid, "@lid") && lid == "" {
			lid = jid
		}
	}
	return from, lid
}

// isGroupLike reports chats we never answer: groups, status and broadcast
// lists, newsletters.
func isGroupLike(jid string) bool {
	for _, suffix := range []string{"@g.us", "@broadcast", "@newsletter"} {
		if strings.HasSuffix(jid, suffix) {
			return true
		}
	}
	return false
}

// Digits returns the phone digits of a phone-number JID
// ("5511999999999@s.whatsapp.net", with or without a ":device" suffix) and
// "" for anything else: LIDs, groups, broadcasts, malformed input.
func Digits(jid string) string {
	user, ok := strings.CutSuffix(jid, "@s.whatsapp.net")
	if !ok {
		return ""
	}
	if i := strings.IndexByte(user, ':'); i >= 0 {
		user = user[:i]
	}
	if user == "" {
		return ""
	}
	for i := 0; i < len(user); i++ {
		if user[i] < '0' || user[i] > '9' {
			return ""
		}
	}
	return user
}

// flexInt64 reads an int64 the way the gateway may write it: a number, a
// numeric string, or a Long.js {low,high,unsigned} object. It never fails:
// a timestamp we cannot read must not cost us the message it belongs to.
type flexInt64 struct {
	v   int64
	set bool
}

func (f *flexInt64) UnmarshalJSON(b []byte) error {
	*f = flexInt64{}
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return nil
	}
	switch b[0] {
	case '{':
		var long struct {
			Low  int64 `json:"low"`
			High int64 `json:"high"`
		}
		if json.Unmarshal(b, &long) == nil {
			// low and high are 32-bit halves, each possibly signed.
			f.v, f.set = int64(uint64(uint32(long.High))<<32|uint64(uint32(long.Low))), true
		}
	case '"':
		var s string
		if json.Unmarshal(b, &s) == nil {
			f.parse(strings.TrimSpace(s))
		}
	default:
		f.parse(string(b))
	}
	return nil
}

func (f *flexInt64) parse(s string) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		f.v, f.set = n, true
	} else if x, err := strconv.ParseFloat(s, 64); err == nil && x >= -9e18 && x <= 9e18 {
		f.v, f.set = int64(x), true
	}
}

// time reads the value as Unix seconds; values too large for seconds are
// taken as milliseconds, which some code paths send.
func (f flexInt64) time() (time.Time, bool) {
	if !f.set || f.v <= 0 {
		return time.Time{}, false
	}
	if f.v > 1e11 {
		return msTime(f)
	}
	return time.Unix(f.v, 0).UTC(), true
}

func msTime(f flexInt64) (time.Time, bool) {
	if !f.set || f.v <= 0 {
		return time.Time{}, false
	}
	return time.UnixMilli(f.v).UTC(), true
}
