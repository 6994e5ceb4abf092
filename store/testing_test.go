package store

import (
	"context"
	"io"
	"log/slog"
	"testing"
)

// mustOpen opens a store in a temp dir and closes it at the end of the test.
func mustOpen(tb testing.TB, maxOpen int) *Store {
	tb.Helper()
	return mustOpenDir(tb, tb.TempDir(), maxOpen)
}

func mustOpenDir(tb testing.TB, dir string, maxOpen int) *Store {
	tb.Helper()
	s, err := Open(Options{Dir: dir, MaxOpenTenants: maxOpen, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

// mustTenant creates a tenant DB with a starting balance.
func mustTenant(tb testing.TB, s *Store, balance int64) string {
	tb.Helper()
	ctx := context.Background()
	id := NewID()
	if err := s.CreateTenantDB(ctx, id); err != nil {
		tb.Fatal(err)
	}
	if balance > 0 {
		if _, err := s.Grant(ctx, id, balance, "signup", "signup:"+id); err != nil {
			tb.Fatal(err)
		}
	}
	return id
}
