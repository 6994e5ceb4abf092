package evolutionsim

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"time"
)

// FailMode makes sends to one number fail the way Evolution fails them.
type FailMode string

// Failure modes for FailNumber.
const (
	FailNone          FailMode = "none"            // sends succeed
	FailNotOnWhatsApp FailMode = "not_on_whatsapp" // 400 with [{jid, exists:false, number}]
	FailServerError   FailMode = "server_error"    // 500 error envelope
)

// Call is one REST call the simulator received (control calls excluded).
type Call struct {
	At       time.Time       `json:"at"`
	Method   string          `json:"method"`
	Path     string          `json:"path"`
	Query    string          `json:"query,omitempty"`
	Instance string          `json:"instance"`
	Body     json.RawMessage `json:"body"`
}

// SentMessage is one message the simulator accepted for sending: the
// "phone side" log tests use to check that every recipient got exactly
// one message. Number is the recipient's JID user part (digits for a phone).
type SentMessage struct {
	Instance string    `json:"instance"`
	Number   string    `json:"number"`
	ID       string    `json:"id"`
	Type     string    `json:"type"` // "text" or "poll"
	Text     string    `json:"text,omitempty"`
	Name     string    `json:"name,omitempty"`
	Options  []string  `json:"options,omitempty"`
	At       time.Time `json:"at"`
}

// Delivery is one attempt to post a webhook. Status is 0 when the attempt
// got no HTTP answer, and Error says why.
type Delivery struct {
	Event   string    `json:"event"`
	URL     string    `json:"url"`
	Attempt int       `json:"attempt"`
	Status  int       `json:"status"`
	Error   string    `json:"error,omitempty"`
	At      time.Time `json:"at"`
}

// InstanceInfo is a snapshot of one simulated instance.
type InstanceInfo struct {
	Name        string       `json:"name"`
	ID          string       `json:"id"`
	Token       string       `json:"token"`
	Integration string       `json:"integration"`
	State       string       `json:"state"` // open, connecting or close
	OwnerJID    string       `json:"ownerJid,omitempty"`
	ProfileName string       `json:"profileName,omitempty"`
	QRCount     int          `json:"qrCount"`
	QRCode      string       `json:"qrCode,omitempty"`
	PairingCode string       `json:"pairingCode,omitempty"`
	Webhook     *WebhookInfo `json:"webhook,omitempty"`
}

// WebhookInfo is an instance's webhook configuration.
type WebhookInfo struct {
	URL      string            `json:"url"`
	Enabled  bool              `json:"enabled"`
	ByEvents bool              `json:"byEvents"`
	Base64   bool              `json:"base64"`
	Headers  map[string]string `json:"headers"`
	Events   []string          `json:"events"`
}

// FailNumber sets how sends to number fail from now on; FailNone (or "")
// makes them succeed again.
func (s *Sim) FailNumber(number string, mode FailMode) {
	key := jidUser(createJid(number))
	s.mu.Lock()
	defer s.mu.Unlock()
	if mode == FailNone || mode == "" {
		delete(s.failures, key)
		return
	}
	s.failures[key] = mode
}

// SetLatency delays every REST call by d before it is handled.
func (s *Sim) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = max(d, 0)
}

// Calls returns every REST call received, in order.
func (s *Sim) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// Sent returns every message accepted for sending, in order.
func (s *Sim) Sent() []SentMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.sent)
}

// Deliveries returns every webhook attempt made, in the order they ended.
func (s *Sim) Deliveries() []Delivery { return s.hooks.snapshot() }

// Instance returns a snapshot of the named instance.
func (s *Sim) Instance(name string) (InstanceInfo, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	inst := s.instances[name]
	if inst == nil {
		return InstanceInfo{}, false
	}
	info := InstanceInfo{
		Name:        inst.name,
		ID:          inst.id,
		Token:       inst.token,
		Integration: inst.integration,
		State:       inst.state,
		OwnerJID:    inst.wuid,
		ProfileName: inst.profileName,
		QRCount:     inst.qr.count,
		QRCode:      inst.qr.code,
		PairingCode: inst.qr.pairingCode,
	}
	if wh := inst.webhook; wh != nil {
		info.Webhook = &WebhookInfo{
			URL: wh.url, Enabled: wh.enabled, ByEvents: wh.byEvents, Base64: wh.base64,
			Headers: maps.Clone(wh.headers), Events: slices.Clone(wh.events),
		}
	}
	return info, true
}

// Reset forgets everything: instances (their QR tickers stop), logs,
// number failures, latency and webhooks not yet delivered.
func (s *Sim) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, inst := range s.instances {
		s.stopQRLocked(inst)
	}
	s.instances = map[string]*instance{}
	s.lids = map[string]string{}
	s.calls = nil
	s.sent = nil
	s.failures = map[string]FailMode{}
	s.latency = 0
	s.hooks.reset()
	s.log.Info("evolutionsim: reset")
}

// registerControlRoutes serves the control API: JSON, no auth, for tests
// and demos. Errors are {"error": "..."} with 400, 404 or 409.
func (s *Sim) registerControlRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /_sim/instances/{instance}/scan", s.handleScan)
	mux.HandleFunc("POST /_sim/instances/{instance}/drop", s.handleDrop)
	mux.HandleFunc("POST /_sim/instances/{instance}/reply", s.handleReply)
	mux.HandleFunc("POST /_sim/instances/{instance}/vote", s.handleVote)
	mux.HandleFunc("GET /_sim/instances/{instance}", s.handleInstanceInfo)
	mux.HandleFunc("POST /_sim/numbers/{number}/fail", s.handleFailNumber)
	mux.HandleFunc("POST /_sim/latency", s.handleLatency)
	mux.HandleFunc("GET /_sim/calls", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, http.StatusOK, nonNil(s.Calls())) })
	mux.HandleFunc("GET /_sim/sent", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, http.StatusOK, nonNil(s.Sent())) })
	mux.HandleFunc("GET /_sim/webhooks", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, http.StatusOK, nonNil(s.Deliveries())) })
	mux.HandleFunc("POST /_sim/reset", func(w http.ResponseWriter, _ *http.Request) {
		s.Reset()
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	})
	mux.HandleFunc("/_sim/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no control route " + r.Method + " " + r.URL.Path})
	})
}

// nonNil makes an empty log encode as [] rather than null.
func nonNil[T any](list []T) []T {
	if list == nil {
		return []T{}
	}
	return list
}

// decodeControl reads a control body, answering 400 itself on bad JSON.
func decodeControl(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := decodeJSON(r, v); err != nil {
		writeControlError(w, fmt.Errorf("%w: %v", ErrInvalid, err))
		return false
	}
	return true
}

func (s *Sim) writeInstanceInfo(w http.ResponseWriter, name string) {
	info, ok := s.Instance(name)
	if !ok {
		writeControlError(w, fmt.Errorf("instance %q: %w", name, ErrUnknownInstance))
		return
	}
	writeJSON(w, http.StatusOK, info)
}

func (s *Sim) handleInstanceInfo(w http.ResponseWriter, r *http.Request) {
	s.writeInstanceInfo(w, r.PathValue("instance"))
}

func (s *Sim) handleScan(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Number      string `json:"number"`
		ProfileName string `json:"profileName"`
	}
	if !decodeControl(w, r, &body) {
		return
	}
	name := r.PathValue("instance")
	if err := s.Scan(name, body.Number, body.ProfileName); err != nil {
		writeControlError(w, err)
		return
	}
	s.writeInstanceInfo(w, name)
}

func (s *Sim) handleDrop(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Reason int `json:"reason"`
	}
	if !decodeControl(w, r, &body) {
		return
	}
	name := r.PathValue("instance")
	if err := s.Drop(name, body.Reason); err != nil {
		writeControlError(w, err)
		return
	}
	s.writeInstanceInfo(w, name)
}

func (s *Sim) handleReply(w http.ResponseWriter, r *http.Request) {
	var body Reply
	if !decodeControl(w, r, &body) {
		return
	}
	id, err := s.Reply(r.PathValue("instance"), body)
	if err != nil {
		writeControlError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"id": id})
}

func (s *Sim) handleVote(w http.ResponseWriter, r *http.Request) {
	var body Vote
	if !decodeControl(w, r, &body) {
		return
	}
	id, err := s.Vote(r.PathValue("instance"), body)
	if err != nil {
		writeControlError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"id": id})
}

func (s *Sim) handleFailNumber(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Mode FailMode `json:"mode"`
	}
	if !decodeControl(w, r, &body) {
		return
	}
	switch body.Mode {
	case FailNone, FailNotOnWhatsApp, FailServerError:
	default:
		writeControlError(w, fmt.Errorf("%w: mode must be none, not_on_whatsapp or server_error", ErrInvalid))
		return
	}
	number := r.PathValue("number")
	s.FailNumber(number, body.Mode)
	writeJSON(w, http.StatusOK, map[string]string{"number": jidUser(createJid(number)), "mode": string(body.Mode)})
}

func (s *Sim) handleLatency(w http.ResponseWriter, r *http.Request) {
	var body struct {
		MS int `json:"ms"`
	}
	if !decodeControl(w, r, &body) {
		return
	}
	if body.MS < 0 {
		writeControlError(w, fmt.Errorf("%w: ms must not be negative", ErrInvalid))
		return
	}
	s.SetLatency(time.Duration(body.MS) * time.Millisecond)
	writeJSON(w, http.StatusOK, map[string]int{"ms": body.MS})
}
