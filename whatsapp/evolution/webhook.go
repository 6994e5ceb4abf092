package evolution

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aibud/aibud/tenants"
)

// envelope is the wrapper every webhook shares. apikey, sender,
// destination and server_url are not read: sender is our own number, and
// apikey is null unless the server leaks tokens.
type envelope struct {
	Event    string          `json:"event"`
	Instance string          `json:"instance"`
	Data     json.RawMessage `json:"data"`
	DateTime string          `json:"date_time"`
}

// ParseWebhook translates one webhook body into domain events. The event
// name comes from the body's "event" field or, when the webhook was set
// with byEvents, from the URL's last path segment (pathEvent, e.g.
// "messages-upsert"); pass "" when there is none. Events the domain has no
// use for come back as EventIgnored, so the caller can answer 2xx and the
// gateway stops retrying. An error means the body is not a webhook at all
// (malformed JSON, no event name, no instance); answer it with 400, which
// the gateway does not retry.
func ParseWebhook(body []byte, pathEvent string) ([]tenants.GatewayEvent, error) {
	var env envelope
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, fmt.Errorf("evolution.ParseWebhook: %w", err)
	}
	event := eventName(env.Event)
	if event == "" {
		path := strings.TrimRight(pathEvent, "/")
		event = eventName(path[strings.LastIndexByte(path, '/')+1:])
	}
	if event == "" {
		return nil, errors.New("evolution.ParseWebhook: no event name")
	}
	if env.Instance == "" {
		return nil, fmt.Errorf("evolution.ParseWebhook %s: no instance", event)
	}
	p := webhookParser{event: event, dateTime: env.DateTime}
	var events []tenants.GatewayEvent
	for _, data := range p.items(env.Data) {
		ev, err := p.parse(data)
		if err != nil {
			return nil, fmt.Errorf("evolution.ParseWebhook %s: %w", event, err)
		}
		ev.Instance = env.Instance
		events = append(events, ev)
	}
	return events, nil
}

// eventName normalises "messages.upsert", "MESSAGES_UPSERT" and the
// by-events path form "messages-upsert" to the dotted lower-case name, so
// the two delivery modes give the same DedupeKey.
func eventName(s string) string {
	s = strings.ToLower(strings.Trim(strings.TrimSpace(s), "/"))
	return strings.NewReplacer("_", ".", "-", ".").Replace(s)
}

// webhookParser holds what every event of one webhook shares.
type webhookParser struct {
	event    string
	dateTime string
}

// items splits the data of message events, which older gateways and
// batched deliveries send as arrays, into single payloads. Other events
// keep their data whole.
func (p webhookParser) items(data json.RawMessage) []json.RawMessage {
	switch p.event {
	case "messages.upsert", "messages.update", "send.message":
		var list []json.RawMessage
		if t := bytes.TrimSpace(data); len(t) > 0 && t[0] == '[' && json.Unmarshal(t, &list) == nil {
			return list
		}
	}
	return []json.RawMessage{data}
}

func (p webhookParser) parse(data json.RawMessage) (tenants.GatewayEvent, error) {
	switch p.event {
	case "connection.update":
		return p.connection(data)
	case "qrcode.updated":
		return p.qrcode(data)
	case "messages.update":
		return p.messageUpdate(data)
	case "send.message":
		return p.sendMessage(data)
	case "messages.upsert":
		return p.upsert(data)
	case "logout.instance", "remove.instance":
		return p.connectionEvent(&tenants.ConnectionChange{State: tenants.StateClose}, "close"), nil
	}
	return p.ignored(p.dateTime), nil
}

// decode unmarshals data into v; a null or absent data leaves v zero.
func decode(data json.RawMessage, v any) error {
	if len(data) == 0 || string(data) == "null" {
		return nil
	}
	return json.Unmarshal(data, v)
}

func (p webhookParser) ignored(id string) tenants.GatewayEvent {
	return tenants.GatewayEvent{Kind: tenants.EventIgnored, DedupeKey: p.event + ":" + id}
}

func (p webhookParser) connectionEvent(c *tenants.ConnectionChange, state string) tenants.GatewayEvent {
	return tenants.GatewayEvent{Kind: tenants.EventConnection, DedupeKey: p.event + ":" + state + ":" + p.dateTime, Connection: c}
}

type connectionData struct {
	State        string    `json:"state"`
	Wuid         string    `json:"wuid"`
	ProfileName  string    `json:"profileName"`
	StatusReason flexInt64 `json:"statusReason"`
}

// connection maps CONNECTION_UPDATE. "refused" is the end of a linking
// attempt (QR limit reached): the gateway logs out and sits in close.
func (p webhookParser) connection(data json.RawMessage) (tenants.GatewayEvent, error) {
	var d connectionData
	if err := decode(data, &d); err != nil {
		return tenants.GatewayEvent{}, err
	}
	c := &tenants.ConnectionChange{Number: Digits(d.Wuid), ProfileName: d.ProfileName, Reason: int(d.StatusReason.v)}
	switch d.State {
	case "refused":
		c.State, c.Refused = tenants.StateClose, true
	case string(tenants.StateOpen), string(tenants.StateConnecting), string(tenants.StateClose):
		c.State = tenants.ConnState(d.State)
	default:
		return p.ignored(d.State + ":" + p.dateTime), nil
	}
	return p.connectionEvent(c, d.State), nil
}

type qrData struct {
	QRCode *struct {
		PairingCode string `json:"pairingCode"`
		Code        string `json:"code"`
		Base64      string `json:"base64"`
	} `json:"qrcode"`
	// The QR-limit variant: {message, statusCode:500} instead of qrcode.
	Message    string    `json:"message"`
	StatusCode flexInt64 `json:"statusCode"`
}

// qrcode maps QRCODE_UPDATED. Its limit-reached variant carries no QR and
// ends the attempt, so it becomes a refused connection event.
func (p webhookParser) qrcode(data json.RawMessage) (tenants.GatewayEvent, error) {
	var d qrData
	if err := decode(data, &d); err != nil {
		return tenants.GatewayEvent{}, err
	}
	if d.QRCode == nil || (d.QRCode.Code == "" && d.QRCode.Base64 == "" && d.QRCode.PairingCode == "") {
		if d.Message == "" && !d.StatusCode.set {
			return p.ignored("empty:" + p.dateTime), nil
		}
		c := &tenants.ConnectionChange{State: tenants.StateClose, Refused: true, Reason: int(d.StatusCode.v)}
		return p.connectionEvent(c, "refused"), nil
	}
	qr := &tenants.QRCode{State: tenants.StateConnecting, Image: d.QRCode.Base64, Code: d.QRCode.Code, PairingCode: d.QRCode.PairingCode}
	key := p.event + ":" + firstNonEmpty(qr.Code, qr.PairingCode) + ":" + p.dateTime
	return tenants.GatewayEvent{Kind: tenants.EventQR, DedupeKey: key, QR: qr}, nil
}

type updateData struct {
	KeyID  string          `json:"keyId"`
	FromMe *bool           `json:"fromMe"`
	Status json.RawMessage `json:"status"`
	// Key is where pre-2.3 gateways put the id and fromMe.
	Key *struct {
		ID     string `json:"id"`
		FromMe *bool  `json:"fromMe"`
	} `json:"key"`
}

// messageUpdate maps MESSAGES_UPDATE to a delivery status of a message we
// sent. Updates for messages we did not send (fromMe false) are ignored;
// when fromMe is missing the update is kept, since an unknown id simply
// matches nothing downstream while a dropped "read" is lost for good.
func (p webhookParser) messageUpdate(data json.RawMessage) (tenants.GatewayEvent, error) {
	var d updateData
	if err := decode(data, &d); err != nil {
		return tenants.GatewayEvent{}, err
	}
	id, fromMe := d.KeyID, d.FromMe
	if d.Key != nil {
		id = firstNonEmpty(id, d.Key.ID)
		if fromMe == nil {
			fromMe = d.Key.FromMe
		}
	}
	status, ok := ackStatus(d.Status)
	if id == "" || !ok || (fromMe != nil && !*fromMe) {
		return p.ignored(id + ":" + strings.Trim(string(d.Status), `"`)), nil
	}
	return p.statusEvent(id, status), nil
}

func (p webhookParser) statusEvent(id string, s tenants.MessageStatus) tenants.GatewayEvent {
	return tenants.GatewayEvent{
		Kind: tenants.EventMessageStatus, DedupeKey: p.event + ":" + id + ":" + string(s),
		Status: &tenants.StatusChange{MessageID: id, Status: s},
	}
}

// ackNames is Baileys' numeric ack order, for gateways that send numbers.
var ackNames = [...]string{"ERROR", "PENDING", "SERVER_ACK", "DELIVERY_ACK", "READ", "PLAYED"}

// ackStatus maps a Baileys ack to a domain status. PENDING (not yet at the
// server) and DELETED tell us nothing; a missing status is SERVER_ACK, as
// v2.3.7 defaults it.
func ackStatus(raw json.RawMessage) (tenants.MessageStatus, bool) {
	name := "SERVER_ACK"
	var n int
	switch {
	case len(raw) == 0 || string(raw) == "null":
	case json.Unmarshal(raw, &name) == nil:
	case json.Unmarshal(raw, &n) == nil && n >= 0 && n < len(ackNames):
		name = ackNames[n]
	default:
		return "", false
	}
	switch strings.ToUpper(name) {
	case "SERVER_ACK":
		return tenants.StatusSent, true
	case "DELIVERY_ACK":
		return tenants.StatusDelivered, true
	case "READ", "PLAYED":
		return tenants.StatusRead, true
	case "ERROR":
		return tenants.StatusFailed, true
	}
	return "", false
}

// sendMessage maps SEND_MESSAGE, the gateway's echo of an API send: the
// message has reached the gateway's socket, so it counts as sent. For a
// poll it also carries the recipient and question, so a send whose HTTP
// answer was lost (Aibud killed mid-call) can still be matched to its
// message and is never sent twice.
func (p webhookParser) sendMessage(data json.RawMessage) (tenants.GatewayEvent, error) {
	type pollCreation struct {
		Name string `json:"name"`
	}
	var d struct {
		Key     messageKey `json:"key"`
		Message struct {
			PollV3 *pollCreation `json:"pollCreationMessageV3"`
			PollV2 *pollCreation `json:"pollCreationMessageV2"`
			Poll   *pollCreation `json:"pollCreationMessage"`
		} `json:"message"`
	}
	if err := decode(data, &d); err != nil {
		return tenants.GatewayEvent{}, err
	}
	if d.Key.ID == "" {
		return p.ignored(p.dateTime), nil
	}
	ev := p.statusEvent(d.Key.ID, tenants.StatusSent)
	for _, poll := range []*pollCreation{d.Message.PollV3, d.Message.PollV2, d.Message.Poll} {
		if poll != nil && poll.Name != "" {
			ev.Status.To, _ = sender(d.Key)
			ev.Status.PollName = poll.Name
			break
		}
	}
	return ev, nil
}

// envelopeTime is the fallback timestamp for messages without their own.
func (p webhookParser) envelopeTime() time.Time {
	t, err := time.Parse(time.RFC3339Nano, p.dateTime)
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}
