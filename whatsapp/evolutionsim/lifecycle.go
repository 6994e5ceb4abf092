package evolutionsim

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// stateObject is the body of connectionState, and of connect on an open
// instance.
func stateObject(inst *instance) map[string]any {
	return map[string]any{"instance": map[string]any{"instanceName": inst.name, "state": inst.state}}
}

// qrObjectLocked is instance.qrCode as connect returns it. Before the first
// QR of an attempt Evolution holds only {count:0}, and that is what it sends.
func qrObjectLocked(inst *instance) map[string]any {
	if inst.qr.count == 0 {
		return map[string]any{"count": 0}
	}
	return map[string]any{
		"pairingCode": nullable(inst.qr.pairingCode),
		"code":        inst.qr.code,
		"base64":      inst.qr.base64,
		"count":       inst.qr.count,
	}
}

// connectAnswer is the QR object returned after connect/create waited.
// Under Config.EmptyFirstQR the first answer an instance ever gives is
// {"count":0}, the race Evolution loses when Baileys is slower than its
// 2 s (connect) or 5 s (create) sleep.
func (s *Sim) connectAnswer(inst *instance) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	first := !inst.answered
	inst.answered = true
	if first && s.cfg.EmptyFirstQR {
		return map[string]any{"count": 0}
	}
	return qrObjectLocked(inst)
}

// handleConnect implements GET /instance/connect/{instance}. In state
// connecting the number parameter is ignored (#2197); only a connect from
// close can ask for a pairing code.
func (s *Sim) handleConnect(w http.ResponseWriter, r *http.Request) {
	inst, ok := s.guardInstance(w, r)
	if !ok {
		return
	}
	number := r.URL.Query().Get("number")
	var first *qrState
	s.mu.Lock()
	closed := inst.state == stateClose
	s.mu.Unlock()
	if closed { // encode the first QR before locking: it takes milliseconds
		q := s.newQR(pairingDigits(number) != "")
		first = &q
	}
	s.mu.Lock()
	if s.instances[inst.name] != inst { // deleted since the guard ran
		s.mu.Unlock()
		writeEnvelope(w, http.StatusNotFound, []string{fmt.Sprintf("The %q instance does not exist", inst.name)})
		return
	}
	switch inst.state {
	case stateOpen:
		resp := stateObject(inst)
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, resp)
		return
	case stateClose:
		s.startConnectingLocked(inst, number, first)
		s.mu.Unlock()
		if !s.hold(w, r, s.cfg.ConnectWait) {
			return
		}
	default:
		s.mu.Unlock()
	}
	writeJSON(w, http.StatusOK, s.connectAnswer(inst))
}

func (s *Sim) handleConnectionState(w http.ResponseWriter, r *http.Request) {
	inst, ok := s.guardInstance(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	resp := stateObject(inst)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, resp)
}

// handleFetchInstances implements GET /instance/fetchInstances. It has no
// instance in the path, so it skips instanceExistsGuard: the global key sees
// every instance, any instance token sees the instances sharing it, and a
// key matching nothing is 401.
func (s *Sim) handleFetchInstances(w http.ResponseWriter, r *http.Request) {
	key := r.Header.Get("apikey")
	if key == "" {
		writeUnauthorized(w)
		return
	}
	q := r.URL.Query()
	name, id, number := q.Get("instanceName"), q.Get("instanceId"), q.Get("number")
	s.mu.Lock()
	defer s.mu.Unlock()
	var rows []instanceRow
	for _, inst := range s.sortedInstancesLocked() {
		if key != s.cfg.GlobalKey && inst.token != key {
			continue
		}
		if (name != "" && inst.name != name) || (id != "" && inst.id != id) || (number != "" && inst.number != number) {
			continue
		}
		rows = append(rows, rowLocked(inst))
	}
	if len(rows) > 0 {
		writeJSON(w, http.StatusOK, rows)
		return
	}
	switch {
	case key != s.cfg.GlobalKey:
		writeUnauthorized(w)
	case name != "" || id != "" || number != "":
		writeEnvelope(w, http.StatusNotFound, []string{fmt.Sprintf("Instance %q not found", firstNonEmpty(name, id, number))})
	default:
		writeJSON(w, http.StatusOK, []instanceRow{})
	}
}

func firstNonEmpty(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}

func (s *Sim) sortedInstancesLocked() []*instance {
	list := make([]*instance, 0, len(s.instances))
	for _, inst := range s.instances {
		list = append(list, inst)
	}
	slices.SortFunc(list, func(a, b *instance) int { return int(a.seq - b.seq) })
	return list
}

// handleLogout implements DELETE /instance/logout/{instance}. Baileys'
// logout ends the socket with 401 loggedOut, so the webhooks are those of a
// terminal close; the instance stays and can connect again.
func (s *Sim) handleLogout(w http.ResponseWriter, r *http.Request) {
	inst, ok := s.guardInstance(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	if inst.state == stateClose {
		s.mu.Unlock()
		writeEnvelope(w, http.StatusBadRequest, []string{fmt.Sprintf("The %q instance is not connected", inst.name)})
		return
	}
	s.terminalCloseLocked(inst, 401)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, successBody("Instance logged out"))
}

// handleDelete implements DELETE /instance/delete/{instance}: logout if
// needed, INSTANCE_DELETE, then REMOVE_INSTANCE, then the rows are gone.
func (s *Sim) handleDelete(w http.ResponseWriter, r *http.Request) {
	inst, ok := s.guardInstance(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	if s.instances[inst.name] == inst {
		if inst.state != stateClose {
			s.terminalCloseLocked(inst, 401)
		}
		s.emitLocked(inst, eventInstanceDelete, map[string]any{"instanceName": inst.name, "instanceId": inst.id})
		s.emitLocked(inst, eventRemoveInstance, nil)
		delete(s.instances, inst.name)
	}
	s.mu.Unlock()
	s.log.Info("evolutionsim: instance deleted", "instance", inst.name)
	writeJSON(w, http.StatusOK, successBody("Instance deleted"))
}

func successBody(message string) map[string]any {
	return map[string]any{"status": "SUCCESS", "error": false, "response": map[string]any{"message": message}}
}

// handleRestart implements POST /instance/restart/{instance}. The v2.3.7
// controller catches its own BadRequestException on a closed instance and
// answers 200 with the stringified object, "[object Object]". An open
// instance reconnects silently; a connecting one keeps its QR.
func (s *Sim) handleRestart(w http.ResponseWriter, r *http.Request) {
	inst, ok := s.guardInstance(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	var resp map[string]any
	switch inst.state {
	case stateClose:
		resp = map[string]any{"error": true, "message": "[object Object]"}
	case stateOpen:
		s.reconnectLocked(inst)
		resp = stateObject(inst)
	default:
		resp = qrObjectLocked(inst)
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, resp)
}

// eventConstant turns a payload event name ("messages.upsert") into the
// subscription name ("MESSAGES_UPSERT") the way Evolution matches them.
func eventConstant(event string) string {
	return strings.ToUpper(strings.NewReplacer(".", "_", "-", "_").Replace(event))
}
