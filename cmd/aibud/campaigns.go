package main

import (
	"context"
	"errors"

	"github.com/aibud/aibud/ai/rules"
	"github.com/aibud/aibud/billing"
	"github.com/aibud/aibud/queue"
	"github.com/aibud/aibud/store"
	"github.com/aibud/aibud/tenants"
	"github.com/aibud/aibud/whatsapp"
	"github.com/hibiken/asynq"
)

// startCampaigns builds the contacts and campaign use cases.
func (m *Main) startCampaigns() {
	m.Hooks = &tenants.Hooks{Store: m.Store, Queue: queue.Sender{Client: m.Queue},
		Sender: queue.NewHookSender(m.Config.WebhooksAllowPrivate), AllowPrivate: m.Config.WebhooksAllowPrivate,
		NewID: store.NewID, Now: m.now, Logger: m.Logger.With("component", "webhooks")}
	m.Numbers.Hooks = m.Hooks
	m.Contacts = &tenants.Contacts{Store: m.Store, Phones: whatsapp.Phones{}, Hooks: m.Hooks, Now: m.now, Logger: m.Logger}
	m.Campaigns = &tenants.Campaigns{
		Catalog: m.Store, Polls: m.Store, Contacts: m.Store, Phones: whatsapp.Phones{}, Instances: m.Store,
		Shards: m.Store, Gateways: m.Gateways, Credits: m.Store, Queue: queue.Sender{Client: m.Queue},
		Active: m.Store, Hooks: m.Hooks, Pacing: m.Config.Pacing, RetryBackoff: m.Config.SendRetryBackoff, SendConfirmWindow: m.Config.SendConfirmWindow,
		BreakerPause: m.Config.BreakerPause, Metrics: m.Metrics,
		NewID: store.NewID, Now: m.now, Logger: m.Logger,
	}
	m.Inbox = &tenants.Inbox{
		Replies: m.Store, Polls: m.Store, Contacts: m.Contacts, Classifier: m.Classifier, Fast: rules.New(),
		Queue: queue.Sender{Client: m.Queue}, Active: m.Store, Hooks: m.Hooks, Now: m.now, Logger: m.Logger, Metrics: m.Metrics,
		AutoReply: &tenants.AutoReplies{Store: m.Store, Contacts: m.Store, Instances: m.Store, Shards: m.Store,
			Gateways: m.Gateways, Credits: m.Store, Hooks: m.Hooks, Now: m.now, Logger: m.Logger},
	}
	m.Numbers.OnReplies = m.Inbox.OnReplies
	m.CampaignTasks = &queue.CampaignHandlers{Campaigns: m.Campaigns, Inbox: m.Inbox, Hooks: m.Hooks, Active: m.Store, Logger: m.Logger}
	m.Billing = &tenants.Billing{Catalog: m.Store, Credits: m.Store, Events: m.Store, Prices: m.Config.StripePrices, Now: m.now, Logger: m.Logger}
	if m.Config.Stripe.SecretKey != "" {
		sc := m.Config.Stripe
		sc.Logger = m.Logger.With("component", "stripe")
		client := billing.New(sc)
		m.Billing.Payments, m.Billing.Webhooks = client, client
	}
	m.Usage = &tenants.Usage{Catalog: m.Store, Counter: m.Store, Snapshots: m.Store, Now: m.now, Logger: m.Logger}
	m.UsageTasks = &queue.UsageScheduler{Client: m.Queue, Tenants: m.Store, Now: m.now, Logger: m.Logger}
}

// enqueueReconcile queues one reconcile pass, unique for its period so that
// several cron nodes never double it.
func (m *Main) enqueueReconcile(ctx context.Context) error {
	_, err := m.Queue.Enqueue(ctx, queue.NewReconcileTask(), asynq.Queue(queue.QueueCritical), asynq.Unique(m.Config.ReconcileEvery*11/12))
	if errors.Is(err, asynq.ErrDuplicateTask) {
		return nil // another node queued this period's pass
	}
	return err
}
