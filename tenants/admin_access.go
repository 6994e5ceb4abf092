package tenants

import (
	"context"
	"fmt"
	"time"
)

// Operator access: platform admins, their console sessions, and the
// read-only support view of a tenant's dashboard.

// AdminSessionTTL is how long an operator's console log-in lasts: a working
// day, far shorter than a tenant's session.
const AdminSessionTTL = 12 * time.Hour

// CreateAdmin makes a platform admin: a user with RoleAdmin that belongs to
// no tenant. It is the `aibud admin create` command's use case.
func (a *Admin) CreateAdmin(ctx context.Context, email, password string) (User, error) {
	norm, err := NormalizeEmail(email)
	if err != nil {
		return User{}, err
	}
	if err := ValidatePassword(password); err != nil {
		return User{}, err
	}
	if _, err := a.Catalog.UserByEmail(ctx, norm); err == nil {
		return User{}, Errorf(ECONFLICT, "A user with this email already exists.")
	} else if ErrorCode(err) != ENOTFOUND {
		return User{}, err
	}
	hash, err := a.Hasher.Hash(password)
	if err != nil {
		return User{}, fmt.Errorf("tenants.CreateAdmin hash: %w", err)
	}
	u := User{ID: a.NewID(), Email: norm, Role: RoleAdmin, PasswordHash: hash, CreatedAt: a.Now().UTC()}
	if err := a.Catalog.CreateAdmin(ctx, u); err != nil {
		return User{}, err
	}
	a.Logger.Info("platform admin created", "user", u.ID, "email", u.Email)
	return u, nil
}

// Login checks an operator's email and password. Anyone who is not a
// platform admin gets the same ErrBadLogin as a wrong password.
func (a *Admin) Login(ctx context.Context, email, password string) (User, error) {
	norm, err := NormalizeEmail(email)
	if err != nil {
		return User{}, ErrBadLogin
	}
	u, err := a.Catalog.UserByEmail(ctx, norm)
	if err != nil && ErrorCode(err) != ENOTFOUND {
		return User{}, err
	}
	if err != nil || u.Role != RoleAdmin || u.PasswordHash == "" {
		_, _ = a.Hasher.Verify(a.dummyHash(), password)
		return User{}, ErrBadLogin
	}
	ok, err := a.Hasher.Verify(u.PasswordHash, password)
	if err != nil {
		return User{}, fmt.Errorf("tenants.Admin.Login verify: %w", err)
	}
	if !ok {
		return User{}, ErrBadLogin
	}
	return u, nil
}

// dummyHash is a hash of a password nobody has, so that a log-in for an
// unknown email or a non-admin costs the same time as a real check.
func (a *Admin) dummyHash() string {
	a.dummyOnce.Do(func() { a.dummy, _ = a.Hasher.Hash("no admin has this password") })
	return a.dummy
}

// StartSession creates a revocable console session for an admin.
func (a *Admin) StartSession(ctx context.Context, admin User) (Session, error) {
	if err := checkActor(admin); err != nil {
		return Session{}, err
	}
	now := a.Now().UTC()
	s := Session{ID: a.NewID(), UserID: admin.ID, CreatedAt: now, ExpiresAt: now.Add(AdminSessionTTL)}
	if err := a.Catalog.CreateSession(ctx, s); err != nil {
		return Session{}, err
	}
	return s, nil
}

// ResumeSession returns the admin of a live console session. Anything else
// (unknown, expired, a tenant user's session) is EUNAUTHORIZED.
func (a *Admin) ResumeSession(ctx context.Context, sessionID string) (User, error) {
	s, err := a.Catalog.Session(ctx, sessionID)
	if ErrorCode(err) == ENOTFOUND {
		return User{}, Errorf(EUNAUTHORIZED, "Please log in.")
	} else if err != nil {
		return User{}, err
	}
	if !a.Now().Before(s.ExpiresAt) || s.TenantID != "" {
		return User{}, Errorf(EUNAUTHORIZED, "Please log in.")
	}
	return a.Operator(ctx, s.UserID)
}

// EndSession revokes a console session; an unknown one is not an error.
func (a *Admin) EndSession(ctx context.Context, sessionID string) error {
	if err := a.Catalog.DeleteSession(ctx, sessionID); err != nil && ErrorCode(err) != ENOTFOUND {
		return err
	}
	return nil
}

// Operator returns the user with the given id if it is a platform admin;
// anyone else is EUNAUTHORIZED.
func (a *Admin) Operator(ctx context.Context, id string) (User, error) {
	if id == "" {
		return User{}, Errorf(EUNAUTHORIZED, "Please log in.")
	}
	u, err := a.Catalog.User(ctx, id)
	if ErrorCode(err) == ENOTFOUND {
		return User{}, Errorf(EUNAUTHORIZED, "Please log in.")
	} else if err != nil {
		return User{}, err
	}
	if u.Role != RoleAdmin {
		return User{}, Errorf(EUNAUTHORIZED, "Please log in.")
	}
	return u, nil
}

// SupportView is what opening a support view gives the console: the
// tenant, and its owner, whose dashboard the operator will see.
type SupportView struct {
	Tenant Tenant
	Owner  User // zero when the tenant has no owner record
}

// OpenSupportView records that an operator is about to look at a tenant's
// data read-only. The audit entry is written before the view opens.
func (a *Admin) OpenSupportView(ctx context.Context, actor User, tenantID, reason string) (SupportView, error) {
	if err := checkActor(actor); err != nil {
		return SupportView{}, err
	}
	reason, err := validateReason(reason, false)
	if err != nil {
		return SupportView{}, err
	}
	t, err := a.Catalog.Tenant(ctx, tenantID)
	if err != nil {
		return SupportView{}, err
	}
	owner, err := a.owner(ctx, tenantID)
	if err != nil {
		return SupportView{}, err
	}
	detail := "Opened the dashboard read-only"
	if reason != "" {
		detail += ": " + reason
	}
	if err := a.audit(ctx, actor, tenantID, AuditSupportView, detail); err != nil {
		return SupportView{}, err
	}
	a.Logger.Info("support view opened", "tenant", tenantID, "admin", actor.Email)
	return SupportView{Tenant: t, Owner: owner}, nil
}

// SupportAccount resolves a support view on each request: the admin must
// still exist and be an admin, and the tenant must exist. It returns the
// owner's account marked with RoleAdmin (the dashboard shows the support
// banner for it) and the admin. It writes nothing.
func (a *Admin) SupportAccount(ctx context.Context, adminID, tenantID, ownerID string) (Account, User, error) {
	admin, err := a.Operator(ctx, adminID)
	if err != nil {
		return Account{}, User{}, err
	}
	t, err := a.Catalog.Tenant(ctx, tenantID)
	if err != nil {
		return Account{}, User{}, err
	}
	owner := User{TenantID: t.ID}
	if ownerID != "" {
		if u, err := a.Catalog.User(ctx, ownerID); err == nil && u.TenantID == t.ID {
			owner = u
		} else if err != nil && ErrorCode(err) != ENOTFOUND {
			return Account{}, User{}, err
		}
	}
	owner.Role, owner.PasswordHash = RoleAdmin, ""
	return Account{User: owner, Tenant: t}, admin, nil
}

// owner returns the tenant's first owner, or a zero User when it has none.
func (a *Admin) owner(ctx context.Context, tenantID string) (User, error) {
	owners, err := a.owners(ctx)
	return owners[tenantID], err
}

// owners maps each tenant to its first owner (by creation time).
func (a *Admin) owners(ctx context.Context) (map[string]User, error) {
	users, err := a.Catalog.ListUsers(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]User{}
	for _, u := range users {
		if u.Role != RoleOwner || u.TenantID == "" {
			continue
		}
		if cur, ok := out[u.TenantID]; !ok || u.CreatedAt.Before(cur.CreatedAt) {
			out[u.TenantID] = u
		}
	}
	return out, nil
}
