package tenants

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Admin is the platform operator's use case: the tenants list and page,
// suspending, crediting and re-planning a tenant, the read-only support
// view with its audit trail, and the gateway shards. Every action is taken
// by an actor, a user with RoleAdmin, and lands in the tenant's audit log
// that both the operator and the tenant's owner can read.
type Admin struct {
	Catalog   AdminCatalog
	Credits   Credits
	Billing   *Billing // nil: plans cannot be set by hand
	Usage     *Usage   // nil: the list shows no send counts
	Instances InstanceStore
	Polls     PollStore
	Shards    ShardCatalog
	Gateways  Gateways
	Audit     AuditLog
	Hasher    PasswordHasher
	NewID     func() string
	Now       func() time.Time
	Logger    *slog.Logger

	dummyOnce sync.Once
	dummy     string
}

// AdminCatalog is the part of the catalog the console reads and writes.
type AdminCatalog interface {
	Catalog
	ListTenants(ctx context.Context) ([]Tenant, error)
	// ListUsers returns every user, tenant owners and admins alike.
	ListUsers(ctx context.Context) ([]User, error)
	UpdateTenant(ctx context.Context, id string, fn func(*Tenant) error) (Tenant, error)
	// CreateAdmin stores a user that belongs to no tenant; ECONFLICT when
	// the email is taken.
	CreateAdmin(ctx context.Context, u User) error
}

// AuditAction is what an operator did to a tenant.
type AuditAction string

// The audited actions.
const (
	AuditSupportView AuditAction = "support_view" // opened the tenant's dashboard read-only
	AuditSuspend     AuditAction = "suspend"
	AuditResume      AuditAction = "resume"
	AuditCredits     AuditAction = "credits" // granted or deducted credits
	AuditPlan        AuditAction = "plan"    // set the plan by hand
)

// Label is the action as the audit log shows it.
func (a AuditAction) Label() string {
	switch a {
	case AuditSupportView:
		return "Support view"
	case AuditSuspend:
		return "Suspended"
	case AuditResume:
		return "Resumed"
	case AuditCredits:
		return "Credits"
	case AuditPlan:
		return "Plan"
	case AuditErase:
		return "Erased"
	}
	return string(a)
}

// AuditEntry is one line of a tenant's audit log: who did what, when, why.
type AuditEntry struct {
	ID         string      `json:"id"` // sortable (ULID): the log's order
	TenantID   string      `json:"tenant_id"`
	Action     AuditAction `json:"action"`
	ActorID    string      `json:"actor_id"`
	ActorEmail string      `json:"actor_email"`
	Detail     string      `json:"detail"`
	At         time.Time   `json:"at"`
}

// AuditPage is one page of a tenant's audit log, newest first.
type AuditPage struct {
	Entries    []AuditEntry
	NextCursor string // empty on the last page
}

// AuditLog keeps each tenant's audit entries.
type AuditLog interface {
	// AppendAudit stores an entry durably before it returns.
	AppendAudit(ctx context.Context, e AuditEntry) error
	// AuditEntries lists a tenant's entries newest first; cursor is the
	// previous page's NextCursor.
	AuditEntries(ctx context.Context, tenantID, cursor string, limit int) (AuditPage, error)
}

// maxReason bounds the reasons operators type, in characters.
const maxReason = 200

func validateReason(reason string, required bool) (string, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" && required {
		return "", Invalid("reason", "A reason is required.")
	}
	if utf8.RuneCountInString(reason) > maxReason {
		return "", Invalid("reason", "The reason must be at most %d characters.", maxReason)
	}
	return reason, nil
}

// checkActor makes sure an action is taken by a platform admin.
func checkActor(actor User) error {
	if actor.Role != RoleAdmin || actor.ID == "" {
		return Errorf(EFORBIDDEN, "Only platform admins can do this.")
	}
	return nil
}

// audit appends an entry; the action it records has already happened, so a
// failure is returned for the caller to report, never undone.
func (a *Admin) audit(ctx context.Context, actor User, tenantID string, action AuditAction, detail string) error {
	e := AuditEntry{ID: a.NewID(), TenantID: tenantID, Action: action, ActorID: actor.ID,
		ActorEmail: actor.Email, Detail: detail, At: a.Now().UTC()}
	if err := a.Audit.AppendAudit(ctx, e); err != nil {
		return fmt.Errorf("tenants.audit %s %s: %w", tenantID, action, err)
	}
	return nil
}

// AuditLog returns a page of a tenant's audit log, for the operator and for
// the tenant's owner.
// The log of an erased tenant stays readable: its last entry is the
// tombstone.
func (a *Admin) AuditLog(ctx context.Context, tenantID, cursor string, limit int) (AuditPage, error) {
	return a.Audit.AuditEntries(ctx, tenantID, cursor, limit)
}

// Suspend stops a tenant from sending and scheduling, with a reason its
// users see. Webhooks are still stored; queued sends wait.
func (a *Admin) Suspend(ctx context.Context, actor User, tenantID, reason string) (Tenant, error) {
	if err := checkActor(actor); err != nil {
		return Tenant{}, err
	}
	reason, err := validateReason(reason, true)
	if err != nil {
		return Tenant{}, err
	}
	t, err := a.Catalog.UpdateTenant(ctx, tenantID, func(t *Tenant) error {
		if t.Status == TenantSuspended {
			return Errorf(ECONFLICT, "This tenant is already suspended.")
		}
		t.Status, t.SuspendedReason = TenantSuspended, reason
		return nil
	})
	if err != nil {
		return Tenant{}, err
	}
	a.Logger.Info("tenant suspended", "tenant", tenantID, "admin", actor.Email, "reason", reason)
	return t, a.audit(ctx, actor, tenantID, AuditSuspend, reason)
}

// Resume lets a suspended tenant send again.
func (a *Admin) Resume(ctx context.Context, actor User, tenantID, reason string) (Tenant, error) {
	if err := checkActor(actor); err != nil {
		return Tenant{}, err
	}
	reason, err := validateReason(reason, false)
	if err != nil {
		return Tenant{}, err
	}
	t, err := a.Catalog.UpdateTenant(ctx, tenantID, func(t *Tenant) error {
		if t.Status != TenantSuspended {
			return Errorf(ECONFLICT, "This tenant is not suspended.")
		}
		t.Status, t.SuspendedReason = TenantActive, ""
		return nil
	})
	if err != nil {
		return Tenant{}, err
	}
	a.Logger.Info("tenant resumed", "tenant", tenantID, "admin", actor.Email, "reason", reason)
	return t, a.audit(ctx, actor, tenantID, AuditResume, reason)
}

// MaxAdjustment bounds one grant or deduction, against typos.
const MaxAdjustment = 1_000_000

// AdjustCredits grants (delta > 0) or deducts (delta < 0) credits with a
// required reason. The ledger entry names the admin; a deduction larger
// than the balance is refused, never clipped.
func (a *Admin) AdjustCredits(ctx context.Context, actor User, tenantID string, delta int64, reason string) (LedgerEntry, error) {
	if err := checkActor(actor); err != nil {
		return LedgerEntry{}, err
	}
	if delta == 0 || delta > MaxAdjustment || delta < -MaxAdjustment {
		return LedgerEntry{}, Invalid("delta", "Amount must be a non-zero number of credits between -%d and %d.", MaxAdjustment, MaxAdjustment)
	}
	reason, err := validateReason(reason, true)
	if err != nil {
		return LedgerEntry{}, err
	}
	if _, err := a.Catalog.Tenant(ctx, tenantID); err != nil {
		return LedgerEntry{}, err
	}
	verb := "Granted"
	if delta < 0 {
		verb = "Deducted"
	}
	ledgerReason := fmt.Sprintf("%s by %s: %s", verb, actor.Email, reason)
	if len(ledgerReason) > 200 {
		return LedgerEntry{}, Invalid("reason", "The reason is too long to fit on the ledger with your email; shorten it.")
	}
	e, err := a.Credits.Grant(ctx, tenantID, delta, ledgerReason, "admin:"+a.NewID())
	var ic *InsufficientCreditsError
	if errors.As(err, &ic) {
		return LedgerEntry{}, Invalid("delta", "Cannot deduct %d credits: the balance is %d.", -delta, ic.Balance)
	} else if err != nil {
		return LedgerEntry{}, err
	}
	a.Logger.Info("credits adjusted", "tenant", tenantID, "admin", actor.Email, "delta", delta, "reason", reason)
	return e, a.audit(ctx, actor, tenantID, AuditCredits, fmt.Sprintf("%+d credits: %s", delta, reason))
}

// SetPlan changes a tenant's plan by hand.
func (a *Admin) SetPlan(ctx context.Context, actor User, tenantID string, plan PlanID, reason string) (Tenant, error) {
	if err := checkActor(actor); err != nil {
		return Tenant{}, err
	}
	if a.Billing == nil {
		return Tenant{}, Errorf(EUNAVAILABLE, "Plans cannot be set on this server.")
	}
	reason, err := validateReason(reason, true)
	if err != nil {
		return Tenant{}, err
	}
	before, err := a.Catalog.Tenant(ctx, tenantID)
	if err != nil {
		return Tenant{}, err
	}
	t, err := a.Billing.SetPlan(ctx, tenantID, plan, fmt.Sprintf("%s (by %s)", reason, actor.Email))
	if err != nil {
		return Tenant{}, err
	}
	return t, a.audit(ctx, actor, tenantID, AuditPlan, fmt.Sprintf("%s → %s: %s", before.Plan, plan, reason))
}
