package httpapi

import (
	"strings"
	"testing"

	"github.com/aibud/aibud/ai/rules"
	"github.com/aibud/aibud/tenants"
)

// withAutoReplies wires the inbox's auto-replies over the env's store.
func withAutoReplies() envOption {
	return func(cfg *Config, d *Deps) {
		st := d.Campaigns.Polls.(interface {
			tenants.AutoReplyStore
			tenants.ContactStore
			tenants.InstanceStore
			tenants.ShardCatalog
			tenants.Credits
		})
		d.Inbox = &tenants.Inbox{Classifier: rules.New(), Fast: rules.New(), Contacts: d.Contacts, Now: cfg.Now, Logger: cfg.Logger,
			AutoReply: &tenants.AutoReplies{Store: st, Contacts: st, Instances: st, Shards: st, Gateways: d.Numbers.Gateways, Credits: st, Now: cfg.Now, Logger: cfg.Logger}}
	}
}

func TestSettingsAccountAndAutoReplies(t *testing.T) {
	env := newTestEnv(t, withAutoReplies())
	c, _ := env.signup(t, "settings@example.com")
	tests := []struct {
		name, path, body string
		status           int
		contains         string
	}{
		{"bad region", "/app/settings/account", "name=Acme&region=Brazil&time_zone=UTC", 400, "two-letter code"},
		{"bad zone", "/app/settings/account", "name=Acme&region=BR&time_zone=Mars%2FOlympus", 400, "not known"},
		{"empty name", "/app/settings/account", "name=&region=BR&time_zone=UTC", 400, "Company name"},
		{"account saved", "/app/settings/account", "name=Flores+Ltda&region=br&time_zone=America%2FSao_Paulo", 200, "Saved"},
		{"answer too long", "/app/settings/auto-replies", "enabled=on&template_interested=" + strings.Repeat("x", 1001), 400, "longer than"},
		{"answers saved", "/app/settings/auto-replies", "enabled=on&template_interested=Great%2C+we+will+call+you&opt_out_confirmation=Done", 200, "Great, we will call you"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := env.do(t, c, "POST", tt.path, tt.body)
			if r.status != tt.status || !strings.Contains(r.body, tt.contains) {
				t.Fatalf("POST %s = %d; want %d containing %q", tt.path, r.status, tt.status, tt.contains)
			}
		})
	}
	r := env.do(t, c, "GET", "/api/v1/me", "")
	if !strings.Contains(r.body, `"name":"Flores Ltda"`) {
		t.Fatalf("me after saving the account = %s", r.body)
	}
	// Bad input changed nothing: the saved zone and answers are still there.
	r = env.do(t, c, "GET", "/app/settings", "")
	if !strings.Contains(r.body, `value="America/Sao_Paulo"`) || !strings.Contains(r.body, `value="BR"`) || !strings.Contains(r.body, "Great, we will call you") {
		t.Fatalf("settings page lost saved values")
	}
}
