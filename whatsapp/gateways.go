// Package whatsapp holds the gateways Aibud sends through: the Evolution
// API client (whatsapp/evolution), the sandbox (whatsapp/sandbox) and the
// Evolution simulator used by tests (whatsapp/evolutionsim). This file picks
// the right client for a shard.
package whatsapp

import (
	"fmt"
	"log/slog"
	"sync"

	"github.com/aibud/aibud/tenants"
	"github.com/aibud/aibud/whatsapp/evolution"
)

// Registry implements tenants.Gateways: one Evolution client per shard
// (rebuilt when the shard's URL or key changes), and the sandbox for the
// sandbox shard.
type Registry struct {
	Sandbox tenants.Gateway // nil when the sandbox is off
	Logger  *slog.Logger

	mu      sync.Mutex
	clients map[string]cachedClient
}

type cachedClient struct {
	url, key string
	client   *evolution.Client
}

// Gateway returns the client for the shard.
func (r *Registry) Gateway(s tenants.Shard) (tenants.Gateway, error) {
	switch s.Kind {
	case tenants.ShardSandbox:
		if r.Sandbox == nil {
			return nil, tenants.Errorf(tenants.EUNAVAILABLE, "The sandbox gateway is off on this server.")
		}
		return r.Sandbox, nil
	case tenants.ShardEvolution:
	default:
		return nil, fmt.Errorf("whatsapp: shard %s has unknown kind %q", s.ID, s.Kind)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.clients[s.ID]; ok && c.url == s.URL && c.key == s.APIKey {
		return c.client, nil
	}
	if r.clients == nil {
		r.clients = map[string]cachedClient{}
	}
	c := evolution.New(evolution.Config{ShardID: s.ID, BaseURL: s.URL, GlobalKey: s.APIKey, Logger: r.Logger.With("shard", s.ID)})
	r.clients[s.ID] = cachedClient{url: s.URL, key: s.APIKey, client: c}
	return c, nil
}
