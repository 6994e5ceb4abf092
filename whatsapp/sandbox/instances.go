package sandbox

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/aibud/aibud/tenants"
	"github.com/skip2/go-qrcode"
)

// instance is one number slot. Its name, token and webhook token never
// change; the rest is guarded by Gateway.mu.
type instance struct {
	name         string
	token        string
	webhookToken string

	state       tenants.ConnState
	qrCount     int    // QR codes produced so far, the n in the QR payload
	qrImage     string // data URL of QR number qrImageFor, cached for polling UIs
	qrImageFor  int
	number      string // the linked phone, once scanned
	profileName string
}

// CreateInstance registers a number slot in state connecting with its first
// QR code, as Evolution does when asked for a QR on creation. The webhook
// token is the last path segment of req.WebhookURL: it is what the sink
// receives, so the webhook handler finds the tenant as it would for a real post.
func (g *Gateway) CreateInstance(ctx context.Context, req tenants.CreateInstanceRequest) (tenants.GatewayInstance, tenants.QRCode, error) {
	const op = "create"
	if strings.TrimSpace(req.Name) == "" {
		return tenants.GatewayInstance{}, tenants.QRCode{}, gatewayError(op, http.StatusBadRequest, `The "instanceName" cannot be empty`)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return tenants.GatewayInstance{}, tenants.QRCode{}, closedError(op)
	}
	if _, taken := g.instances[req.Name]; taken {
		return tenants.GatewayInstance{}, tenants.QRCode{}, gatewayError(op, http.StatusForbidden, "This name %q is already in use.", req.Name)
	}
	inst := &instance{
		name: req.Name, token: req.Token, webhookToken: lastSegment(req.WebhookURL),
		state: tenants.StateConnecting, qrCount: 1,
	}
	if inst.token == "" {
		inst.token = rand.Text() // Evolution, too, makes one up when none is given
	}
	qr, err := inst.qrLocked(op, req.Number)
	if err != nil {
		return tenants.GatewayInstance{}, tenants.QRCode{}, err
	}
	g.instances[inst.name] = inst
	return tenants.GatewayInstance{ShardID: g.shardID, Name: inst.name, Token: inst.token}, qr, nil
}

// Connect reports an open number as open and otherwise returns the QR code
// to scan. From close it starts a new attempt with a new code, so a UI can
// tell a fresh QR from the one it already showed.
func (g *Gateway) Connect(ctx context.Context, in tenants.GatewayInstance, number string) (tenants.QRCode, error) {
	const op = "connect"
	g.mu.Lock()
	defer g.mu.Unlock()
	inst, err := g.lookupLocked(op, in)
	if err != nil {
		return tenants.QRCode{}, err
	}
	switch inst.state {
	case tenants.StateOpen:
		return tenants.QRCode{State: tenants.StateOpen}, nil
	case tenants.StateClose:
		inst.state = tenants.StateConnecting
		inst.qrCount++
	}
	return inst.qrLocked(op, number)
}

// ConnectionState reports the number's current state.
func (g *Gateway) ConnectionState(ctx context.Context, in tenants.GatewayInstance) (tenants.ConnState, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	inst, err := g.lookupLocked("connectionState", in)
	if err != nil {
		return "", err
	}
	return inst.state, nil
}

// Logout unlinks the phone and, like a real gateway, reports the close
// through the webhook (reason 401, logged out) in the background. A number
// that is already closed is where the caller wants it, so that is no error.
func (g *Gateway) Logout(ctx context.Context, in tenants.GatewayInstance) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	inst, err := g.lookupLocked("logout", in)
	if err != nil || inst.state == tenants.StateClose {
		return err
	}
	change := tenants.ConnectionChange{State: tenants.StateClose, Number: inst.number, ProfileName: inst.profileName, Reason: 401}
	inst.state, inst.number, inst.profileName = tenants.StateClose, "", ""
	g.emitLocked(inst.webhookToken, g.connectionEventLocked(inst, change))
	return nil
}

// DeleteInstance forgets the number and its polls. Deleting an unknown
// instance succeeds, because a retried delete must not fail on its own
// earlier success. Receipts still pending for its messages are dropped.
func (g *Gateway) DeleteInstance(ctx context.Context, in tenants.GatewayInstance) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	inst, err := g.lookupLocked("delete", in)
	var ge *tenants.GatewayError
	if errors.As(err, &ge) && ge.Status == http.StatusNotFound {
		return nil
	}
	if err != nil {
		return err
	}
	delete(g.instances, inst.name)
	for id, p := range g.polls {
		if p.instance == inst {
			delete(g.polls, id)
		}
	}
	return nil
}

// Scan plays a phone scanning the QR code (or typing the pairing code): the
// number goes from connecting to open and the sink gets the open event with
// the phone's number and profile name before Scan returns. A sink error is
// returned, but the number stays open, as a real phone stays linked when a
// webhook is lost.
func (g *Gateway) Scan(ctx context.Context, instanceName, number, profileName string) error {
	digits := onlyDigits(number)
	if digits == "" {
		return tenants.Invalid("number", "Enter the phone number that scans the code.")
	}
	g.mu.Lock()
	inst, err := g.controlLookupLocked(instanceName)
	if err == nil && inst.state != tenants.StateConnecting {
		err = tenants.Errorf(tenants.ECONFLICT, "Number %q has no QR code to scan: it is %s.", instanceName, inst.state)
	}
	if err != nil {
		g.mu.Unlock()
		return err
	}
	inst.state, inst.number, inst.profileName = tenants.StateOpen, digits, profileName
	change := tenants.ConnectionChange{State: tenants.StateOpen, Number: digits, ProfileName: profileName}
	ev := g.connectionEventLocked(inst, change)
	g.mu.Unlock()
	return g.deliverNow(ctx, inst.webhookToken, ev)
}

// lookupLocked finds the instance a port call addresses, refusing another
// shard's instance and a wrong token as the Evolution client and server do,
// so wiring mistakes show up in the sandbox rather than in production.
func (g *Gateway) lookupLocked(op string, in tenants.GatewayInstance) (*instance, error) {
	if g.closed {
		return nil, closedError(op)
	}
	if in.ShardID != "" && in.ShardID != g.shardID {
		return nil, gatewayError(op, 0, "instance %q lives on shard %q, not %q", in.Name, in.ShardID, g.shardID)
	}
	inst, ok := g.instances[in.Name]
	if !ok {
		return nil, gatewayError(op, http.StatusNotFound, "The %q instance does not exist", in.Name)
	}
	if in.Token != inst.token {
		return nil, gatewayError(op, http.StatusUnauthorized, "Unauthorized")
	}
	return inst, nil
}

// controlLookupLocked finds the instance a simulate call names. Those calls
// come from our own UI, so their errors are domain errors a user can read.
func (g *Gateway) controlLookupLocked(name string) (*instance, error) {
	if g.closed {
		return nil, tenants.Errorf(tenants.EUNAVAILABLE, "The sandbox gateway has stopped.")
	}
	inst, ok := g.instances[name]
	if !ok {
		return nil, tenants.Errorf(tenants.ENOTFOUND, "Number %q does not exist in the sandbox.", name)
	}
	return inst, nil
}

// qrLocked returns the current QR code. Its payload names the instance and
// the attempt, so every new attempt shows a visibly different code.
func (inst *instance) qrLocked(op, number string) (tenants.QRCode, error) {
	code := fmt.Sprintf("aibud-sandbox:%s:%d", inst.name, inst.qrCount)
	if inst.qrImageFor != inst.qrCount {
		png, err := qrcode.Encode(code, qrcode.Medium, 256)
		if err != nil {
			return tenants.QRCode{}, &tenants.GatewayError{Op: op, Status: http.StatusInternalServerError, Message: "encode QR code: " + err.Error(), Err: err}
		}
		inst.qrImage = "data:image/png;base64," + base64.StdEncoding.EncodeToString(png)
		inst.qrImageFor = inst.qrCount
	}
	qr := tenants.QRCode{State: tenants.StateConnecting, Image: inst.qrImage, Code: code, Count: inst.qrCount}
	if digits := onlyDigits(number); digits != "" {
		qr.PairingCode = pairingCode(code, digits)
	}
	return qr, nil
}

// pairingCode derives WhatsApp's 8-character code from the QR payload and
// the number: deterministic, so repeated Connect calls show the same code.
func pairingCode(code, digits string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	sum := sha256.Sum256([]byte(code + "|" + digits))
	out := make([]byte, 8)
	for i := range out {
		out[i] = alphabet[int(sum[i])%len(alphabet)]
	}
	return string(out)
}

// lastSegment returns the webhook token at the end of a webhook URL
// (…/webhooks/evolution/<token>), ignoring any query or trailing slash.
func lastSegment(webhookURL string) string {
	p := webhookURL
	if u, err := url.Parse(webhookURL); err == nil {
		p = u.Path
	}
	seg := path.Base(strings.TrimRight(p, "/"))
	if seg == "." || seg == "/" {
		return ""
	}
	return seg
}

// onlyDigits keeps the digits of a phone number, so "+55 11 99999-0000"
// and "5511999990000" are the same contact.
func onlyDigits(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
}
