// Package store keeps Aibud's data in Badger: one catalog database for the
// platform and one database per tenant, opened lazily through a bounded pool.
package store

import (
	"fmt"
	"log/slog"
	"strings"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
)

// tenantOptions are Badger options for a tenant DB, sized so that thousands
// of tenants fit on one machine. Measured on this 2-core box with Badger
// v4.9.6 (see BENCHMARKS.md, "Badger footprint"):
//   - MemTableSize is the Go heap an open DB pins: ~86 MiB at the 64 MiB
//     default, ~5 MiB at 4 MiB, ~1.5 MiB at 1 MiB. We take 1 MiB: a tenant
//     writes little between flushes and reopen churn inflates RSS with bigger
//     tables.
//   - ValueThreshold must stay under 15% of MemTableSize or Open fails; 1 KiB
//     keeps every record we write but poll audiences inline in the LSM tree.
//   - ValueLogFileSize 2 MiB. Badger starts a new value log file at every
//     open and maps twice its size; the first write into that mapping cost
//     ~1 ms at 16 MiB, and a reopen took ~5 ms at 16 MiB against ~3.7 ms at
//     2 MiB. Only values over ValueThreshold go there (poll audiences), one
//     file and one fd per 2 MiB of them.
//   - NumLevelZeroTables 5 (stall at 15), Badger's defaults, not 2/4: with
//     1 MiB memtables a busy tenant flushes often, and compacting level 0
//     at every second table took ~20% of the CPU of a credit burst. With
//     5/15: durable reservations 38–41k/s → 50–59k/s, webhook intake
//     6.4k/s p99 29 ms → 8.0k/s p99 19 ms, the 10,000-recipient campaign
//     page 84 → 54 ms, reopen 3.1 ms (2026-11-27, quiet box). A few more
//     table files (fds) per busy tenant is the price.
//   - NumCompactors 2 is the minimum that works (1 is refused, 0 hangs writes
//     once level 0 fills); each ticks every 50 ms, the main idle cost.
//   - BlockCacheSize 0 needs Compression None (it panics otherwise).
//   - SyncWrites: every commit is durable before it returns; money and
//     webhook writes rely on it, and bulk writes batch.
func tenantOptions(dir string, log *slog.Logger) badger.Options {
	return badger.DefaultOptions(dir).
		WithLogger(badgerLogger{log}).
		WithSyncWrites(true).
		WithMemTableSize(1 << 20).
		WithValueThreshold(1 << 10).
		WithValueLogFileSize(2 << 20).
		WithNumMemtables(2).
		WithNumLevelZeroTables(5).
		WithNumLevelZeroTablesStall(15).
		WithNumCompactors(2).
		WithBaseTableSize(1 << 20).
		WithBlockCacheSize(0).
		WithIndexCacheSize(0).
		WithCompression(options.None).
		WithMetricsEnabled(false).
		WithDetectConflicts(true)
}

// catalogOptions are Badger options for the catalog: one DB, read on every
// request, so it gets a little more memory than a tenant DB.
func catalogOptions(dir string, log *slog.Logger) badger.Options {
	return tenantOptions(dir, log).
		WithMemTableSize(8 << 20).
		WithBaseTableSize(2 << 20).
		WithBlockCacheSize(16 << 20)
}

// badgerLogger adapts Badger's printf logger to slog. Badger's info lines
// (compactions, replays) are noise at scale, so they are logged at debug.
// It must never be nil: with a nil logger a failed Open leaks goroutines.
type badgerLogger struct{ log *slog.Logger }

func (l badgerLogger) Errorf(f string, a ...any)   { l.log.Error(msg(f, a)) }
func (l badgerLogger) Warningf(f string, a ...any) { l.log.Warn(msg(f, a)) }
func (l badgerLogger) Infof(f string, a ...any)    { l.log.Debug(msg(f, a)) }
func (l badgerLogger) Debugf(f string, a ...any)   { l.log.Debug(msg(f, a)) }

func msg(f string, a []any) string {
	return strings.TrimSpace(fmt.Sprintf(f, a...))
}
