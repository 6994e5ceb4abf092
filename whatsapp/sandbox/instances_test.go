package sandbox_test

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"testing"

	"github.com/aibud/aibud/tenants"
)

// gatewayStatus returns the HTTP status of a *tenants.GatewayError, -1 for
// any other error and 0 for nil.
func gatewayStatus(err error) int {
	var ge *tenants.GatewayError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ge):
		return ge.Status
	}
	return -1
}

func TestCreateInstanceTwice(t *testing.T) {
	g := MustGateway(t, &recorder{})
	MustCreate(t, g, "shop", "")
	_, _, err := g.CreateInstance(context.Background(), tenants.CreateInstanceRequest{Name: "shop", Token: "other"})
	var ge *tenants.GatewayError
	if !errors.As(err, &ge) || ge.Status != http.StatusForbidden || ge.Message != `This name "shop" is already in use.` {
		t.Errorf("second create: err %v, want 403 name in use", err)
	}
}

func TestConnectLifecycle(t *testing.T) {
	ctx := context.Background()
	rec := &recorder{}
	g := MustGateway(t, rec)
	in, first := MustCreate(t, g, "shop", "5511988887777")
	pairing := regexp.MustCompile(`^[A-Z0-9]{8}$`)
	if !pairing.MatchString(first.PairingCode) {
		t.Errorf("create with a number: pairing code %q, want 8 of A-Z0-9", first.PairingCode)
	}

	again, err := g.Connect(ctx, in, "5511988887777")
	if err != nil || again.Count != 1 || again.Code != first.Code || again.PairingCode != first.PairingCode {
		t.Errorf("Connect while connecting = %+v, %v; want the same QR and pairing code", again, err)
	}
	if err := g.Scan(ctx, "shop", "5511988887777", "Shop"); err != nil {
		t.Fatalf("Scan: %v", err)
	}
	if qr, err := g.Connect(ctx, in, ""); err != nil || qr != (tenants.QRCode{State: tenants.StateOpen}) {
		t.Errorf("Connect while open = %+v, %v; want just state open", qr, err)
	}
	if err := g.Scan(ctx, "shop", "5511988887777", "Shop"); tenants.ErrorCode(err) != tenants.ECONFLICT {
		t.Errorf("Scan while open: err %v, want ECONFLICT", err)
	}

	if err := g.Logout(ctx, in); err != nil {
		t.Fatalf("Logout: %v", err)
	}
	if state, err := g.ConnectionState(ctx, in); err != nil || state != tenants.StateClose {
		t.Errorf("state after Logout = %q, %v; want close", state, err)
	}
	if err := g.Logout(ctx, in); err != nil {
		t.Errorf("second Logout: %v, want nil (already closed)", err)
	}
	fresh, err := g.Connect(ctx, in, "")
	if err != nil || fresh.Count != 2 || fresh.Code != "aibud-sandbox:shop:2" || fresh.Image == first.Image || fresh.PairingCode != "" {
		t.Errorf("Connect after close = %+v, %v; want QR number 2 with a new image", fresh, err)
	}
	if state, _ := g.ConnectionState(ctx, in); state != tenants.StateConnecting {
		t.Errorf("state after reconnect = %q, want connecting", state)
	}
	rec.waitFor(t, 2, kind(tenants.EventConnection)) // open, then close
}

func TestInstanceErrors(t *testing.T) {
	ctx := context.Background()
	g := MustGateway(t, &recorder{})
	in, _ := MustCreate(t, g, "shop", "")
	unknown := tenants.GatewayInstance{ShardID: "sandbox", Name: "nobody", Token: "t"}
	tests := []struct {
		name    string
		call    func() error
		want    int // GatewayError status
		wantErr bool
	}{
		{"connect unknown", func() error { _, err := g.Connect(ctx, unknown, ""); return err }, http.StatusNotFound, true},
		{"state unknown", func() error { _, err := g.ConnectionState(ctx, unknown); return err }, http.StatusNotFound, true},
		{"logout unknown", func() error { return g.Logout(ctx, unknown) }, http.StatusNotFound, true},
		{"delete unknown", func() error { return g.DeleteInstance(ctx, unknown) }, 0, false},
		{"wrong token", func() error {
			_, err := g.ConnectionState(ctx, tenants.GatewayInstance{Name: in.Name, Token: "stolen"})
			return err
		}, http.StatusUnauthorized, true},
		{"other shard", func() error {
			_, err := g.ConnectionState(ctx, tenants.GatewayInstance{ShardID: "evo-1", Name: in.Name, Token: in.Token})
			return err
		}, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if got := gatewayStatus(err); got != tt.want || (err != nil) != tt.wantErr {
				t.Errorf("err %v (status %d), want status %d, error %v", err, got, tt.want, tt.wantErr)
			}
		})
	}
}

func TestScanErrors(t *testing.T) {
	ctx := context.Background()
	g := MustGateway(t, &recorder{})
	MustCreate(t, g, "shop", "")
	if err := g.Scan(ctx, "nobody", "5511988887777", ""); tenants.ErrorCode(err) != tenants.ENOTFOUND {
		t.Errorf("Scan unknown: err %v, want ENOTFOUND", err)
	}
	if err := g.Scan(ctx, "shop", " - ", ""); tenants.ErrorField(err) != "number" {
		t.Errorf("Scan without a number: err %v, want EINVALID on number", err)
	}
}

func TestDeleteInstance(t *testing.T) {
	ctx := context.Background()
	g := MustGateway(t, &recorder{})
	in := MustOpen(t, g, "shop")
	sent, err := g.SendPoll(ctx, in, tenants.OutboundPoll{To: "5511912345678", Question: "Lunch?", Options: []string{"Yes", "No"}})
	if err != nil {
		t.Fatalf("SendPoll: %v", err)
	}
	if err := g.DeleteInstance(ctx, in); err != nil {
		t.Fatalf("DeleteInstance: %v", err)
	}
	if _, err := g.ConnectionState(ctx, in); gatewayStatus(err) != http.StatusNotFound {
		t.Errorf("state after delete: err %v, want 404", err)
	}
	if _, err := g.SimulateVote(ctx, "shop", "5511912345678", sent.ID, []string{"Yes"}); tenants.ErrorCode(err) != tenants.ENOTFOUND {
		t.Errorf("vote after delete: err %v, want ENOTFOUND", err)
	}
	MustCreate(t, g, "shop", "") // the name is free again
}

// TestWebhookToken checks that events carry the last path segment of the
// webhook URL, which is how the webhook handler finds the tenant.
func TestWebhookToken(t *testing.T) {
	tests := []struct{ url, want string }{
		{"http://localhost:8080/webhooks/evolution/abc123", "abc123"},
		{"http://localhost:8080/webhooks/evolution/abc123/", "abc123"},
		{"https://aibud.example/webhooks/evolution/abc123?by=sandbox", "abc123"},
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			rec := &recorder{}
			g := MustGateway(t, rec)
			if _, _, err := g.CreateInstance(context.Background(), tenants.CreateInstanceRequest{Name: "shop", Token: "tok", WebhookURL: tt.url}); err != nil {
				t.Fatalf("CreateInstance: %v", err)
			}
			if err := g.Scan(context.Background(), "shop", "5511988887777", "Shop"); err != nil {
				t.Fatalf("Scan: %v", err)
			}
			if got := rec.tokens[0]; got != tt.want {
				t.Errorf("webhook token %q, want %q", got, tt.want)
			}
		})
	}
}
