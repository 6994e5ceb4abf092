package evolutionsim

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// The connection states Evolution keeps in memory (and in the Prisma enum).
// "refused" exists only inside a CONNECTION_UPDATE webhook.
const (
	stateOpen       = "open"
	stateConnecting = "connecting"
	stateClose      = "close"
)

// instance is one simulated Baileys session. Every field is guarded by
// Sim.mu; name, id, token and integration never change after creation.
type instance struct {
	seq         int64
	id          string
	name        string
	token       string
	integration string
	number      string // the create request's number, stored like the DB column
	settingsID  string
	settings    instanceSettings
	createdAt   time.Time
	updatedAt   time.Time

	state         string
	wuid          string // own JID once connected; kept after a logout, like "sender"
	profileName   string
	connectedOnce bool
	answered      bool // a connect/create answer was given (EmptyFirstQR applies once)

	qr         qrState
	pairNumber string             // number of the current connecting attempt, for pairing codes
	stopQR     context.CancelFunc // stops the QR ticker of the current attempt

	disconnectionCode   int
	disconnectionAt     time.Time
	disconnectionObject string

	webhook  *webhookConfig
	messages map[string]*sentRecord // messages this instance sent, by key id
	received int                    // inbound messages, for _count.Message
}

// instanceSettings is the Setting row, filled from the create request.
type instanceSettings struct {
	RejectCall      bool   `json:"rejectCall"`
	MsgCall         string `json:"msgCall"`
	GroupsIgnore    bool   `json:"groupsIgnore"`
	AlwaysOnline    bool   `json:"alwaysOnline"`
	ReadMessages    bool   `json:"readMessages"`
	ReadStatus      bool   `json:"readStatus"`
	SyncFullHistory bool   `json:"syncFullHistory"`
	WavoipToken     string `json:"wavoipToken"`
}

// createRequest is the body of POST /instance/create. Only the nested
// webhook object is read: the flat v1 keys are ignored, as in v2.3.7.
type createRequest struct {
	InstanceName string          `json:"instanceName"`
	Integration  string          `json:"integration"`
	Token        string          `json:"token"`
	QRCode       bool            `json:"qrcode"`
	Number       string          `json:"number"`
	Webhook      *webhookRequest `json:"webhook"`
	instanceSettings
}

// guardInstance runs Evolution's guard chain for routes with an instance
// name: instanceExistsGuard answers 404 for an unknown name before the
// apikey guard looks at the key, which accepts the global key or the
// instance's own token.
func (s *Sim) guardInstance(w http.ResponseWriter, r *http.Request) (*instance, bool) {
	name := r.PathValue("instance")
	s.mu.Lock()
	inst := s.instances[name]
	s.mu.Unlock()
	if inst == nil {
		writeEnvelope(w, http.StatusNotFound, []string{fmt.Sprintf("The %q instance does not exist", name)})
		return nil, false
	}
	key := r.Header.Get("apikey")
	if key == "" || (key != s.cfg.GlobalKey && key != inst.token) {
		writeUnauthorized(w)
		return nil, false
	}
	return inst, true
}

// handleCreate implements POST /instance/create. Order matters and follows
// the guards: a taken name is 403 before the key is checked, then only the
// global key may create, then the body is validated.
func (s *Sim) handleCreate(w http.ResponseWriter, r *http.Request) {
	var req createRequest
	if err := decodeJSON(r, &req); err != nil {
		writeEnvelope(w, http.StatusBadRequest, []string{err.Error()})
		return
	}
	s.mu.Lock()
	_, taken := s.instances[req.InstanceName]
	s.mu.Unlock()
	if taken {
		writeEnvelope(w, http.StatusForbidden, []string{fmt.Sprintf("This name %q is already in use.", req.InstanceName)})
		return
	}
	if r.Header.Get("apikey") != s.cfg.GlobalKey {
		writeUnauthorized(w)
		return
	}
	if msg := validateCreate(req); msg != "" {
		writeEnvelope(w, http.StatusBadRequest, []string{msg})
		return
	}
	inst, ok := s.addInstance(req)
	if !ok {
		writeEnvelope(w, http.StatusForbidden, []string{fmt.Sprintf("This name %q is already in use.", req.InstanceName)})
		return
	}
	var qr any
	if req.QRCode {
		if !s.hold(w, r, s.cfg.ConnectWait) {
			return
		}
		qr = s.connectAnswer(inst)
	}
	s.mu.Lock()
	resp := createResponseLocked(inst, qr)
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, resp)
}

func validateCreate(req createRequest) string {
	if req.InstanceName == "" {
		return `instance requires property "instanceName"`
	}
	if url.PathEscape(req.InstanceName) != req.InstanceName {
		return "instanceName must be usable in a URL path" // the sim's own limit; Evolution is laxer
	}
	switch req.Integration {
	case "WHATSAPP-BAILEYS", "WHATSAPP-BUSINESS", "EVOLUTION":
	default:
		return "Invalid integration"
	}
	if req.Webhook != nil && req.Webhook.URL != nil && *req.Webhook.URL != "" && !validWebhookURL(*req.Webhook.URL) {
		return `Invalid "url" property in webhook`
	}
	return ""
}

// addInstance stores a new instance (in state close, as Baileys instances
// start), applies its webhook, emits INSTANCE_CREATE and, for qrcode:true,
// starts connecting. It reports false if the name was taken meanwhile.
func (s *Sim) addInstance(req createRequest) (*instance, bool) {
	now := s.now()
	token := req.Token
	if token == "" {
		token = s.rnd.token()
	}
	inst := &instance{
		id:          s.rnd.uuid(),
		name:        req.InstanceName,
		token:       token,
		integration: req.Integration,
		number:      req.Number,
		settingsID:  s.rnd.cuid(),
		settings:    req.instanceSettings,
		createdAt:   now,
		updatedAt:   now,
		state:       stateClose,
		messages:    map[string]*sentRecord{},
	}
	if req.Webhook != nil && req.Webhook.URL != nil && *req.Webhook.URL != "" {
		enabled := true // create forces enabled, whatever was sent
		req.Webhook.Enabled = &enabled
		inst.webhook = s.newWebhookConfig(*req.Webhook)
	}
	var first *qrState
	if req.QRCode { // encoded before locking: it takes milliseconds
		q := s.newQR(pairingDigits(req.Number) != "")
		first = &q
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, taken := s.instances[inst.name]; taken {
		return nil, false
	}
	s.seq++
	inst.seq = s.seq
	s.instances[inst.name] = inst
	s.emitLocked(inst, eventInstanceCreate, map[string]any{"instanceName": inst.name, "instanceId": inst.id})
	if req.QRCode {
		s.startConnectingLocked(inst, req.Number, first)
	}
	s.log.Info("evolutionsim: instance created", "instance", inst.name, "qrcode", req.QRCode)
	return inst, true
}

// createResponseLocked builds the 201 body. Fields Evolution leaves
// undefined are omitted, so "webhook" is {} without a webhook and
// "qrcode" is present only when the request asked for one.
func createResponseLocked(inst *instance, qr any) map[string]any {
	hook := map[string]any{}
	if wh := inst.webhook; wh != nil {
		hook = map[string]any{
			"webhookUrl":      wh.url,
			"webhookHeaders":  wh.headers,
			"webhookByEvents": wh.byEvents,
			"webhookBase64":   wh.base64,
		}
	}
	resp := map[string]any{
		"instance": map[string]any{
			"instanceName":          inst.name,
			"instanceId":            inst.id,
			"integration":           inst.integration,
			"webhookWaBusiness":     nil,
			"accessTokenWaBusiness": "",
			"status":                inst.state,
		},
		"hash":      inst.token,
		"webhook":   hook,
		"websocket": map[string]any{},
		"rabbitmq":  map[string]any{},
		"nats":      map[string]any{},
		"sqs":       map[string]any{},
		"settings":  inst.settings,
	}
	if qr != nil {
		resp["qrcode"] = qr
	}
	return resp
}

// instanceRow is a Prisma Instance row as fetchInstances returns it,
// relations included except Webhook, which Evolution leaves out.
type instanceRow struct {
	ID                      string         `json:"id"`
	Name                    string         `json:"name"`
	ConnectionStatus        string         `json:"connectionStatus"`
	OwnerJid                *string        `json:"ownerJid"`
	ProfileName             *string        `json:"profileName"`
	ProfilePicURL           *string        `json:"profilePicUrl"`
	Integration             string         `json:"integration"`
	Number                  *string        `json:"number"`
	BusinessID              *string        `json:"businessId"`
	Token                   string         `json:"token"`
	ClientName              string         `json:"clientName"`
	DisconnectionReasonCode *int           `json:"disconnectionReasonCode"`
	DisconnectionObject     *string        `json:"disconnectionObject"`
	DisconnectionAt         *string        `json:"disconnectionAt"`
	CreatedAt               string         `json:"createdAt"`
	UpdatedAt               string         `json:"updatedAt"`
	Chatwoot                any            `json:"Chatwoot"`
	Proxy                   any            `json:"Proxy"`
	Rabbitmq                any            `json:"Rabbitmq"`
	Nats                    any            `json:"Nats"`
	Sqs                     any            `json:"Sqs"`
	Websocket               any            `json:"Websocket"`
	Setting                 settingRow     `json:"Setting"`
	Count                   map[string]int `json:"_count"`
}

type settingRow struct {
	ID string `json:"id"`
	instanceSettings
	CreatedAt  string `json:"createdAt"`
	UpdatedAt  string `json:"updatedAt"`
	InstanceID string `json:"instanceId"`
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func rowLocked(inst *instance) instanceRow {
	row := instanceRow{
		ID:               inst.id,
		Name:             inst.name,
		ConnectionStatus: inst.state,
		OwnerJid:         nullable(inst.wuid),
		ProfileName:      nullable(inst.profileName),
		Integration:      inst.integration,
		Number:           nullable(inst.number),
		Token:            inst.token,
		ClientName:       "evolution",
		CreatedAt:        isoMillis(inst.createdAt),
		UpdatedAt:        isoMillis(inst.updatedAt),
		Setting: settingRow{
			ID:               inst.settingsID,
			instanceSettings: inst.settings,
			CreatedAt:        isoMillis(inst.createdAt),
			UpdatedAt:        isoMillis(inst.createdAt),
			InstanceID:       inst.id,
		},
		Count: map[string]int{"Message": len(inst.messages) + inst.received, "Contact": 0, "Chat": 0},
	}
	if inst.disconnectionCode != 0 {
		code, at := inst.disconnectionCode, isoMillis(inst.disconnectionAt)
		row.DisconnectionReasonCode = &code
		row.DisconnectionAt = &at
		row.DisconnectionObject = nullable(inst.disconnectionObject)
	}
	return row
}
