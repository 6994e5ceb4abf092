package tenants

import (
	"context"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"
)

// TenantStatus is whether a tenant may use the product.
type TenantStatus string

const (
	TenantActive    TenantStatus = "active"
	TenantSuspended TenantStatus = "suspended"
)

// Tenant is one client business. Its operational data lives in its own
// database; the catalog keeps this record.
type Tenant struct {
	ID     string       `json:"id"`
	Name   string       `json:"name"`
	Plan   PlanID       `json:"plan"`
	Status TenantStatus `json:"status"`
	// Region is the ISO 3166 country for phone numbers typed without a
	// country code; TimeZone (IANA) is for schedules and quiet hours.
	Region    string    `json:"region"`
	TimeZone  string    `json:"time_zone"`
	CreatedAt time.Time `json:"created_at"`

	// Billing, kept in the catalog with the tenant.
	StripeCustomerID     string        `json:"stripe_customer_id,omitempty"`
	StripeSubscriptionID string        `json:"stripe_subscription_id,omitempty"`
	BillingStatus        BillingStatus `json:"billing_status,omitempty"`
	PeriodEnd            time.Time     `json:"period_end,omitzero"` // end of the paid period
	// SuspendedReason says why an operator suspended the tenant.
	SuspendedReason string `json:"suspended_reason,omitempty"`
}

// BillingStatus is the state of a tenant's payments.
type BillingStatus string

const (
	BillingOK       BillingStatus = ""
	BillingPastDue  BillingStatus = "past_due" // the last invoice failed; a banner asks to fix it
	BillingCanceled BillingStatus = "canceled" // back to Starter at the period end
)

// Defaults for a new tenant until its owner sets them in Settings.
const (
	DefaultRegion   = "US"
	DefaultTimeZone = "UTC"
)

// Location returns the tenant's time zone, UTC when unset or unknown.
func (t Tenant) Location() *time.Location {
	if loc, err := time.LoadLocation(t.TimeZone); err == nil && t.TimeZone != "" {
		return loc
	}
	return time.UTC
}

// RegionOrDefault returns the tenant's phone region.
func (t Tenant) RegionOrDefault() string {
	if t.Region == "" {
		return DefaultRegion
	}
	return t.Region
}

// Role is what a user may do.
type Role string

const (
	RoleOwner Role = "owner"
	RoleAdmin Role = "admin" // platform operator
)

// User is a person who logs in. PasswordHash is empty for users who only sign
// in through an external identity provider.
type User struct {
	ID           string    `json:"id"`
	Email        string    `json:"email"`
	TenantID     string    `json:"tenant_id"`
	Role         Role      `json:"role"`
	PasswordHash string    `json:"password_hash,omitempty"`
	ExternalID   string    `json:"external_id,omitempty"` // e.g. the Clerk user id
	CreatedAt    time.Time `json:"created_at"`
}

// Session is a server-side login that can be revoked.
type Session struct {
	ID        string    `json:"id"`
	UserID    string    `json:"user_id"`
	TenantID  string    `json:"tenant_id"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Catalog is the platform-wide store of accounts: users, tenants, sessions.
type Catalog interface {
	// CreateAccount stores a new tenant and its first user in one step. It
	// fails with ECONFLICT when the email (or external id) is taken.
	CreateAccount(ctx context.Context, t Tenant, u User) error
	Tenant(ctx context.Context, id string) (Tenant, error)
	User(ctx context.Context, id string) (User, error)
	UserByEmail(ctx context.Context, email string) (User, error)
	UserByExternalID(ctx context.Context, externalID string) (User, error)
	CreateSession(ctx context.Context, s Session) error
	Session(ctx context.Context, id string) (Session, error)
	DeleteSession(ctx context.Context, id string) error
}

// TenantDatabases creates and removes the per-tenant databases.
type TenantDatabases interface {
	CreateTenantDB(ctx context.Context, tenantID string) error
	DeleteTenantDB(ctx context.Context, tenantID string) error
}

// PasswordHasher hashes and checks passwords; the implementation (argon2id)
// lives outside the domain.
type PasswordHasher interface {
	Hash(password string) (string, error)
	Verify(hash, password string) (bool, error)
}

// Password length bounds, in characters.
const (
	MinPasswordLen = 10
	MaxPasswordLen = 128
)

// NormalizeEmail trims and lower-cases an email address and checks that it is
// a plain address (no display name).
func NormalizeEmail(raw string) (string, error) {
	email := strings.ToLower(strings.TrimSpace(raw))
	if email == "" {
		return "", Invalid("email", "Email is required.")
	}
	if len(email) > 254 {
		return "", Invalid("email", "Email is too long.")
	}
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Address != email || !strings.Contains(email[strings.LastIndex(email, "@"):], ".") {
		return "", Invalid("email", "Email %q is not a valid address.", raw)
	}
	return email, nil
}

// ValidatePassword checks the password length rules.
func ValidatePassword(p string) error {
	n := utf8.RuneCountInString(p)
	if n < MinPasswordLen {
		return Invalid("password", "Password must be at least %d characters.", MinPasswordLen)
	}
	if n > MaxPasswordLen {
		return Invalid("password", "Password must be at most %d characters.", MaxPasswordLen)
	}
	return nil
}

// ValidateCompany checks a company (tenant) name.
func ValidateCompany(name string) (string, error) {
	name = strings.TrimSpace(name)
	if utf8.RuneCountInString(name) > 100 {
		return "", Invalid("company", "Company name must be at most 100 characters.")
	}
	return name, nil
}
