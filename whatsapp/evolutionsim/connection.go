package evolutionsim

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"

	"github.com/skip2/go-qrcode"
)

// qrImageSize is close to what Evolution's qrcode.toDataURL (margin 3,
// scale 4) produces for a WhatsApp ref at error correction H.
const qrImageSize = 264

// qrState is the QR of the current connecting attempt; count is how many
// QRs the attempt has produced, the "count" field of connect answers.
type qrState struct {
	count       int
	code        string
	base64      string
	pairingCode string
}

// Event payload names (wa.types.ts). Subscriptions use eventConstant(name).
const (
	eventQRCodeUpdated    = "qrcode.updated"
	eventConnectionUpdate = "connection.update"
	eventStatusInstance   = "status.instance"
	eventLogoutInstance   = "logout.instance"
	eventRemoveInstance   = "remove.instance"
	eventInstanceCreate   = "instance.create"
	eventInstanceDelete   = "instance.delete"
	eventSendMessage      = "send.message"
	eventMessagesUpsert   = "messages.upsert"
	eventMessagesUpdate   = "messages.update"
)

// terminalReasons are the Baileys disconnect codes after which Evolution
// gives up (loggedOut, forbidden, 402, 406); any other close is silent and
// followed by an immediate reconnect.
var terminalReasons = map[int]bool{401: true, 402: true, 403: true, 406: true}

// newQR makes the next QR: a fresh ref and its PNG, plus a pairing code
// when the attempt was started with a number (Evolution requests a new
// pairing code on every QR event). It runs without the lock: encoding
// takes milliseconds.
func (s *Sim) newQR(withPairing bool) qrState {
	q := qrState{code: s.rnd.qrRef()}
	png, err := qrcode.Encode(q.code, qrcode.High, qrImageSize)
	if err != nil {
		s.log.Error("evolutionsim: encoding QR failed", "err", err)
	} else {
		q.base64 = "data:image/png;base64," + base64.StdEncoding.EncodeToString(png)
	}
	if withPairing {
		q.pairingCode = s.rnd.pairingCode()
	}
	return q
}

// pairingDigits is the number a connecting attempt requests pairing codes
// for, or "" when the caller gave none.
func pairingDigits(number string) string {
	if number == "" {
		return ""
	}
	return jidUser(createJid(number))
}

// startConnectingLocked moves an instance from close to connecting: it
// emits CONNECTION_UPDATE connecting, installs QR number 1 (first, which
// callers encode before taking the lock, or a new one if first is nil)
// and starts the ticker that rotates the QR every QRInterval until scan,
// logout or limit.
func (s *Sim) startConnectingLocked(inst *instance, number string, first *qrState) {
	s.stopQRLocked(inst)
	inst.state = stateConnecting
	inst.updatedAt = s.now()
	inst.qr = qrState{}
	inst.pairNumber = pairingDigits(number)
	s.emitLocked(inst, eventConnectionUpdate, map[string]any{
		"instance": inst.name, "state": stateConnecting, "statusReason": 200,
	})
	withPairing := inst.pairNumber != ""
	if first == nil || (first.pairingCode != "") != withPairing {
		q := s.newQR(withPairing)
		first = &q
	}
	s.applyQRLocked(inst, *first)
	ctx, cancel := context.WithCancel(s.ctx)
	inst.stopQR = cancel
	if !s.spawnLocked(func(context.Context) { s.runQR(ctx, inst, withPairing) }) {
		cancel()
	}
}

// stopQRLocked ends the QR ticker of the current attempt, if any.
func (s *Sim) stopQRLocked(inst *instance) {
	if inst.stopQR != nil {
		inst.stopQR()
		inst.stopQR = nil
	}
}

// runQR is the ticker goroutine of one connecting attempt. It exits when
// its context is cancelled (state change, reset, Close) or at the limit.
func (s *Sim) runQR(ctx context.Context, inst *instance, withPairing bool) {
	ticker := time.NewTicker(s.cfg.QRInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		next := s.newQR(withPairing)
		s.mu.Lock()
		if ctx.Err() != nil { // cancelled under the lock by whoever changed the state
			s.mu.Unlock()
			return
		}
		if inst.qr.count >= s.cfg.QRLimit {
			s.refuseLocked(inst)
			s.mu.Unlock()
			return
		}
		s.applyQRLocked(inst, next)
		s.mu.Unlock()
	}
}

// applyQRLocked installs a new QR and emits QRCODE_UPDATED (which carries
// no count).
func (s *Sim) applyQRLocked(inst *instance, q qrState) {
	q.count = inst.qr.count + 1
	inst.qr = q
	s.emitLocked(inst, eventQRCodeUpdated, map[string]any{"qrcode": map[string]any{
		"instance":    inst.name,
		"pairingCode": nullable(q.pairingCode),
		"code":        q.code,
		"base64":      q.base64,
	}})
}

// refuseLocked is what Evolution does when a QR arrives with count already
// at QRCODE_LIMIT: a QRCODE_UPDATED error, CONNECTION_UPDATE "refused"
// (428), then a silent logout back to close with the count reset.
func (s *Sim) refuseLocked(inst *instance) {
	s.emitLocked(inst, eventQRCodeUpdated, map[string]any{
		"message": "QR code limit reached, please login again", "statusCode": 500,
	})
	refused := map[string]any{"instance": inst.name, "state": "refused", "statusReason": 428}
	if inst.connectedOnce {
		refused["wuid"] = inst.wuid
		refused["profileName"] = inst.profileName
		refused["profilePictureUrl"] = nil
	}
	s.emitLocked(inst, eventConnectionUpdate, refused)
	s.stopQRLocked(inst)
	inst.state = stateClose
	inst.qr = qrState{}
	inst.updatedAt = s.now()
	s.log.Info("evolutionsim: QR limit reached", "instance", inst.name)
}

// Scan plays the phone scanning the QR (or typing the pairing code): the
// instance goes from connecting to open as number, with that profile name.
// It returns ErrWrongState unless the instance is connecting.
func (s *Sim) Scan(name, number, profileName string) error {
	digits := jidUser(createJid(number))
	if digits == "" {
		return fmt.Errorf("%w: number is required", ErrInvalid)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	inst := s.instances[name]
	if inst == nil {
		return fmt.Errorf("scan %q: %w", name, ErrUnknownInstance)
	}
	if inst.state != stateConnecting {
		return fmt.Errorf("scan %q in state %s: %w", name, inst.state, ErrWrongState)
	}
	s.stopQRLocked(inst)
	inst.wuid = digits + "@s.whatsapp.net"
	inst.profileName = profileName
	inst.connectedOnce = true
	s.openLocked(inst)
	return nil
}

// openLocked marks the instance open and emits CONNECTION_UPDATE open.
func (s *Sim) openLocked(inst *instance) {
	inst.state = stateOpen
	inst.qr = qrState{}
	inst.updatedAt = s.now()
	s.emitLocked(inst, eventConnectionUpdate, map[string]any{
		"instance":          inst.name,
		"wuid":              inst.wuid,
		"profileName":       inst.profileName,
		"profilePictureUrl": nil,
		"state":             stateOpen,
		"statusReason":      200,
	})
}

// Drop plays the connection ending with a Baileys disconnect reason. For
// 401, 402, 403 and 406 the close is terminal (STATUS_INSTANCE,
// CONNECTION_UPDATE close, LOGOUT_INSTANCE). Any other reason is a silent
// close: only CONNECTION_UPDATE connecting and, for an open instance, open
// again are seen, as with Evolution's immediate reconnect.
func (s *Sim) Drop(name string, reason int) error {
	if reason <= 0 {
		return fmt.Errorf("%w: reason must be a positive status code", ErrInvalid)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	inst := s.instances[name]
	if inst == nil {
		return fmt.Errorf("drop %q: %w", name, ErrUnknownInstance)
	}
	if inst.state == stateClose {
		return fmt.Errorf("drop %q in state close: %w", name, ErrWrongState)
	}
	if terminalReasons[reason] {
		s.terminalCloseLocked(inst, reason)
		return nil
	}
	if inst.state == stateOpen {
		s.reconnectLocked(inst)
		return nil
	}
	s.emitLocked(inst, eventConnectionUpdate, map[string]any{
		"instance": inst.name, "state": stateConnecting, "statusReason": 200,
	})
	return nil
}

// reconnectLocked is a silent reconnect of an open session: the stored
// credentials are still valid, so connecting is followed by open at once.
func (s *Sim) reconnectLocked(inst *instance) {
	s.emitLocked(inst, eventConnectionUpdate, map[string]any{
		"instance": inst.name, "state": stateConnecting, "statusReason": 200,
	})
	s.openLocked(inst)
}

// terminalCloseLocked closes the instance for good with reason, emitting
// the three events Evolution sends for a terminal close, in order.
func (s *Sim) terminalCloseLocked(inst *instance, reason int) {
	s.stopQRLocked(inst)
	now := s.now()
	inst.state = stateClose
	inst.qr = qrState{}
	inst.updatedAt = now
	inst.disconnectionCode = reason
	inst.disconnectionAt = now
	inst.disconnectionObject = disconnectionObject(reason, now)
	s.emitLocked(inst, eventStatusInstance, map[string]any{
		"instance":                inst.name,
		"status":                  "closed",
		"disconnectionAt":         isoMillis(now),
		"disconnectionReasonCode": reason,
		"disconnectionObject":     inst.disconnectionObject,
	})
	s.emitLocked(inst, eventConnectionUpdate, map[string]any{
		"instance": inst.name, "state": stateClose, "statusReason": reason,
	})
	s.emitLocked(inst, eventLogoutInstance, nil)
	s.log.Info("evolutionsim: instance closed", "instance", inst.name, "reason", reason)
}

// disconnectionObject is the JSON string Evolution stores from Baileys'
// lastDisconnect: a Boom error with the status code.
func disconnectionObject(reason int, at time.Time) string {
	message := "Connection Failure"
	if reason == 401 {
		message = "Intentional Logout"
	}
	obj := map[string]any{
		"error": map[string]any{
			"data": nil, "isBoom": true, "isServer": reason >= 500,
			"output": map[string]any{
				"statusCode": reason,
				"payload":    map[string]any{"statusCode": reason, "error": statusName(reason), "message": message},
				"headers":    map[string]any{},
			},
		},
		"date": isoMillis(at),
	}
	b, _ := json.Marshal(obj) // only maps of plain values; cannot fail
	return string(b)
}
