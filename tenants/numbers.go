package tenants

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"
)

// Numbers is the "connect WhatsApp" use case: a tenant's numbers, their
// placement on gateway shards, QR codes and the events gateways send back.
type Numbers struct {
	Catalog   Catalog
	Shards    ShardCatalog
	Instances InstanceStore
	Gateways  Gateways
	Metrics   Metrics // nil: not counted
	// OnReplies runs for the replies a webhook stored, before the webhook
	// is answered: the contact of someone who writes first is created, an
	// opt-out is honoured at once, classification is queued.
	OnReplies func(ctx context.Context, tenantID string, replies []Reply) error
	PublicURL string // webhook URLs are PublicURL + /webhooks/evolution/<token>
	Hooks     *Hooks // nil: no outgoing webhooks
	NewID     func() string
	Now       func() time.Time
	Logger    *slog.Logger
}

// qrStale is how old a stored QR may be before the gateway is asked again;
// gateways rotate QRs every ~45 s and also push new ones by webhook.
const qrStale = 20 * time.Second

// Connect adds a number slot for the tenant on a shard with room and starts
// the QR flow. number (digits) asks for a pairing code instead of a scan.
func (n *Numbers) Connect(ctx context.Context, t Tenant, name, number string) (Instance, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		name = "WhatsApp number"
	}
	if utf8.RuneCountInString(name) > 60 {
		return Instance{}, Invalid("name", "Name must be at most 60 characters.")
	}
	if number, err := normalizePairingNumber(number); err != nil {
		return Instance{}, err
	} else if err := n.checkAllowed(ctx, t); err != nil {
		return Instance{}, err
	} else {
		return n.create(ctx, t, name, number)
	}
}

func (n *Numbers) checkAllowed(ctx context.Context, t Tenant) error {
	if t.Status != TenantActive {
		return Errorf(EFORBIDDEN, "This account is suspended.")
	}
	plan, _ := LookupPlan(t.Plan)
	have, err := n.Instances.Instances(ctx, t.ID)
	if err != nil {
		return err
	}
	if len(have) >= plan.Numbers {
		return Errorf(EFORBIDDEN, "Your %s plan allows %d WhatsApp number%s. Remove one or upgrade your plan to connect another.",
			plan.Name, plan.Numbers, plural(plan.Numbers))
	}
	return nil
}

func (n *Numbers) create(ctx context.Context, t Tenant, name, number string) (Instance, error) {
	now := n.Now().UTC()
	in := Instance{ID: n.NewID(), TenantID: t.ID, Name: name, State: StateClose,
		GatewayToken: randomToken(), WebhookToken: randomToken(), CreatedAt: now, UpdatedAt: now}
	in.GatewayName = "aibud-" + strings.ToLower(in.ID)
	// The record exists before the gateway hears of the instance: its first
	// webhooks (connecting, the first QR) can come before create answers.
	if err := n.Instances.PutInstance(ctx, in); err != nil {
		return Instance{}, err
	}
	shard, err := n.place(ctx, &in)
	if err != nil {
		return Instance{}, n.undoCreate(ctx, in, "", err)
	}
	gw, err := n.Gateways.Gateway(shard)
	var qr QRCode
	if err == nil {
		_, qr, err = gw.CreateInstance(ctx, CreateInstanceRequest{
			Name: in.GatewayName, Token: in.GatewayToken, Number: number,
			WebhookURL: n.PublicURL + "/webhooks/evolution/" + in.WebhookToken,
		})
	}
	if err == nil {
		in, err = n.Instances.UpdateInstance(ctx, t.ID, in.ID, func(cur *Instance) error {
			cur.ShardID = shard.ID
			if cur.State != StateOpen && cur.QR.Image == "" { // a webhook may have brought a newer QR
				cur.setQR(qr, n.Now().UTC())
			}
			return nil
		})
	}
	if err != nil {
		return Instance{}, n.undoCreate(ctx, in, shard.ID, gatewayFailure("connect", err))
	}
	n.Logger.Info("whatsapp number added", "tenant", t.ID, "instance", in.ID, "shard", shard.ID)
	return in, nil
}

// place puts the instance on a shard and records its webhook route.
func (n *Numbers) place(ctx context.Context, in *Instance) (Shard, error) {
	shard, overloaded, err := n.Shards.PlaceInstance(ctx, in.WebhookToken, InstanceRoute{TenantID: in.TenantID, InstanceID: in.ID, GatewayName: in.GatewayName})
	if err != nil {
		return shard, err
	}
	if overloaded {
		n.Logger.Warn("every gateway shard is above 80% of its capacity: add a gateway server", "shard", shard.ID, "in_use", shard.InUse, "capacity", shard.Capacity)
	}
	return shard, nil
}

// undoCreate removes what a failed create left: the slot and the record.
func (n *Numbers) undoCreate(ctx context.Context, in Instance, shardID string, cause error) error {
	if shardID != "" {
		if err := n.Shards.ReleaseInstance(ctx, shardID, in.WebhookToken); err != nil {
			n.Logger.Error("release shard slot", "shard", shardID, "err", err)
		}
	}
	if err := n.Instances.DeleteInstance(ctx, in.TenantID, in.ID); err != nil {
		n.Logger.Error("remove failed number", "instance", in.ID, "err", err)
	}
	return cause
}

// setQR records what the gateway answered to a create or connect call.
func (in *Instance) setQR(qr QRCode, now time.Time) {
	switch {
	case qr.State == StateOpen:
		in.State = StateOpen
	case qr.Image != "" || qr.PairingCode != "":
		in.State, in.QR, in.QRAt, in.Refused = StateConnecting, qr, now, false
		in.QR.State = StateConnecting
	default: // the gateway has no QR yet ({"count":0}); the page polls again
		in.State = StateConnecting
	}
	in.UpdatedAt = now
}

// List returns the tenant's numbers.
func (n *Numbers) List(ctx context.Context, tenantID string) ([]Instance, error) {
	return n.Instances.Instances(ctx, tenantID)
}

// Get returns one of the tenant's numbers; another tenant's id is not found.
func (n *Numbers) Get(ctx context.Context, tenantID, id string) (Instance, error) {
	return n.Instances.Instance(ctx, tenantID, id)
}

// QR returns the code to scan, asking the gateway for a new one when the
// stored one is missing or old. A number given here asks for a pairing code.
func (n *Numbers) QR(ctx context.Context, tenantID, id, number string) (Instance, error) {
	in, err := n.Get(ctx, tenantID, id)
	if err != nil || in.State == StateOpen {
		return in, err
	}
	number, err = normalizePairingNumber(number)
	if err != nil {
		return in, err
	}
	fresh := in.QR.Image != "" && n.Now().Sub(in.QRAt) < qrStale
	if fresh && !in.Refused && (number == "" || in.QR.PairingCode != "") {
		return in, nil
	}
	gw, err := n.gateway(ctx, in)
	if err != nil {
		return in, err
	}
	qr, err := gw.Connect(ctx, in.Ref(), number)
	if err != nil {
		return in, gatewayFailure("qr", err)
	}
	now := n.Now().UTC()
	return n.Instances.UpdateInstance(ctx, tenantID, id, func(cur *Instance) error {
		if cur.State != StateOpen { // a webhook may have connected it meanwhile
			cur.setQR(qr, now)
		}
		return nil
	})
}

// Logout disconnects the phone; the number stays and can connect again.
func (n *Numbers) Logout(ctx context.Context, tenantID, id string) (Instance, error) {
	in, err := n.Get(ctx, tenantID, id)
	if err != nil {
		return in, err
	}
	gw, err := n.gateway(ctx, in)
	if err != nil {
		return in, err
	}
	if err := gw.Logout(ctx, in.Ref()); err != nil {
		return in, gatewayFailure("logout", err)
	}
	now := n.Now().UTC()
	return n.Instances.UpdateInstance(ctx, tenantID, id, func(cur *Instance) error {
		cur.State, cur.QR, cur.UpdatedAt = StateClose, QRCode{}, now
		return nil
	})
}

// Remove deletes the number at its gateway and here, freeing its slot.
func (n *Numbers) Remove(ctx context.Context, tenantID, id string) error {
	in, err := n.Get(ctx, tenantID, id)
	if err != nil {
		return err
	}
	gw, err := n.gateway(ctx, in)
	if err != nil {
		return err
	}
	if err := gw.DeleteInstance(ctx, in.Ref()); err != nil {
		return gatewayFailure("remove", err)
	}
	if err := n.Instances.DeleteInstance(ctx, tenantID, id); err != nil {
		return err
	}
	n.Logger.Info("whatsapp number removed", "tenant", tenantID, "instance", id)
	return n.Shards.ReleaseInstance(ctx, in.ShardID, in.WebhookToken)
}

// Intake applies the events a gateway posted to a webhook token. An unknown
// token is ENOTFOUND; events naming another instance than the token's are
// EINVALID, so one tenant's token can never touch another's data.
func (n *Numbers) Intake(ctx context.Context, token string, events []GatewayEvent) (int, error) {
	route, err := n.Shards.Route(ctx, token)
	if err != nil {
		return 0, err
	}
	return n.IntakeRoute(ctx, route, events)
}

// IntakeRoute is Intake for a token already looked up (the webhook handler
// looks it up before reading the body, to refuse unknown tokens at once).
func (n *Numbers) IntakeRoute(ctx context.Context, route InstanceRoute, events []GatewayEvent) (int, error) {
	if route.GatewayName == "" { // a route written before routes carried the name
		in, err := n.Instances.Instance(ctx, route.TenantID, route.InstanceID)
		if err != nil {
			return 0, err
		}
		route.GatewayName = in.GatewayName
	}
	for _, ev := range events {
		if ev.Instance != "" && ev.Instance != route.GatewayName {
			return 0, Invalid("instance", "Event is for instance %q, not this webhook's.", ev.Instance)
		}
	}
	applied, err := n.Instances.ApplyEvents(ctx, route.TenantID, route.InstanceID, events, n.Now().UTC())
	if err != nil {
		return 0, err
	}
	for _, ev := range events {
		metricsOr(n.Metrics).EventReceived(string(ev.Kind))
	}
	for _, v := range applied.Votes {
		if !v.Unreadable {
			n.Hooks.Notify(ctx, route.TenantID, HookPollVoted, VotedData(v))
		}
	}
	if n.OnReplies != nil && len(applied.Replies) > 0 {
		// The replies are stored and their redelivery would be dropped as a
		// duplicate: finish their follow-up (opt-out, contact, classifier
		// queue) even if the gateway hangs up on us meanwhile.
		if err := n.OnReplies(context.WithoutCancel(ctx), route.TenantID, applied.Replies); err != nil {
			return applied.Fresh, err
		}
	}
	return applied.Fresh, nil
}

func (n *Numbers) gateway(ctx context.Context, in Instance) (Gateway, error) {
	return gatewayOf(ctx, n.Shards, n.Gateways, in)
}

// gatewayFailure turns a gateway error into what the user should read.
func gatewayFailure(op string, err error) error {
	if ErrorCode(err) != EINTERNAL {
		return err
	}
	var ge *GatewayError
	if errors.As(err, &ge) {
		if ge.Temporary {
			return fmt.Errorf("%w (%v)", Errorf(EUNAVAILABLE, "The WhatsApp gateway is not answering. Try again in a minute."), err)
		}
		return fmt.Errorf("%w (%v)", Errorf(EUNAVAILABLE, "The WhatsApp gateway refused to %s: %s", op, ge.Message), err)
	}
	return err
}

// normalizePairingNumber keeps the digits of a phone number typed for a
// pairing code (country code included, as WhatsApp wants it).
func normalizePairingNumber(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", nil
	}
	var b strings.Builder
	for _, r := range raw {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '+' || r == ' ' || r == '-' || r == '(' || r == ')' || r == '.':
		default:
			return "", Invalid("number", "Phone number %q may only hold digits, spaces and + - ( ).", raw)
		}
	}
	if d := b.String(); len(d) < 8 || len(d) > 15 {
		return "", Invalid("number", "Phone number must have 8 to 15 digits with the country code.")
	} else {
		return d, nil
	}
}

func randomToken() string {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		panic("tenants: crypto/rand failed: " + err.Error()) // never happens on supported systems
	}
	return hex.EncodeToString(b)
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
