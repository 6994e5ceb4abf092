package tenants

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// SessionTTL is how long a login lasts.
const SessionTTL = 30 * 24 * time.Hour

// Accounts is the sign-up and log-in use case.
type Accounts struct {
	Catalog   Catalog
	Databases TenantDatabases
	Credits   Credits
	Hasher    PasswordHasher
	NewID     func() string
	Now       func() time.Time
	Logger    *slog.Logger

	dummyOnce sync.Once
	dummy     string
}

// SignupInput is what the sign-up form sends.
type SignupInput struct {
	Email    string
	Password string
	Company  string
}

// Account is a user with the tenant it belongs to.
type Account struct {
	User   User
	Tenant Tenant
}

// Signup creates a tenant on the Starter plan, its owner and the welcome
// credits. From the user's point of view it is atomic: the tenant database
// and its credits are made first, invisible until the catalog transaction
// that writes the tenant, the user and the email index commits; if that
// fails the database is removed again.
func (a *Accounts) Signup(ctx context.Context, in SignupInput) (Account, error) {
	email, err := NormalizeEmail(in.Email)
	if err != nil {
		return Account{}, err
	}
	if err := ValidatePassword(in.Password); err != nil {
		return Account{}, err
	}
	company, err := ValidateCompany(in.Company)
	if err != nil {
		return Account{}, err
	}
	if _, err := a.Catalog.UserByEmail(ctx, email); err == nil {
		return Account{}, Errorf(ECONFLICT, "An account with this email already exists.")
	} else if ErrorCode(err) != ENOTFOUND {
		return Account{}, err
	}
	hash, err := a.Hasher.Hash(in.Password)
	if err != nil {
		return Account{}, fmt.Errorf("tenants.Signup hash: %w", err)
	}
	u := User{ID: a.NewID(), Email: email, Role: RoleOwner, PasswordHash: hash}
	return a.createAccount(ctx, u, company)
}

// SignupExternal creates the account of a user seen for the first time
// through an external identity provider (Clerk).
func (a *Accounts) SignupExternal(ctx context.Context, externalID, email string) (Account, error) {
	if u, err := a.Catalog.UserByExternalID(ctx, externalID); err == nil {
		return a.account(ctx, u)
	}
	norm, err := NormalizeEmail(email)
	if err != nil {
		norm = ""
	}
	u := User{ID: a.NewID(), Email: norm, Role: RoleOwner, ExternalID: externalID}
	return a.createAccount(ctx, u, "")
}

func (a *Accounts) createAccount(ctx context.Context, u User, company string) (Account, error) {
	now := a.Now().UTC()
	if company == "" {
		company = defaultCompanyName(u.Email)
	}
	t := Tenant{ID: a.NewID(), Name: company, Plan: PlanStarter, Status: TenantActive,
		Region: DefaultRegion, TimeZone: DefaultTimeZone, CreatedAt: now}
	u.TenantID, u.CreatedAt = t.ID, now
	if err := a.Databases.CreateTenantDB(ctx, t.ID); err != nil {
		return Account{}, fmt.Errorf("tenants.Signup create db: %w", err)
	}
	starter, _ := LookupPlan(PlanStarter)
	_, err := a.Credits.Grant(ctx, t.ID, starter.SignupCredits, ReasonSignup, "signup:"+t.ID)
	if err == nil {
		err = a.Catalog.CreateAccount(ctx, t, u)
	}
	if err != nil {
		if derr := a.Databases.DeleteTenantDB(ctx, t.ID); derr != nil {
			a.Logger.Error("signup cleanup failed", "tenant", t.ID, "err", derr)
		}
		return Account{}, err
	}
	a.Logger.Info("tenant created", "tenant", t.ID, "user", u.ID)
	return Account{User: u, Tenant: t}, nil
}

func defaultCompanyName(email string) string {
	if email == "" {
		return "My company"
	}
	for i := range len(email) {
		if email[i] == '@' {
			return email[i+1:]
		}
	}
	return email
}

// ErrBadLogin is returned for any failed log-in, whatever the reason, so that
// the answer does not reveal which emails have accounts.
var ErrBadLogin = &Error{Code: EUNAUTHORIZED, Message: "Wrong email or password."}

// Login checks an email and password and returns the account.
func (a *Accounts) Login(ctx context.Context, email, password string) (Account, error) {
	norm, err := NormalizeEmail(email)
	if err != nil {
		return Account{}, ErrBadLogin
	}
	u, err := a.Catalog.UserByEmail(ctx, norm)
	if ErrorCode(err) == ENOTFOUND || (err == nil && u.PasswordHash == "") {
		// Spend the same time as a real check so timing does not reveal the email.
		_, _ = a.Hasher.Verify(a.dummyHash(), password)
		return Account{}, ErrBadLogin
	} else if err != nil {
		return Account{}, err
	}
	ok, err := a.Hasher.Verify(u.PasswordHash, password)
	if err != nil {
		return Account{}, fmt.Errorf("tenants.Login verify: %w", err)
	}
	if !ok {
		return Account{}, ErrBadLogin
	}
	return a.account(ctx, u)
}

// dummyHash is a hash of a password nobody has, used to equalise timing
// when the email is unknown.
func (a *Accounts) dummyHash() string {
	a.dummyOnce.Do(func() { a.dummy, _ = a.Hasher.Hash("no user has this password") })
	return a.dummy
}

// StartSession creates a revocable session for the user.
func (a *Accounts) StartSession(ctx context.Context, acc Account) (Session, error) {
	now := a.Now().UTC()
	s := Session{ID: a.NewID(), UserID: acc.User.ID, TenantID: acc.Tenant.ID, CreatedAt: now, ExpiresAt: now.Add(SessionTTL)}
	if err := a.Catalog.CreateSession(ctx, s); err != nil {
		return Session{}, err
	}
	return s, nil
}

// ResumeSession returns the account of a live session; an unknown, revoked or
// expired session is EUNAUTHORIZED.
func (a *Accounts) ResumeSession(ctx context.Context, sessionID string) (Account, error) {
	s, err := a.Catalog.Session(ctx, sessionID)
	if ErrorCode(err) == ENOTFOUND {
		return Account{}, Errorf(EUNAUTHORIZED, "Your session has ended. Please log in again.")
	} else if err != nil {
		return Account{}, err
	}
	if !a.Now().Before(s.ExpiresAt) {
		return Account{}, Errorf(EUNAUTHORIZED, "Your session has expired. Please log in again.")
	}
	u, err := a.Catalog.User(ctx, s.UserID)
	if err != nil {
		return Account{}, err
	}
	return a.account(ctx, u)
}

// EndSession revokes a session; ending an unknown session is not an error.
func (a *Accounts) EndSession(ctx context.Context, sessionID string) error {
	err := a.Catalog.DeleteSession(ctx, sessionID)
	if ErrorCode(err) == ENOTFOUND {
		return nil
	}
	return err
}

func (a *Accounts) account(ctx context.Context, u User) (Account, error) {
	t, err := a.Catalog.Tenant(ctx, u.TenantID)
	if err != nil {
		return Account{}, err
	}
	return Account{User: u, Tenant: t}, nil
}
