package evolutionsim

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// subscribableEvents is EventController.events in v2.3.7: the names
// webhook/set accepts. GROUPS_UPDATE is missing on purpose, like upstream.
var subscribableEvents = []string{
	"APPLICATION_STARTUP", "QRCODE_UPDATED", "MESSAGES_SET", "MESSAGES_UPSERT", "MESSAGES_EDITED",
	"MESSAGES_UPDATE", "MESSAGES_DELETE", "SEND_MESSAGE", "SEND_MESSAGE_UPDATE", "CONTACTS_SET",
	"CONTACTS_UPSERT", "CONTACTS_UPDATE", "PRESENCE_UPDATE", "CHATS_SET", "CHATS_UPSERT",
	"CHATS_UPDATE", "CHATS_DELETE", "GROUPS_UPSERT", "GROUP_UPDATE", "GROUP_PARTICIPANTS_UPDATE",
	"CONNECTION_UPDATE", "LABELS_EDIT", "LABELS_ASSOCIATION", "CALL", "TYPEBOT_START",
	"TYPEBOT_CHANGE_STATUS", "REMOVE_INSTANCE", "LOGOUT_INSTANCE", "INSTANCE_CREATE",
	"INSTANCE_DELETE", "STATUS_INSTANCE",
}

// webhookRequest is the nested "webhook" object of create and webhook/set.
type webhookRequest struct {
	Enabled  *bool             `json:"enabled"`
	URL      *string           `json:"url"`
	ByEvents bool              `json:"byEvents"`
	Base64   bool              `json:"base64"`
	Headers  map[string]string `json:"headers"`
	Events   []string          `json:"events"`
}

// webhookConfig is an instance's Webhook row.
type webhookConfig struct {
	id        string
	url       string
	headers   map[string]string
	enabled   bool
	events    []string // empty means every event
	byEvents  bool
	base64    bool
	createdAt time.Time
	updatedAt time.Time
}

func (s *Sim) newWebhookConfig(req webhookRequest) *webhookConfig {
	now := s.now()
	wh := &webhookConfig{
		id:        s.rnd.cuid(),
		headers:   maps.Clone(req.Headers),
		enabled:   req.Enabled != nil && *req.Enabled,
		events:    slices.Clone(req.Events),
		byEvents:  req.ByEvents,
		base64:    req.Base64,
		createdAt: now,
		updatedAt: now,
	}
	if req.URL != nil {
		wh.url = *req.URL
	}
	if wh.headers == nil {
		wh.headers = map[string]string{}
	}
	if !wh.enabled { // Evolution clears the events of a disabled webhook
		wh.events = []string{}
	}
	if wh.events == nil {
		wh.events = []string{}
	}
	return wh
}

// row is the Webhook row returned by webhook/set and webhook/find.
func (wh *webhookConfig) row(instanceID string) map[string]any {
	return map[string]any{
		"id":              wh.id,
		"url":             wh.url,
		"headers":         wh.headers,
		"enabled":         wh.enabled,
		"events":          wh.events,
		"webhookByEvents": wh.byEvents,
		"webhookBase64":   wh.base64,
		"createdAt":       isoMillis(wh.createdAt),
		"updatedAt":       isoMillis(wh.updatedAt),
		"instanceId":      instanceID,
	}
}

func validWebhookURL(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// handleWebhookSet implements POST /webhook/set/{instance}. Its schema
// requires the nested object; the flat keys of the public docs get 400.
func (s *Sim) handleWebhookSet(w http.ResponseWriter, r *http.Request) {
	inst, ok := s.guardInstance(w, r)
	if !ok {
		return
	}
	f, err := newSchemaFields(r)
	if err != nil {
		writeEnvelope(w, http.StatusBadRequest, []string{err.Error()})
		return
	}
	if !f.has("webhook") {
		writeEnvelope(w, http.StatusBadRequest, []string{`instance requires property "webhook"`})
		return
	}
	var req webhookRequest
	if f.decode("webhook", "object", &req) {
		validateWebhookRequest(f, req)
	}
	if len(f.msgs) > 0 {
		writeEnvelope(w, http.StatusBadRequest, f.msgs)
		return
	}
	if !validWebhookURL(*req.URL) {
		writeEnvelope(w, http.StatusBadRequest, []string{`Invalid "url" property in webhook`})
		return
	}
	wh := s.newWebhookConfig(req)
	s.mu.Lock()
	if old := inst.webhook; old != nil {
		wh.id, wh.createdAt = old.id, old.createdAt
	}
	inst.webhook = wh
	row := wh.row(inst.id)
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, row)
}

func validateWebhookRequest(f *schemaFields, req webhookRequest) {
	if req.Enabled == nil {
		f.fail(`webhook requires property "enabled"`)
	}
	if req.URL == nil {
		f.fail(`webhook requires property "url"`)
	} else if strings.TrimSpace(*req.URL) == "" {
		f.fail(`The "url" cannot be empty`)
	}
	for i, event := range req.Events {
		if !slices.Contains(subscribableEvents, event) {
			f.fail("webhook.events[%d] is not one of enum values: %s", i, strings.Join(subscribableEvents, ","))
		}
	}
}

// handleWebhookFind implements GET /webhook/find/{instance}; without a
// webhook row Evolution answers 200 with a JSON null.
func (s *Sim) handleWebhookFind(w http.ResponseWriter, r *http.Request) {
	inst, ok := s.guardInstance(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	var row map[string]any
	if inst.webhook != nil {
		row = inst.webhook.row(inst.id)
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, row)
}

// envelope is the body of every webhook POST (sendDataWebhook).
type envelope struct {
	Event       string `json:"event"`
	Instance    string `json:"instance"`
	Data        any    `json:"data"`
	Destination string `json:"destination"`
	DateTime    string `json:"date_time"`
	Sender      string `json:"sender,omitempty"`
	ServerURL   string `json:"server_url"`
	APIKey      string `json:"apikey"`
}

// emitLocked sends event with data to the instance's webhook if it is
// enabled and subscribed (an empty list means every event). The body is
// encoded now, so later state changes cannot leak into it; delivery is the
// dispatcher's job.
func (s *Sim) emitLocked(inst *instance, event string, data any) {
	wh := inst.webhook
	if wh == nil || !wh.enabled || wh.url == "" {
		return
	}
	name := eventConstant(event)
	if len(wh.events) > 0 && !slices.Contains(wh.events, name) {
		return
	}
	target := wh.url
	if wh.byEvents {
		target = wh.url + "/" + strings.ToLower(strings.ReplaceAll(name, "_", "-"))
	}
	now := s.now()
	env := envelope{
		Event:       event,
		Instance:    inst.name,
		Data:        data,
		Destination: wh.url,
		DateTime:    isoMillis(now),
		ServerURL:   s.cfg.ServerURL,
		APIKey:      inst.token,
	}
	if inst.connectedOnce {
		env.Sender = inst.wuid
	}
	body, err := json.Marshal(env)
	if err != nil {
		s.log.Error("evolutionsim: encoding webhook failed", "instance", inst.name, "event", event, "err", err)
		return
	}
	s.hooks.enqueue(inst.name, webhookJob{
		event:   event,
		url:     target,
		headers: webhookHeaders(wh.headers, now),
		body:    body,
	})
}

// webhookHeaders returns the custom headers to send. A "jwt_key" entry is
// not sent as such: Evolution replaces it with an HS256 bearer token
// {iat, exp=iat+600, app:"evolution", action:"webhook"} signed with it.
func webhookHeaders(custom map[string]string, now time.Time) map[string]string {
	headers := maps.Clone(custom)
	if secret, ok := headers["jwt_key"]; ok {
		delete(headers, "jwt_key")
		headers["Authorization"] = "Bearer " + webhookJWT(secret, now)
	}
	return headers
}

func webhookJWT(secret string, now time.Time) string {
	enc := base64.RawURLEncoding.EncodeToString
	iat := now.Unix()
	claims := fmt.Sprintf(`{"iat":%d,"exp":%d,"app":"evolution","action":"webhook"}`, iat, iat+600)
	unsigned := enc([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + enc([]byte(claims))
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(unsigned))
	return unsigned + "." + enc(mac.Sum(nil))
}
