package tenants

import (
	"context"
	"time"
)

// LeadStatus is where a contact stands, as the replies tell it.
type LeadStatus string

const (
	LeadNew      LeadStatus = "new"
	LeadEngaged  LeadStatus = "engaged"
	LeadHot      LeadStatus = "hot"
	LeadCold     LeadStatus = "cold"
	LeadOptedOut LeadStatus = "opted_out"
)

// Contact is one lead of a tenant, keyed by phone number (E.164 digits,
// no plus sign), which is also their WhatsApp address.
type Contact struct {
	Phone      string     `json:"phone"`
	Name       string     `json:"name"`
	Tags       []string   `json:"tags"`
	OptIn      bool       `json:"opt_in"` // the import said the lead agreed to messages
	OptedOut   bool       `json:"opted_out"`
	OptedOutAt time.Time  `json:"opted_out_at,omitzero"`
	LeadStatus LeadStatus `json:"lead_status"`
	Score      int        `json:"score"`
	Source     string     `json:"source"` // "import", "paste", "inbound", "api"
	CreatedAt  time.Time  `json:"created_at"`
	UpdatedAt  time.Time  `json:"updated_at"`
}

// ConsentEvent is one entry of a contact's consent log: every opt-in and
// opt-out, with when, how and why, kept for compliance.
type ConsentEvent struct {
	Phone  string    `json:"phone"`
	OptOut bool      `json:"opt_out"` // false = opt-in
	Source string    `json:"source"`  // "import", "reply", "manual", "api"
	Detail string    `json:"detail"`  // e.g. the reply text "STOP"
	At     time.Time `json:"at"`
}

// ContactQuery selects contacts for listing.
type ContactQuery struct {
	Search string // substring of phone or name, case-insensitive
	Tag    string
	Cursor string // the last phone of the previous page
	Limit  int
}

// ContactPage is one page of contacts in phone order.
type ContactPage struct {
	Contacts   []Contact
	NextCursor string
}

// ContactStore keeps a tenant's contacts.
type ContactStore interface {
	// UpsertContacts inserts or merges contacts (name and opt-in overwrite
	// when given, tags are added) and reports how many were new and how many
	// updated. Opt-outs are never undone by an import.
	UpsertContacts(ctx context.Context, tenantID string, cs []Contact, now time.Time) (created, updated int, err error)
	Contact(ctx context.Context, tenantID, phone string) (Contact, error)
	Contacts(ctx context.Context, tenantID string, q ContactQuery) (ContactPage, error)
	// ForEachContact visits every contact (with the tag, when given), in phone order.
	ForEachContact(ctx context.Context, tenantID, tag string, fn func(Contact) error) error
	// SetOptOut records an opt-out (or opt-in again) with its consent event.
	SetOptOut(ctx context.Context, tenantID string, ev ConsentEvent) (Contact, error)
	ConsentLog(ctx context.Context, tenantID, phone string) ([]ConsentEvent, error)
	// DeleteContact erases a contact and everything stored about them.
	DeleteContact(ctx context.Context, tenantID, phone string) error
}

// PhoneNormalizer turns what people type into E.164 digits, using the
// tenant's default country for numbers without a country code.
type PhoneNormalizer interface {
	Normalize(raw, defaultRegion string) (string, error)
}
