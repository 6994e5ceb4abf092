package tenants

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"time"
)

// Tenant data rights: erasing a whole tenant (by its owner or an operator),
// a contact's data export on request, and the manifest of a tenant export
// file (written by the store, downloaded from the admin console).

// ExportManifest describes one tenant export file: the first line of the
// file, followed by PayloadBytes of the tenant database's Badger stream. The
// tenant's catalog records travel in Records; SHA256 covers them and the
// payload (store/export.go documents the format).
type ExportManifest struct {
	Format       string         `json:"format"`
	Version      int            `json:"version"`
	TenantID     string         `json:"tenant_id"`
	CreatedAt    time.Time      `json:"created_at"`
	Counts       map[string]int `json:"counts"` // records per kind, and "db_keys"
	PayloadBytes int64          `json:"payload_bytes"`
	SHA256       string         `json:"sha256"`
	Records      []ExportRecord `json:"records"`
}

// ExportRecord is one catalog key and its raw value.
type ExportRecord struct {
	Key       string `json:"key"`
	Value     []byte `json:"value"`
	ExpiresAt uint64 `json:"expires_at,omitempty"` // Unix seconds; 0 = never
}

// AuditErase is the audit entry kept of an erased tenant: its tombstone.
// The tenant's audit log outlives the tenant; nothing else does.
const AuditErase AuditAction = "erase"

// TenantData removes what the platform stores about a tenant.
type TenantData interface {
	// EraseTenantData removes the tenant's catalog records (the tenant, its
	// users with their indexes and sessions, webhook routes, usage, the
	// Stripe customer index) and its database directory. It can be repeated
	// after a failure; ENOTFOUND when there was nothing left to remove.
	EraseTenantData(ctx context.Context, tenantID string) error
}

// Eraser erases tenants and exports a contact's data on request.
type Eraser struct {
	Catalog  Catalog
	Numbers  *Numbers
	Billing  *Billing // nil, or without Stripe: no subscription to cancel
	Data     TenantData
	Audit    AuditLog // the tombstone goes here
	Hasher   PasswordHasher
	Contacts ContactStore
	Polls    PollStore
	NewID    func() string
	Now      func() time.Time
	Logger   *slog.Logger
}

// EraseTenant deletes a tenant for a platform admin, with a reason kept
// in the tenant's audit log. Its WhatsApp numbers are logged out and
// removed at their gateways, its Stripe subscription is cancelled, an
// AuditErase entry (the tombstone) is written, then its database and
// catalog records are removed. It cannot be undone; an erase cut short can
// be repeated.
func (e *Eraser) EraseTenant(ctx context.Context, actor User, tenantID, reason string) error {
	if err := checkActor(actor); err != nil {
		return err
	}
	reason, err := validateReason(reason, true)
	if err != nil {
		return err
	}
	return e.erase(ctx, actor, tenantID, reason)
}

// DeleteOwnAccount deletes the caller's tenant after checking their
// password: only the owner may, and only with the password they log in with.
func (e *Eraser) DeleteOwnAccount(ctx context.Context, acct Account, password string) error {
	if acct.User.Role != RoleOwner {
		return Errorf(EFORBIDDEN, "Only the account owner can delete the account.")
	}
	u, err := e.Catalog.User(ctx, acct.User.ID)
	if err != nil {
		return err
	}
	if u.TenantID != acct.Tenant.ID || u.Role != RoleOwner {
		return Errorf(EFORBIDDEN, "Only the account owner can delete the account.")
	}
	if u.PasswordHash == "" {
		return Errorf(EFORBIDDEN, "This account signs in without a password here. Ask the operator to delete it.")
	}
	if password == "" {
		return Invalid("password", "Type your password to confirm.")
	}
	ok, err := e.Hasher.Verify(u.PasswordHash, password)
	if err != nil {
		return fmt.Errorf("tenants.DeleteOwnAccount verify: %w", err)
	}
	if !ok {
		return ErrWrongPassword
	}
	return e.erase(ctx, u, acct.Tenant.ID, "deleted by its owner")
}

// ErrWrongPassword refuses an account deletion confirmed with the wrong
// password.
var ErrWrongPassword = &Error{Code: EINVALID, Field: "password", Message: "Wrong password."}

func (e *Eraser) erase(ctx context.Context, actor User, tenantID, reason string) error {
	if _, err := e.Catalog.Tenant(ctx, tenantID); ErrorCode(err) == ENOTFOUND {
		// A previous erase may have been cut short after its catalog
		// records went: finish it, or say there is no such tenant.
		return e.Data.EraseTenantData(ctx, tenantID)
	} else if err != nil {
		return err
	}
	if err := e.removeNumbers(ctx, tenantID); err != nil {
		return err
	}
	if err := e.cancelSubscription(ctx, tenantID); err != nil {
		return err
	}
	entry := AuditEntry{ID: e.NewID(), TenantID: tenantID, Action: AuditErase, ActorID: actor.ID,
		ActorEmail: actor.Email, Detail: reason, At: e.Now().UTC()}
	if err := e.Audit.AppendAudit(ctx, entry); err != nil {
		return fmt.Errorf("tenants.EraseTenant %s: tombstone: %w", tenantID, err)
	}
	if err := e.Data.EraseTenantData(ctx, tenantID); err != nil {
		return err
	}
	e.Logger.Info("tenant erased", "tenant", tenantID, "by", actor.ID, "reason", reason)
	return nil
}

// removeNumbers logs each number out and deletes it at its gateway, which
// also frees its shard slot and webhook route. A gateway that fails stops
// the erase: a number left connected would keep receiving messages.
func (e *Eraser) removeNumbers(ctx context.Context, tenantID string) error {
	list, err := e.Numbers.List(ctx, tenantID)
	if ErrorCode(err) == ENOTFOUND {
		return nil // the database is already gone
	} else if err != nil {
		return err
	}
	for _, in := range list {
		if in.State == StateOpen {
			if _, err := e.Numbers.Logout(ctx, tenantID, in.ID); err != nil {
				e.Logger.Warn("logout before removal failed", "tenant", tenantID, "instance", in.ID, "err", err)
			}
		}
		if err := e.Numbers.Remove(ctx, tenantID, in.ID); err != nil {
			return fmt.Errorf("%w (WhatsApp number %q)", err, in.Name)
		}
	}
	return nil
}

// cancelSubscription ends the tenant's Stripe subscription when Stripe is
// on. Stripe being unreachable stops the erase (try again later); Stripe
// refusing the change (a subscription already gone) does not.
func (e *Eraser) cancelSubscription(ctx context.Context, tenantID string) error {
	if !e.Billing.Configured() {
		return nil
	}
	t, err := e.Catalog.Tenant(ctx, tenantID)
	if err != nil {
		return err
	}
	if t.StripeSubscriptionID == "" || t.BillingStatus == BillingCanceled {
		return nil
	}
	err = e.Billing.CancelSubscription(ctx, tenantID)
	switch ErrorCode(err) {
	case "", ECONFLICT:
		return nil
	case EINTERNAL:
		e.Logger.Error("subscription not cancelled; cancel it in Stripe", "tenant", tenantID, "subscription", t.StripeSubscriptionID, "err", err)
		return nil
	}
	return err
}

// ContactData is everything stored about one contact, as given to them on
// request: the record, the consent log, the polls sent to them (with the
// question asked), their votes and their replies.
type ContactData struct {
	ExportedAt time.Time        `json:"exported_at"`
	Contact    Contact          `json:"contact"`
	Consent    []ConsentEvent   `json:"consent"`
	Messages   []ContactMessage `json:"messages"`
	Votes      []Vote           `json:"votes"`
	Replies    []Reply          `json:"replies"`
}

// ContactMessage is a poll message with the poll it carried.
type ContactMessage struct {
	Message
	Question string   `json:"question,omitempty"`
	Options  []string `json:"options,omitempty"`
}

// ExportContact writes a contact's data as indented JSON (ContactData).
// phone is E.164, with or without the plus sign.
func (e *Eraser) ExportContact(ctx context.Context, tenantID, phone string, w io.Writer) error {
	d, err := e.ContactData(ctx, tenantID, phone)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(d)
}

// ContactData gathers a contact's data; see ExportContact.
func (e *Eraser) ContactData(ctx context.Context, tenantID, phone string) (ContactData, error) {
	key, err := phoneKey(phone)
	if err != nil {
		return ContactData{}, err
	}
	d := ContactData{ExportedAt: e.Now().UTC(), Consent: []ConsentEvent{}, Messages: []ContactMessage{}, Votes: []Vote{}, Replies: []Reply{}}
	if d.Contact, err = e.Contacts.Contact(ctx, tenantID, key); err != nil {
		return ContactData{}, err
	}
	consent, err := e.Contacts.ConsentLog(ctx, tenantID, key)
	if err != nil {
		return ContactData{}, err
	}
	d.Consent = append(d.Consent, consent...)
	msgs, err := e.Polls.ContactMessages(ctx, tenantID, key)
	if err != nil {
		return ContactData{}, err
	}
	polls := map[string]Poll{}
	for _, m := range msgs {
		p, ok := polls[m.PollID]
		if !ok {
			if p, err = e.Polls.Poll(ctx, tenantID, m.PollID); err != nil && ErrorCode(err) != ENOTFOUND {
				return ContactData{}, err
			}
			polls[m.PollID] = p
		}
		d.Messages = append(d.Messages, ContactMessage{Message: m, Question: p.Question, Options: p.Options})
	}
	votes, err := e.Polls.ContactVotes(ctx, tenantID, key)
	if err != nil {
		return ContactData{}, err
	}
	replies, err := e.Polls.ContactReplies(ctx, tenantID, key)
	if err != nil {
		return ContactData{}, err
	}
	d.Votes, d.Replies = append(d.Votes, votes...), append(d.Replies, replies...)
	return d, nil
}
