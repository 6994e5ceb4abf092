package tenants

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"
)

// TenantUpdater changes a tenant's catalog record atomically.
type TenantUpdater interface {
	UpdateTenant(ctx context.Context, id string, fn func(*Tenant) error) (Tenant, error)
}

// AccountSettings is what an owner may change about their tenant.
type AccountSettings struct {
	Name     string
	Region   string // ISO 3166-1 alpha-2, for numbers typed without a country code
	TimeZone string // IANA, for schedules and quiet hours
}

// UpdateAccount validates and saves the tenant's name, region and zone.
func UpdateAccount(ctx context.Context, u TenantUpdater, tenantID string, in AccountSettings) (Tenant, error) {
	name := strings.TrimSpace(in.Name)
	if n := utf8.RuneCountInString(name); n < 1 || n > 100 {
		return Tenant{}, Invalid("name", "Company name must be 1 to 100 characters.")
	}
	region := strings.ToUpper(strings.TrimSpace(in.Region))
	if len(region) != 2 || region[0] < 'A' || region[0] > 'Z' || region[1] < 'A' || region[1] > 'Z' {
		return Tenant{}, Invalid("region", "Country must be a two-letter code such as BR, US or ES.")
	}
	zone := strings.TrimSpace(in.TimeZone)
	if _, err := time.LoadLocation(zone); err != nil || zone == "" || zone == "Local" {
		return Tenant{}, Invalid("time_zone", "Time zone %q is not known; use a name such as America/Sao_Paulo.", in.TimeZone)
	}
	return u.UpdateTenant(ctx, tenantID, func(t *Tenant) error {
		t.Name, t.Region, t.TimeZone = name, region, zone
		return nil
	})
}
