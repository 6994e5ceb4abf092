package main

import (
	"context"
	"errors"
	"log/slog"

	"github.com/dgraph-io/badger/v4"
	"github.com/robfig/cron/v3"
)

// newCron builds the scheduler of the cron role. Jobs that must run once
// across several nodes are enqueued as unique tasks, not run here.
func (m *Main) newCron() *cron.Cron {
	c := cron.New(cron.WithLogger(cronLogger{m.Logger}), cron.WithChain(cron.Recover(cronLogger{m.Logger})))
	// The catalog's value log only holds values over 1 KiB, but sessions
	// expire and are rewritten all day; reclaim their space hourly.
	c.AddFunc("@hourly", func() { m.collectCatalogGarbage() })
	c.Schedule(cron.Every(m.Config.ReconcileEvery), cron.FuncJob(func() {
		if err := m.enqueueReconcile(context.Background()); err != nil {
			m.Logger.Warn("reconcile not queued", "err", err)
		}
	}))
	// Daily usage snapshots: one task per tenant per day whatever the number
	// of cron nodes; a run also fills days missed while none ran.
	c.AddFunc("CRON_TZ=UTC 20 0 * * *", func() { m.enqueueUsage(context.Background()) })
	c.AddFunc("CRON_TZ=UTC 30 2 * * *", m.backupJob(m.Config.BackupDir))
	return c
}

func (m *Main) enqueueUsage(ctx context.Context) {
	n, err := m.UsageTasks.EnqueueAll(ctx)
	if err != nil {
		m.Logger.Warn("usage snapshots not queued", "err", err)
		return
	}
	m.Logger.Info("usage snapshots queued", "tenants", n)
}

func (m *Main) collectCatalogGarbage() {
	for range 10 { // each pass rewrites at most one value log file
		err := m.Store.Catalog.DB().RunValueLogGC(0.5)
		if errors.Is(err, badger.ErrNoRewrite) || errors.Is(err, badger.ErrRejected) {
			return
		} else if err != nil {
			m.Logger.Warn("catalog value log gc", "err", err)
			return
		}
	}
}

// cronLogger adapts robfig/cron's logger to slog.
type cronLogger struct{ log *slog.Logger }

func (l cronLogger) Info(msg string, kv ...any) { l.log.Debug("cron: "+msg, kv...) }
func (l cronLogger) Error(err error, msg string, kv ...any) {
	l.log.Error("cron: "+msg, append(kv, "err", err)...)
}
