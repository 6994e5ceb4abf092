package tenants

import (
	"context"
	"time"
)

// Instance is one WhatsApp number of a tenant, living on one gateway shard.
type Instance struct {
	ID       string `json:"id"`
	TenantID string `json:"tenant_id"`
	Name     string `json:"name"` // the tenant's label for it

	ShardID      string `json:"shard_id"`
	GatewayName  string `json:"gateway_name"`  // instance name at the gateway
	GatewayToken string `json:"gateway_token"` // the gateway's per-instance key
	WebhookToken string `json:"webhook_token"` // secret path segment of our webhook URL

	State       ConnState `json:"state"`
	StateReason int       `json:"state_reason,omitempty"`
	Refused     bool      `json:"refused,omitempty"` // the last QR attempt ran out; connect again
	Number      string    `json:"number,omitempty"`
	ProfileName string    `json:"profile_name,omitempty"`
	QR          QRCode    `json:"qr"`
	QRAt        time.Time `json:"qr_at"`

	ConnectedAt time.Time `json:"connected_at"` // first time it opened: the warm-up clock

	// Pace is where this number's send schedule stands.
	Pace PaceCursor `json:"pace"`
	// The circuit breaker: consecutive failed sends, and a pause with the
	// reason the campaign page shows.
	Failures    int       `json:"failures,omitempty"`
	PausedUntil time.Time `json:"paused_until,omitzero"`
	PauseReason string    `json:"pause_reason,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// Ref addresses the instance at its gateway.
func (in Instance) Ref() GatewayInstance {
	return GatewayInstance{ShardID: in.ShardID, Name: in.GatewayName, Token: in.GatewayToken}
}

// ApplyEvent changes the instance for a connection or QR event and reports
// whether anything changed. Other events leave it alone.
func (in *Instance) ApplyEvent(ev GatewayEvent, now time.Time) bool {
	switch ev.Kind {
	case EventConnection:
		c := ev.Connection
		if c == nil {
			return false
		}
		in.StateReason, in.Refused = c.Reason, c.Refused
		if c.Refused {
			in.State, in.QR = StateClose, QRCode{}
		} else {
			in.State = c.State
		}
		if c.State == StateOpen {
			// The number is back: the breaker resets and sending resumes.
			in.Failures, in.PausedUntil, in.PauseReason = 0, time.Time{}, ""
			in.QR = QRCode{State: StateOpen}
			if c.Number != "" {
				in.Number = c.Number
			}
			if c.ProfileName != "" {
				in.ProfileName = c.ProfileName
			}
			if in.ConnectedAt.IsZero() {
				in.ConnectedAt = now
			}
		}
	case EventQR:
		if ev.QR == nil || in.State == StateOpen {
			return false
		}
		in.QR, in.QRAt, in.Refused = *ev.QR, now, false
		in.QR.State = StateConnecting
		in.State = StateConnecting
	default:
		return false
	}
	in.UpdatedAt = now
	return true
}

// Shard kinds.
const (
	ShardEvolution = "evolution"
	ShardSandbox   = "sandbox"
)

// DefaultShardCapacity is how many numbers a gateway server takes by
// default: the rule of thumb is 10–20 WhatsApp instances per small VPS.
const DefaultShardCapacity = 15

// ShardFullRatio is the utilisation above which a shard gets no new numbers
// while another has room, and the operator is told to add a server.
const ShardFullRatio = 0.8

// Shard is one gateway server (an Evolution API deployment, or the sandbox).
type Shard struct {
	ID        string    `json:"id"`
	Kind      string    `json:"kind"`
	URL       string    `json:"url"`
	APIKey    string    `json:"api_key"`
	Capacity  int       `json:"capacity"`
	InUse     int       `json:"in_use"`
	Draining  bool      `json:"draining"`
	CreatedAt time.Time `json:"created_at"`
}

// Utilisation is the share of the capacity in use.
func (s Shard) Utilisation() float64 {
	if s.Capacity <= 0 {
		return 1
	}
	return float64(s.InUse) / float64(s.Capacity)
}

// PickShard chooses where a new number goes: real gateways before the
// sandbox, never a draining shard, the least used one under 80%; if every
// one is above, the least used anyway with overloaded set so the operator
// hears about it.
func PickShard(shards []Shard) (s Shard, overloaded bool, ok bool) {
	best := -1
	for _, kind := range []string{ShardEvolution, ShardSandbox} {
		for i, sh := range shards {
			if sh.Kind != kind || sh.Draining {
				continue
			}
			if best < 0 || sh.Utilisation() < shards[best].Utilisation() {
				best = i
			}
		}
		if best >= 0 {
			break
		}
	}
	if best < 0 {
		return Shard{}, false, false
	}
	return shards[best], shards[best].Utilisation() >= ShardFullRatio, true
}

// Applied is what a batch of gateway events changed.
type Applied struct {
	Fresh   int     // events not seen before
	Replies []Reply // replies stored by this batch
	Votes   []Vote  // votes stored by this batch (not older ones delivered late)
}

// InstanceRoute maps a webhook token to the tenant and instance it is for.
type InstanceRoute struct {
	TenantID    string `json:"tenant_id"`
	InstanceID  string `json:"instance_id"`
	GatewayName string `json:"gateway_name"` // events must name this instance
}

// ShardCatalog keeps the gateway shards and the webhook routes.
type ShardCatalog interface {
	PutShard(ctx context.Context, s Shard) error
	Shards(ctx context.Context) ([]Shard, error)
	// PlaceInstance picks a shard with PickShard, counts the instance on it
	// and records the route, in one transaction.
	PlaceInstance(ctx context.Context, webhookToken string, route InstanceRoute) (s Shard, overloaded bool, err error)
	// ReleaseInstance undoes PlaceInstance.
	ReleaseInstance(ctx context.Context, shardID, webhookToken string) error
	Route(ctx context.Context, webhookToken string) (InstanceRoute, error)
}

// InstanceStore keeps a tenant's instances and the events their gateway sent.
type InstanceStore interface {
	PutInstance(ctx context.Context, in Instance) error
	Instance(ctx context.Context, tenantID, id string) (Instance, error)
	Instances(ctx context.Context, tenantID string) ([]Instance, error)
	UpdateInstance(ctx context.Context, tenantID, id string, fn func(*Instance) error) (Instance, error)
	DeleteInstance(ctx context.Context, tenantID, id string) error
	// ApplyEvents durably applies every event not seen before (by
	// DedupeKey) in one transaction: connection and QR events to the
	// instance, statuses, votes and replies to the campaign records.
	ApplyEvents(ctx context.Context, tenantID, instanceID string, events []GatewayEvent, now time.Time) (Applied, error)
}

// Gateways returns the gateway client for a shard.
type Gateways interface {
	Gateway(s Shard) (Gateway, error)
}
