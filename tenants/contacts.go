package tenants

import (
	"context"
	"encoding/csv"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Contacts is the leads use case: import (contacts_import.go), list, search,
// opt-outs with their consent log, export and erase.
type Contacts struct {
	Store  ContactStore
	Hooks  *Hooks // nil: no outgoing webhooks
	Phones PhoneNormalizer
	Now    func() time.Time
	Logger *slog.Logger
}

// Contact sources.
const (
	SourceImport  = "import"
	SourcePaste   = "paste"
	SourceInbound = "inbound"
	SourceAPI     = "api"
)

// Consent event sources besides the contact sources.
const (
	ConsentManual = "manual" // a user clicked opt-out or opt-in
	ConsentReply  = "reply"  // the lead asked, by replying
)

// List limits.
const (
	DefaultContactPage = 50
	MaxContactPage     = 200
	maxNameLen         = 100
	maxTagLen          = 40
	maxTagsPerContact  = 20
)

// TagCount is a tag and how many contacts carry it.
type TagCount struct {
	Tag      string
	Contacts int
}

// ContactTagLister is implemented by contact stores that can list the tags
// in use; the contacts page offers them as a filter.
type ContactTagLister interface {
	ContactTags(ctx context.Context, tenantID string) ([]TagCount, error)
}

// List returns one page of the tenant's contacts in phone order.
func (c *Contacts) List(ctx context.Context, tenantID string, q ContactQuery) (ContactPage, error) {
	switch {
	case q.Limit == 0:
		q.Limit = DefaultContactPage
	case q.Limit < 1 || q.Limit > MaxContactPage:
		return ContactPage{}, Invalid("limit", "limit must be a whole number from 1 to %d.", MaxContactPage)
	}
	q.Search = strings.TrimSpace(q.Search)
	if utf8.RuneCountInString(q.Search) > maxNameLen {
		return ContactPage{}, Invalid("search", "Search for at most %d characters.", maxNameLen)
	}
	if q.Tag != "" {
		tag, err := NormalizeTag(q.Tag)
		if err != nil {
			return ContactPage{}, Invalid("tag", "%s", ErrorMessage(err))
		}
		q.Tag = tag
	}
	if q.Cursor != "" && !isPhoneKey(q.Cursor) {
		return ContactPage{}, Invalid("cursor", "Cursor %q is not valid.", q.Cursor)
	}
	return c.Store.Contacts(ctx, tenantID, q)
}

// Tags lists the tags in use with their counts, nil when the store cannot.
func (c *Contacts) Tags(ctx context.Context, tenantID string) ([]TagCount, error) {
	if l, ok := c.Store.(ContactTagLister); ok {
		return l.ContactTags(ctx, tenantID)
	}
	return nil, nil
}

// Get returns one contact. phone is E.164, with or without the plus sign.
func (c *Contacts) Get(ctx context.Context, tenantID, phone string) (Contact, error) {
	key, err := phoneKey(phone)
	if err != nil {
		return Contact{}, err
	}
	return c.Store.Contact(ctx, tenantID, key)
}

// ConsentLog returns a contact's opt-in and opt-out history, oldest first.
func (c *Contacts) ConsentLog(ctx context.Context, tenantID, phone string) ([]ConsentEvent, error) {
	ct, err := c.Get(ctx, tenantID, phone)
	if err != nil {
		return nil, err
	}
	return c.Store.ConsentLog(ctx, tenantID, ct.Phone)
}

// Add creates one contact, or merges into the existing one with that number
// (created is false then).
func (c *Contacts) Add(ctx context.Context, t Tenant, phone, name string, tags []string) (ct Contact, created bool, err error) {
	if phone, err = c.Phones.Normalize(phone, t.RegionOrDefault()); err != nil {
		return Contact{}, false, err
	}
	if tags, err = normalizeTags(tags, "tags"); err != nil {
		return Contact{}, false, err
	}
	if utf8.RuneCountInString(strings.TrimSpace(name)) > maxNameLen {
		return Contact{}, false, Invalid("name", "Name must be at most %d characters.", maxNameLen)
	}
	n, _, err := c.Store.UpsertContacts(ctx, t.ID, []Contact{{Phone: phone, Name: cleanName(name), Tags: tags, Source: SourceAPI}}, c.Now().UTC())
	if err != nil {
		return Contact{}, false, err
	}
	ct, err = c.Store.Contact(ctx, t.ID, phone)
	return ct, n == 1, err
}

// EnsureInbound returns the contact who just wrote to the tenant, creating
// them (source "inbound", named by their WhatsApp profile) when new. phone
// comes from WhatsApp, so it is already international ("5511…", a JID or
// "+5511…"). An existing contact only gains the profile name if it had none.
func (c *Contacts) EnsureInbound(ctx context.Context, tenantID, phone, pushName string) (Contact, error) {
	phone, _, _ = strings.Cut(phone, "@")
	key, err := phoneKey(phone)
	if err != nil {
		return Contact{}, Invalid("phone", "%q is not a WhatsApp number.", phone)
	}
	ct, err := c.Store.Contact(ctx, tenantID, key)
	if err == nil && (ct.Name != "" || cleanName(pushName) == "") {
		return ct, nil
	}
	if err != nil && ErrorCode(err) != ENOTFOUND {
		return Contact{}, err
	}
	in := Contact{Phone: key, Name: cleanName(pushName), Source: SourceInbound}
	if _, _, err := c.Store.UpsertContacts(ctx, tenantID, []Contact{in}, c.Now().UTC()); err != nil {
		return Contact{}, err
	}
	return c.Store.Contact(ctx, tenantID, key)
}

// OptOut stops all messages to a contact and logs why; source is who asked
// (ConsentManual, ConsentReply, SourceAPI) and detail e.g. the reply text.
func (c *Contacts) OptOut(ctx context.Context, tenantID, phone, source, detail string) (Contact, error) {
	return c.setOptOut(ctx, tenantID, phone, true, source, detail)
}

// OptIn lets a contact who opted out receive messages again, logged likewise.
func (c *Contacts) OptIn(ctx context.Context, tenantID, phone, source, detail string) (Contact, error) {
	return c.setOptOut(ctx, tenantID, phone, false, source, detail)
}

func (c *Contacts) setOptOut(ctx context.Context, tenantID, phone string, out bool, source, detail string) (Contact, error) {
	key, err := phoneKey(phone)
	if err != nil {
		return Contact{}, err
	}
	if source == "" {
		source = ConsentManual
	}
	if utf8.RuneCountInString(detail) > 500 {
		detail = string([]rune(detail)[:500])
	}
	prev, perr := c.Store.Contact(ctx, tenantID, key)
	ev := ConsentEvent{Phone: key, OptOut: out, Source: source, Detail: detail, At: c.Now().UTC()}
	ct, err := c.Store.SetOptOut(ctx, tenantID, ev)
	if err == nil {
		c.Logger.Info("contact consent changed", "tenant", tenantID, "opt_out", out, "source", source)
		if out && (perr != nil || !prev.OptedOut) {
			c.Hooks.Notify(ctx, tenantID, HookContactOptedOut, OptedOutData(ct, ev))
		}
	}
	return ct, err
}

// Delete erases a contact and everything stored about them (the right to be
// forgotten); it cannot be undone.
func (c *Contacts) Delete(ctx context.Context, tenantID, phone string) error {
	key, err := phoneKey(phone)
	if err != nil {
		return err
	}
	if err := c.Store.DeleteContact(ctx, tenantID, key); err != nil {
		return err
	}
	c.Logger.Info("contact erased", "tenant", tenantID)
	return nil
}

// ExportColumns is the header of Export's CSV; Import reads it back.
var ExportColumns = []string{"phone", "name", "tags", "opt_in", "opted_out", "opted_out_at", "lead_status", "created_at"}

// Export writes every contact as CSV, streaming. Cells that a spreadsheet
// would run as a formula (=, +, -, @ first) get a leading apostrophe:
// names come from WhatsApp profiles, which anyone can set.
func (c *Contacts) Export(ctx context.Context, tenantID string, w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(ExportColumns); err != nil {
		return err
	}
	err := c.Store.ForEachContact(ctx, tenantID, "", func(ct Contact) error {
		optedOutAt := ""
		if !ct.OptedOutAt.IsZero() {
			optedOutAt = ct.OptedOutAt.UTC().Format(time.RFC3339)
		}
		return cw.Write([]string{"+" + ct.Phone, safeCell(ct.Name), safeCell(strings.Join(ct.Tags, ", ")),
			strconv.FormatBool(ct.OptIn), strconv.FormatBool(ct.OptedOut), optedOutAt,
			string(ct.LeadStatus), ct.CreatedAt.UTC().Format(time.RFC3339)})
	})
	if err != nil {
		return err
	}
	cw.Flush()
	return cw.Error()
}

func safeCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// phoneKey turns "+5511987654321" or "5511987654321" into the key a contact
// is stored under; anything else names no contact.
func phoneKey(phone string) (string, error) {
	key := strings.TrimPrefix(strings.TrimSpace(phone), "+")
	if !isPhoneKey(key) {
		return "", Errorf(ENOTFOUND, "Contact not found.")
	}
	return key, nil
}

// isPhoneKey reports whether s is E.164 digits without the plus sign.
func isPhoneKey(s string) bool {
	return len(s) >= 7 && len(s) <= 15 && s[0] != '0' && strings.Trim(s, "0123456789") == ""
}

// cleanName trims a name, drops control characters and keeps it short.
func cleanName(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) > maxNameLen {
		s = string([]rune(s)[:maxNameLen])
	}
	return s
}

// NormalizeTag trims and lower-cases a tag and checks it: 1–40 characters,
// letters (any script), digits, spaces, '_' and '-'; a leading '#' is
// dropped. Tags are how audiences are picked, so "VIP " and "vip" must be
// one tag.
func NormalizeTag(raw string) (string, error) {
	tag := strings.ToLower(strings.Join(strings.Fields(raw), " "))
	tag = strings.Trim(strings.TrimPrefix(tag, "#"), " _-")
	n := utf8.RuneCountInString(tag)
	if n == 0 || n > maxTagLen {
		return "", Invalid("tags", "Tag %q must be 1 to %d characters.", clipText(raw, 50), maxTagLen)
	}
	for _, r := range tag {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != ' ' && r != '_' && r != '-' {
			return "", Invalid("tags", "Tag %q may only hold letters, digits, spaces, '_' and '-'.", clipText(raw, 50))
		}
	}
	return tag, nil
}

// SplitTags splits a cell of tags on commas, semicolons and bars.
func SplitTags(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ';' || r == '|' })
}

// normalizeTags normalises each tag, dropping blanks and repeats.
func normalizeTags(raw []string, field string) ([]string, error) {
	var out []string
	for _, r := range raw {
		if strings.TrimSpace(r) == "" {
			continue
		}
		tag, err := NormalizeTag(r)
		if err != nil {
			return nil, Invalid(field, "%s", ErrorMessage(err))
		}
		out = mergeTags(out, []string{tag})
	}
	if len(out) > maxTagsPerContact {
		return nil, Invalid(field, "At most %d tags per contact.", maxTagsPerContact)
	}
	return out, nil
}

// mergeTags returns a followed by the tags of b it lacks.
func mergeTags(a, b []string) []string {
	for _, t := range b {
		if !listHas(a, t) {
			a = append(a, t)
		}
	}
	return a
}

func clipText(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}
