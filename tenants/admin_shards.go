package tenants

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// GatewayHealth is implemented by gateways that can tell whether their
// server answers (the Evolution client calls its welcome endpoint).
type GatewayHealth interface {
	Health(ctx context.Context) error
}

// healthTimeout bounds one live health call.
const healthTimeout = 5 * time.Second

// ShardHealth is the result of a live call to a gateway server.
type ShardHealth struct {
	Checked bool          `json:"checked"` // false: this kind of gateway has no health check
	OK      bool          `json:"ok"`
	Detail  string        `json:"detail,omitempty"`
	Latency time.Duration `json:"latency_ns"`
}

// ShardStatus is a shard with its live health.
type ShardStatus struct {
	Shard  Shard
	Health ShardHealth
}

// ShardsReport is the gateway shards page.
type ShardsReport struct {
	Shards []ShardStatus
	// AllFull is set when no shard can take a number under 80% of its
	// capacity (draining shards count as full): add a gateway server.
	AllFull bool
}

// ShardsReport lists the shards with their utilisation and a live health
// call to each, made concurrently.
func (a *Admin) ShardsReport(ctx context.Context) (ShardsReport, error) {
	shards, err := a.Shards.Shards(ctx)
	if err != nil {
		return ShardsReport{}, err
	}
	r := ShardsReport{Shards: make([]ShardStatus, len(shards)), AllFull: true}
	var wg sync.WaitGroup
	for i, s := range shards {
		r.Shards[i].Shard = s
		if !s.Draining && s.Utilisation() < ShardFullRatio {
			r.AllFull = false
		}
		wg.Go(func() { r.Shards[i].Health = a.checkShard(ctx, s) })
	}
	wg.Wait()
	return r, nil
}

func (a *Admin) checkShard(ctx context.Context, s Shard) ShardHealth {
	gw, err := a.Gateways.Gateway(s)
	if err != nil {
		return ShardHealth{Checked: true, Detail: ErrorMessage(err)}
	}
	hc, ok := gw.(GatewayHealth)
	switch {
	case !ok && s.Kind == ShardSandbox:
		return ShardHealth{Checked: true, OK: true, Detail: "In-process sandbox: nothing reaches WhatsApp."}
	case !ok:
		return ShardHealth{Detail: "No health check for this kind of gateway."}
	}
	ctx, cancel := context.WithTimeout(ctx, healthTimeout)
	defer cancel()
	start := time.Now()
	err = hc.Health(ctx)
	h := ShardHealth{Checked: true, OK: err == nil, Latency: time.Since(start)}
	if err != nil {
		h.Detail = err.Error()
		a.Logger.Warn("gateway shard unhealthy", "shard", s.ID, "err", err)
	}
	return h
}

// AddShard registers a new Evolution API server.
func (a *Admin) AddShard(ctx context.Context, actor User, s Shard) (Shard, error) {
	if err := checkActor(actor); err != nil {
		return Shard{}, err
	}
	s.ID, s.URL, s.APIKey = strings.TrimSpace(s.ID), strings.TrimSuffix(strings.TrimSpace(s.URL), "/"), strings.TrimSpace(s.APIKey)
	if s.Kind == "" {
		s.Kind = ShardEvolution
	}
	if s.Capacity == 0 {
		s.Capacity = DefaultShardCapacity
	}
	if err := validateShard(s); err != nil {
		return Shard{}, err
	}
	shards, err := a.Shards.Shards(ctx)
	if err != nil {
		return Shard{}, err
	}
	if slices.ContainsFunc(shards, func(x Shard) bool { return x.ID == s.ID }) {
		return Shard{}, Errorf(ECONFLICT, "A shard with id %q exists already.", s.ID)
	}
	s.InUse, s.Draining, s.CreatedAt = 0, false, a.Now().UTC()
	if err := a.Shards.PutShard(ctx, s); err != nil {
		return Shard{}, err
	}
	a.Logger.Info("gateway shard added", "shard", s.ID, "url", s.URL, "capacity", s.Capacity, "admin", actor.Email)
	return s, nil
}

func validateShard(s Shard) error {
	if s.ID == "" || len(s.ID) > 40 || strings.IndexFunc(s.ID, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.')
	}) >= 0 {
		return Invalid("id", "Shard id must be 1 to 40 lower-case letters, digits, dots, dashes or underscores, e.g. evo-2.")
	}
	if s.Kind != ShardEvolution {
		return Invalid("kind", "Only Evolution API servers can be added.")
	}
	u, err := url.Parse(s.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return Invalid("url", "URL must be the gateway's http(s) base URL, e.g. https://evo2.example.com.")
	}
	if s.APIKey == "" || len(s.APIKey) > 200 {
		return Invalid("api_key", "The gateway's global API key is required.")
	}
	if s.Capacity < 1 || s.Capacity > 1000 {
		return Invalid("capacity", "Capacity must be 1 to 1000 numbers.")
	}
	return nil
}

// DrainShard stops (drain true) or restarts placing new numbers on a
// shard. The numbers already on it keep working.
func (a *Admin) DrainShard(ctx context.Context, actor User, id string, drain bool) (Shard, error) {
	if err := checkActor(actor); err != nil {
		return Shard{}, err
	}
	shards, err := a.Shards.Shards(ctx)
	if err != nil {
		return Shard{}, err
	}
	i := slices.IndexFunc(shards, func(x Shard) bool { return x.ID == id })
	if i < 0 {
		return Shard{}, Errorf(ENOTFOUND, "Gateway shard not found.")
	}
	s := shards[i]
	if s.Draining == drain {
		return s, nil
	}
	s.Draining = drain
	if err := a.Shards.PutShard(ctx, s); err != nil {
		return Shard{}, err
	}
	a.Logger.Info("gateway shard drain changed", "shard", id, "draining", drain, "admin", actor.Email)
	return s, nil
}
