package tenants

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"
)

// AutoReplySettings are a tenant's automatic answers, off by default.
type AutoReplySettings struct {
	Enabled   bool              `json:"enabled"`
	Templates map[Intent]string `json:"templates"` // intent → text; empty = no answer
	// OptOutConfirmation, when set, is sent once to a contact who opts out.
	OptOutConfirmation string `json:"opt_out_confirmation"`
}

// AutoReplyStore keeps the settings and the once-a-day marks.
type AutoReplyStore interface {
	AutoReplySettings(ctx context.Context, tenantID string) (AutoReplySettings, error)
	PutAutoReplySettings(ctx context.Context, tenantID string, s AutoReplySettings) error
	// ClaimAutoReply marks the contact as answered for ttl and reports
	// whether it was free (false: already answered within ttl).
	ClaimAutoReply(ctx context.Context, tenantID, phone string, ttl time.Duration) (bool, error)
}

// autoReplyEvery is how often one contact may get an automatic answer.
const autoReplyEvery = 24 * time.Hour

// MaxAutoReplyLen bounds an automatic answer.
const MaxAutoReplyLen = 1000

// AutoReplies sends a tenant's automatic answers. Each costs one credit,
// like any send: reserved first, refunded if the send fails.
type AutoReplies struct {
	Store     AutoReplyStore
	Contacts  ContactStore
	Instances InstanceStore
	Shards    ShardCatalog
	Gateways  Gateways
	Credits   Credits
	Hooks     *Hooks // nil: no outgoing webhooks
	Now       func() time.Time
	Logger    *slog.Logger
}

// Validate checks settings a tenant saves.
func (s AutoReplySettings) Validate() error {
	for intent, text := range s.Templates {
		if _, ok := leadStep[intent]; !ok || intent == IntentOptOut || intent == IntentAutoReply {
			return Invalid("templates", "No automatic answer can be set for %q.", intent)
		}
		if utf8.RuneCountInString(text) > MaxAutoReplyLen {
			return Invalid("templates", "The answer for %s is longer than %d characters.", intent, MaxAutoReplyLen)
		}
	}
	if utf8.RuneCountInString(s.OptOutConfirmation) > MaxAutoReplyLen {
		return Invalid("opt_out_confirmation", "The opt-out confirmation is longer than %d characters.", MaxAutoReplyLen)
	}
	return nil
}

// Maybe answers a classified reply when the tenant set an answer for its
// intent, the contact has not opted out and got no answer in 24 hours.
func (a *AutoReplies) Maybe(ctx context.Context, tenantID string, r Reply, intent Intent) error {
	s, err := a.Store.AutoReplySettings(ctx, tenantID)
	if err != nil || !s.Enabled {
		return err
	}
	text := strings.TrimSpace(s.Templates[intent])
	if text == "" {
		return nil
	}
	if c, err := a.Contacts.Contact(ctx, tenantID, r.Phone); err != nil || c.OptedOut {
		return ignoreNotFound(err)
	}
	return a.send(ctx, tenantID, r, text, "auto:"+r.ID)
}

// ConfirmOptOut sends the tenant's opt-out confirmation, the one message an
// opted-out contact may still get.
func (a *AutoReplies) ConfirmOptOut(ctx context.Context, tenantID string, r Reply) error {
	s, err := a.Store.AutoReplySettings(ctx, tenantID)
	if err != nil || !s.Enabled || strings.TrimSpace(s.OptOutConfirmation) == "" {
		return err
	}
	return a.send(ctx, tenantID, r, s.OptOutConfirmation, "optout:"+r.ID)
}

func (a *AutoReplies) send(ctx context.Context, tenantID string, r Reply, text, ref string) error {
	if r.InstanceID == "" {
		return nil
	}
	in, err := a.Instances.Instance(ctx, tenantID, r.InstanceID)
	if err != nil || in.State != StateOpen {
		return ignoreNotFound(err)
	}
	free, err := a.Store.ClaimAutoReply(ctx, tenantID, r.Phone, autoReplyEvery)
	if err != nil || !free {
		return err
	}
	entry, err := a.Credits.Reserve(ctx, tenantID, ref, 1)
	if err == nil && CrossedLowBalance(entry.BalanceAfter-entry.Delta, entry.BalanceAfter) {
		a.Hooks.Notify(ctx, tenantID, HookCreditsLow, LowBalanceData(entry.BalanceAfter))
	}
	if err != nil {
		if ErrorCode(err) == EPAYMENT {
			a.Logger.Info("auto-reply skipped: no credits", "tenant", tenantID)
			return nil
		}
		return err
	}
	gw, err := gatewayOf(ctx, a.Shards, a.Gateways, in)
	if err == nil {
		_, err = gw.SendText(ctx, in.Ref(), OutboundText{To: r.Phone, Text: text, QuoteID: r.WAID})
	}
	if err != nil {
		if _, _, rerr := a.Credits.Refund(ctx, tenantID, ref, "refund:"+ref, 1); rerr != nil {
			return fmt.Errorf("auto-reply refund: %w (send: %v)", rerr, err)
		}
		a.Logger.Warn("auto-reply not sent; credit refunded", "tenant", tenantID, "err", err)
	}
	return nil
}

func ignoreNotFound(err error) error {
	if ErrorCode(err) == ENOTFOUND {
		return nil
	}
	return err
}

// gatewayOf returns the gateway client of the shard an instance lives on.
func gatewayOf(ctx context.Context, shards ShardCatalog, gws Gateways, in Instance) (Gateway, error) {
	list, err := shards.Shards(ctx)
	if err != nil {
		return nil, err
	}
	for _, s := range list {
		if s.ID == in.ShardID {
			return gws.Gateway(s)
		}
	}
	return nil, Errorf(EUNAVAILABLE, "The gateway server of number %q is gone. Remove the number and connect it again.", in.Name)
}
