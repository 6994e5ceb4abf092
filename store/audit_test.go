package store

import (
	"fmt"
	"testing"
	"time"

	"github.com/aibud/aibud/tenants"
	"github.com/google/go-cmp/cmp"
)

func TestAuditLogNewestFirstPerTenant(t *testing.T) {
	s := mustOpen(t, 2)
	ctx := t.Context()
	at := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	// "T1" is a prefix of "T10": the tenants' logs must not mix.
	var want []tenants.AuditEntry
	for i := range 7 {
		e := tenants.AuditEntry{ID: NewID(), TenantID: "T1", Action: tenants.AuditSupportView, ActorID: "A", ActorEmail: "ops@x.example",
			Detail: fmt.Sprint("view ", i), At: at.Add(time.Duration(i) * time.Minute)}
		if err := s.AppendAudit(ctx, e); err != nil {
			t.Fatal(err)
		}
		want = append([]tenants.AuditEntry{e}, want...)
	}
	if err := s.AppendAudit(ctx, tenants.AuditEntry{ID: NewID(), TenantID: "T10", Action: tenants.AuditSuspend}); err != nil {
		t.Fatal(err)
	}

	var got []tenants.AuditEntry
	cursor, pages := "", 0
	for {
		page, err := s.AuditEntries(ctx, "T1", cursor, 3)
		if err != nil {
			t.Fatal(err)
		}
		got, cursor, pages = append(got, page.Entries...), page.NextCursor, pages+1
		if cursor == "" {
			break
		}
	}
	if diff := cmp.Diff(want, got); diff != "" || pages != 3 {
		t.Fatalf("T1's log in %d pages (-want +got):\n%s", pages, diff)
	}
	if page, _ := s.AuditEntries(ctx, "T10", "", 10); len(page.Entries) != 1 || page.Entries[0].Action != tenants.AuditSuspend {
		t.Fatalf("T10's log = %+v", page.Entries)
	}
	if page, _ := s.AuditEntries(ctx, "T2", "", 10); len(page.Entries) != 0 || page.NextCursor != "" {
		t.Fatalf("empty log = %+v", page)
	}
	if _, err := s.AuditEntries(ctx, "T1", "../x", 10); tenants.ErrorCode(err) != tenants.EINVALID {
		t.Fatalf("bad cursor: %v", err)
	}
	if err := s.AppendAudit(ctx, tenants.AuditEntry{ID: NewID()}); tenants.ErrorCode(err) != tenants.EINVALID {
		t.Fatalf("entry without tenant: %v", err)
	}
}

func TestCreateAdminAndListUsers(t *testing.T) {
	s := mustOpen(t, 2)
	ctx := t.Context()
	admin := tenants.User{ID: NewID(), Email: "ops@x.example", Role: tenants.RoleAdmin, PasswordHash: "h"}
	if err := s.CreateAdmin(ctx, admin); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateAdmin(ctx, tenants.User{ID: NewID(), Email: "ops@x.example", Role: tenants.RoleAdmin}); tenants.ErrorCode(err) != tenants.ECONFLICT {
		t.Fatalf("taken email: %v", err)
	}
	if err := s.CreateAdmin(ctx, tenants.User{ID: NewID(), Email: "owner@x.example", Role: tenants.RoleOwner}); tenants.ErrorCode(err) != tenants.EINVALID {
		t.Fatalf("owner as admin: %v", err)
	}
	owner := tenants.User{ID: NewID(), Email: "owner@x.example", Role: tenants.RoleOwner, TenantID: "T1"}
	if err := s.CreateAccount(ctx, tenants.Tenant{ID: "T1", Name: "Shop"}, owner); err != nil {
		t.Fatal(err)
	}
	if got, err := s.UserByEmail(ctx, "ops@x.example"); err != nil || got != admin {
		t.Fatalf("admin by email = %+v, %v", got, err)
	}
	users, err := s.ListUsers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]tenants.User{admin, owner}, users); diff != "" {
		t.Fatalf("users (-want +got):\n%s", diff)
	}
}
