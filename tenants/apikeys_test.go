package tenants_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aibud/aibud/store"
	"github.com/aibud/aibud/tenants"
)

// API keys over a real catalog (Badger in a temp dir).

type keyClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *keyClock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *keyClock) Add(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

type keysEnv struct {
	keys  *tenants.APIKeys
	st    *store.Store
	clock *keyClock
}

func newKeysEnv(t *testing.T) *keysEnv {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	c := &keyClock{now: time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)}
	st, err := store.Open(store.Options{Dir: t.TempDir(), MaxOpenTenants: 4, Logger: logger, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	keys := &tenants.APIKeys{Store: st, Catalog: st, Now: c.Now, NewID: store.NewID, Logger: logger}
	return &keysEnv{keys: keys, st: st, clock: c}
}

// mustAccount writes a tenant and its owner to the catalog.
func (e *keysEnv) mustAccount(t *testing.T, email string) tenants.Account {
	t.Helper()
	now := e.clock.Now()
	tn := tenants.Tenant{ID: store.NewID(), Name: email, Plan: tenants.PlanStarter, Status: tenants.TenantActive, CreatedAt: now}
	u := tenants.User{ID: store.NewID(), Email: email, TenantID: tn.ID, Role: tenants.RoleOwner, CreatedAt: now}
	if err := e.st.CreateAccount(context.Background(), tn, u); err != nil {
		t.Fatal(err)
	}
	return tenants.Account{User: u, Tenant: tn}
}

func (e *keysEnv) mustKey(t *testing.T, acc tenants.Account, name string) (tenants.APIKey, string) {
	t.Helper()
	k, secret, err := e.keys.Create(context.Background(), acc, name)
	if err != nil {
		t.Fatal(err)
	}
	return k, secret
}

func TestAPIKeyCreateAndAuthenticate(t *testing.T) {
	e := newKeysEnv(t)
	ctx := context.Background()
	acme, other := e.mustAccount(t, "acme@example.com"), e.mustAccount(t, "other@example.com")
	k, secret := e.mustKey(t, acme, "  CRM sync  ")

	if !strings.HasPrefix(secret, "ak_") || len(secret) != 46 {
		t.Fatalf("key %q: want ak_ and 43 base64url characters", secret)
	}
	if k.Name != "CRM sync" || k.Prefix != secret[:11] || k.Hash != tenants.HashAPIKey(secret) || k.TenantID != acme.Tenant.ID {
		t.Fatalf("record = %+v", k)
	}
	acc, got, err := e.keys.AuthenticateKey(ctx, secret)
	if err != nil || acc.Tenant.ID != acme.Tenant.ID || acc.User.ID != acme.User.ID || got.ID != k.ID {
		t.Fatalf("AuthenticateKey = %+v, %+v, %v; want acme's account", acc, got, err)
	}

	_, unknown := e.mustKey(t, other, "other")
	if _, err := e.keys.Revoke(ctx, other.Tenant.ID, k.ID); tenants.ErrorCode(err) != tenants.ENOTFOUND {
		t.Fatalf("revoking another tenant's key: %v; want not_found", err)
	}
	if _, err := e.keys.Revoke(ctx, other.Tenant.ID, "../"+acme.Tenant.ID+"/"+k.ID); tenants.ErrorCode(err) != tenants.ENOTFOUND {
		t.Fatalf("revoking through a crafted id: %v; want not_found", err)
	}
	for name, key := range map[string]string{
		"empty":     "",
		"no prefix": strings.TrimPrefix(secret, "ak_") + "xyz",
		"short":     secret[:20],
		"not b64":   "ak_" + strings.Repeat("!", 43),
		"unknown":   "ak_" + strings.Repeat("A", 43),
		"one off":   unknown[:45] + map[bool]string{true: "R", false: "Q"}[unknown[45] == 'Q'],
	} {
		if _, _, err := e.keys.AuthenticateKey(ctx, key); tenants.ErrorCode(err) != tenants.EUNAUTHORIZED {
			t.Errorf("%s key: %v; want unauthorized", name, err)
		}
	}

	if _, err := e.keys.Revoke(ctx, acme.Tenant.ID, k.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.keys.Revoke(ctx, acme.Tenant.ID, k.ID); err != nil {
		t.Fatalf("revoking twice: %v", err)
	}
	if _, _, err := e.keys.AuthenticateKey(ctx, secret); tenants.ErrorCode(err) != tenants.EUNAUTHORIZED {
		t.Fatalf("revoked key: %v; want unauthorized", err)
	}
	list, err := e.keys.List(ctx, acme.Tenant.ID)
	if err != nil || len(list) != 1 || !list[0].Revoked || list[0].RevokedAt.IsZero() {
		t.Fatalf("list after revoke = %+v, %v; want the one key, revoked", list, err)
	}
}

func TestAPIKeyLastUsedAtMostOncePerMinute(t *testing.T) {
	e := newKeysEnv(t)
	ctx := context.Background()
	acme := e.mustAccount(t, "acme@example.com")
	k, secret := e.mustKey(t, acme, "CRM")
	lastUsed := func() time.Time {
		t.Helper()
		got, err := e.keys.Get(ctx, acme.Tenant.ID, k.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got.LastUsedAt
	}
	if !lastUsed().IsZero() {
		t.Fatal("a new key has a last use")
	}
	first := e.clock.Now()
	steps := []struct {
		advance time.Duration
		want    time.Time
	}{
		{0, first},
		{30 * time.Second, first},                      // within the minute: no write
		{29 * time.Second, first},                      // 59 s: still none
		{2 * time.Second, first.Add(61 * time.Second)}, // past the minute: written
	}
	for i, s := range steps {
		e.clock.Add(s.advance)
		if _, _, err := e.keys.AuthenticateKey(ctx, secret); err != nil {
			t.Fatal(err)
		}
		if got := lastUsed(); !got.Equal(s.want) {
			t.Fatalf("step %d: last used %v; want %v", i, got, s.want)
		}
	}
}

func TestAPIKeyValidationAndLimit(t *testing.T) {
	e := newKeysEnv(t)
	ctx := context.Background()
	acme := e.mustAccount(t, "acme@example.com")
	for _, name := range []string{"", "   ", strings.Repeat("n", 61)} {
		if _, _, err := e.keys.Create(ctx, acme, name); tenants.ErrorField(err) != "name" {
			t.Errorf("name %q: %v; want an error about name", name, err)
		}
	}
	var first tenants.APIKey
	for i := range tenants.MaxAPIKeys {
		k, _ := e.mustKey(t, acme, "key")
		if i == 0 {
			first = k
		}
	}
	if _, _, err := e.keys.Create(ctx, acme, "one too many"); tenants.ErrorCode(err) != tenants.ECONFLICT {
		t.Fatalf("key %d: %v; want conflict", tenants.MaxAPIKeys+1, err)
	}
	if _, err := e.keys.Revoke(ctx, acme.Tenant.ID, first.ID); err != nil {
		t.Fatal(err)
	}
	e.mustKey(t, acme, "replacement") // a revoked key frees its place
	list, err := e.keys.List(ctx, acme.Tenant.ID)
	if err != nil || len(list) != tenants.MaxAPIKeys+1 || list[0].Name != "replacement" {
		t.Fatalf("list = %d keys, first %q, %v; want %d, newest first", len(list), list[0].Name, err, tenants.MaxAPIKeys+1)
	}
}
