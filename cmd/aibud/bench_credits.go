package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/aibud/aibud/store"
)

// benchCredits measures durable single-credit reservations: n from callers
// goroutines on one tenant (the group-commit path), then n spread round
// robin over many tenants whose DBs are all open (one commit queue each).
func benchCredits(ctx context.Context, e *benchEnv) (string, error) {
	n := e.flags.Int("n", 200_000, "reservations in each phase")
	callers := e.flags.Int("callers", 64, "concurrent callers")
	tenantCount := e.flags.Int("tenants", 1000, "tenants in the second phase")
	if err := e.parse(); err != nil {
		return "", err
	}
	if *n < 1 || *callers < 1 || *tenantCount < 1 {
		return "", fmt.Errorf("-n, -callers and -tenants must be positive")
	}
	dir, err := e.tempDir()
	if err != nil {
		return "", err
	}
	s, err := store.Open(store.Options{Dir: dir, MaxOpenTenants: *tenantCount + 1,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return "", err
	}
	defer s.Close()

	// phase signs up tenants, then reserves n credits round robin over them.
	phase := func(tenants int) (float64, error) {
		ids, err := store.SignUpTenants(ctx, s, tenants, 8, int64(*n/tenants+1))
		if err != nil {
			return 0, err
		}
		e.logger.Info("reserving", "reservations", *n, "tenants", tenants, "callers", *callers)
		return store.ReserveLoad(ctx, s, ids, *n, *callers)
	}
	oneRate, err := phase(1)
	if err != nil {
		return "", err
	}
	manyRate, err := phase(*tenantCount)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("one tenant %s reservations/s (%d callers), %s tenants %s/s (all open)",
		count(oneRate), *callers, count(float64(*tenantCount)), count(manyRate)), nil
}
