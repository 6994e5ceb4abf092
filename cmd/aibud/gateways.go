package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/aibud/aibud/store"
	"github.com/aibud/aibud/tenants"
	"github.com/aibud/aibud/whatsapp"
	"github.com/aibud/aibud/whatsapp/evolution"
	"github.com/aibud/aibud/whatsapp/sandbox"
)

// Shard ids registered from the configuration.
const (
	defaultShardID = "default"
	sandboxShardID = "sandbox"
)

// startGateways registers the configured gateway shard (or the sandbox) and
// builds the numbers use case on top of them.
func (m *Main) startGateways(ctx context.Context) error {
	cfg := m.Config
	m.Gateways = &whatsapp.Registry{Logger: m.Logger}
	if cfg.EvolutionURL != "" {
		if err := m.Store.PutShard(ctx, tenants.Shard{
			ID: defaultShardID, Kind: tenants.ShardEvolution, URL: cfg.EvolutionURL, APIKey: cfg.EvolutionKey,
			Capacity: m.shardCapacity(ctx, defaultShardID), CreatedAt: m.now(),
		}); err != nil {
			return fmt.Errorf("EVOLUTION_API_URL: register shard: %w", err)
		}
		m.Logger.Info("gateway shard registered", "shard", defaultShardID, "url", cfg.EvolutionURL)
	} else {
		m.Sandbox = sandbox.New(sandbox.Config{ShardID: sandboxShardID, Logger: m.Logger.With("component", "sandbox"), Now: m.now})
		m.Gateways.Sandbox = m.Sandbox
		if err := m.Store.PutShard(ctx, tenants.Shard{
			ID: sandboxShardID, Kind: tenants.ShardSandbox, URL: "sandbox:", Capacity: 100000, CreatedAt: m.now(),
		}); err != nil {
			return fmt.Errorf("register sandbox shard: %w", err)
		}
		m.Logger.Warn("EVOLUTION_API_URL is not set: WhatsApp numbers use the sandbox gateway; nothing reaches real WhatsApp")
	}
	m.Numbers = &tenants.Numbers{
		Catalog: m.Store, Shards: m.Store, Instances: m.Store, Gateways: m.Gateways,
		PublicURL: cfg.PublicURL, NewID: store.NewID, Now: m.now, Logger: m.Logger, Metrics: m.Metrics,
	}
	if m.Sandbox != nil {
		m.Sandbox.SetSink(func(ctx context.Context, token string, events []tenants.GatewayEvent) error {
			_, err := m.Numbers.Intake(ctx, token, events)
			return err
		})
	}
	return nil
}

// shardCapacity keeps an operator-set capacity across restarts.
func (m *Main) shardCapacity(ctx context.Context, id string) int {
	s, err := m.Store.Shard(ctx, id)
	if err != nil || s.Capacity <= 0 {
		return tenants.DefaultShardCapacity
	}
	return s.Capacity
}

// parseWebhook is the Evolution webhook parser the HTTP layer calls.
func parseWebhook(body []byte, event string) ([]tenants.GatewayEvent, error) {
	events, err := evolution.ParseWebhook(body, event)
	if err != nil {
		return nil, errors.Join(errors.New("evolution webhook"), err)
	}
	return events, nil
}
