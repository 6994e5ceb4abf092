package evolution

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/aibud/aibud/tenants"
)

// dateTime is the envelope date_time of every testdata payload.
const dateTime = "2025-12-05T10:00:00.000Z"

// webhookCase is one webhook and the events it must become. Payloads live
// in testdata/webhooks, shaped as shared/EVOLUTION.md shows them; small
// variations are written inline.
type webhookCase struct {
	name string
	file string // testdata/webhooks/<file>.json, or
	body string // an inline body
	path string // the by-events path suffix, if any
	want []tenants.GatewayEvent
}

// body returns the case's payload.
func (c webhookCase) payload(tb testing.TB) []byte {
	tb.Helper()
	if c.file == "" {
		return []byte(c.body)
	}
	b, err := os.ReadFile(filepath.Join("testdata", "webhooks", c.file+".json"))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func connEvent(state string, c tenants.ConnectionChange) []tenants.GatewayEvent {
	return []tenants.GatewayEvent{{
		Kind: tenants.EventConnection, Instance: "shop1",
		DedupeKey: "connection.update:" + state + ":" + dateTime, Connection: &c,
	}}
}

func statusEvent(event, id string, s tenants.MessageStatus) []tenants.GatewayEvent {
	return []tenants.GatewayEvent{{
		Kind: tenants.EventMessageStatus, Instance: "shop1", DedupeKey: event + ":" + id + ":" + string(s),
		Status: &tenants.StatusChange{MessageID: id, Status: s},
	}}
}

func ignored(key string) []tenants.GatewayEvent {
	return []tenants.GatewayEvent{{Kind: tenants.EventIgnored, Instance: "shop1", DedupeKey: key}}
}

// updateBody is a MESSAGES_UPDATE for our message 3EB0…C9 with the given
// raw status ("" leaves the field out, as v2.2 did).
func updateBody(status string) string {
	field := ""
	if status != "" {
		field = `,"status":` + status
	}
	return `{"event":"messages.update","instance":"shop1","data":{"keyId":"3EB0A1B2C3D4E5F6A7B8C9",` +
		`"remoteJid":"5511988887777@s.whatsapp.net","fromMe":true,"participant":null` + field +
		`,"instanceId":"8a7b6c5d","messageId":"cm4abc"},"date_time":"` + dateTime + `","apikey":null}`
}

const sentID = "3EB0A1B2C3D4E5F6A7B8C9"

func gatewayEventCases() []webhookCase {
	qrImage := "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
	return []webhookCase{
		{name: "connection open", file: "connection_open", want: connEvent("open", tenants.ConnectionChange{
			State: tenants.StateOpen, Number: "5511999999999", ProfileName: "Loja Um", Reason: 200})},
		{name: "connection connecting", file: "connection_connecting", want: connEvent("connecting", tenants.ConnectionChange{
			State: tenants.StateConnecting, Reason: 200})},
		{name: "connection close logged out", file: "connection_close", want: connEvent("close", tenants.ConnectionChange{
			State: tenants.StateClose, Reason: 401})},
		{name: "connection refused at QR limit", file: "connection_refused", want: connEvent("refused", tenants.ConnectionChange{
			State: tenants.StateClose, Refused: true, Reason: 428})},
		{name: "connection by events path", file: "connection_connecting", path: "/hooks/t1/connection-update",
			want: connEvent("connecting", tenants.ConnectionChange{State: tenants.StateConnecting, Reason: 200})},
		{name: "connection unknown state", body: `{"event":"connection.update","instance":"shop1","data":{"state":"weird"},"date_time":"` + dateTime + `"}`,
			want: ignored("connection.update:weird:" + dateTime)},
		{name: "qrcode updated", file: "qrcode_updated", want: []tenants.GatewayEvent{{
			Kind: tenants.EventQR, Instance: "shop1", DedupeKey: "qrcode.updated:2@y8e1Hq3kZr,Qm9vYmFy,ZGVhZGJlZWY=,1:" + dateTime,
			QR: &tenants.QRCode{State: tenants.StateConnecting, Image: qrImage, Code: "2@y8e1Hq3kZr,Qm9vYmFy,ZGVhZGJlZWY=,1"}}}},
		{name: "qrcode with pairing code", file: "qrcode_pairing", want: []tenants.GatewayEvent{{
			Kind: tenants.EventQR, Instance: "shop1", DedupeKey: "qrcode.updated:2@AbCdEf,GhIj,KlMn,1:" + dateTime,
			QR: &tenants.QRCode{State: tenants.StateConnecting, Image: "data:image/png;base64,iVBORw0KGgo=",
				Code: "2@AbCdEf,GhIj,KlMn,1", PairingCode: "WZYEH1YY"}}}},
		{name: "qrcode limit reached", file: "qrcode_limit", want: []tenants.GatewayEvent{{
			Kind: tenants.EventConnection, Instance: "shop1", DedupeKey: "qrcode.updated:refused:" + dateTime,
			Connection: &tenants.ConnectionChange{State: tenants.StateClose, Refused: true, Reason: 500}}}},
		{name: "logout instance", file: "logout_instance", want: []tenants.GatewayEvent{{
			Kind: tenants.EventConnection, Instance: "shop1", DedupeKey: "logout.instance:close:" + dateTime,
			Connection: &tenants.ConnectionChange{State: tenants.StateClose}}}},
		{name: "remove instance", file: "remove_instance", want: []tenants.GatewayEvent{{
			Kind: tenants.EventConnection, Instance: "shop1", DedupeKey: "remove.instance:close:" + dateTime,
			Connection: &tenants.ConnectionChange{State: tenants.StateClose}}}},
		{name: "status instance ignored", file: "status_instance", want: ignored("status.instance:" + dateTime)},
		{name: "contacts upsert ignored", file: "contacts_upsert", want: ignored("contacts.upsert:" + dateTime)},
		{name: "update read", file: "messages_update_read", want: statusEvent("messages.update", sentID, tenants.StatusRead)},
		{name: "update missing status is server ack", file: "messages_update_nostatus",
			want: statusEvent("messages.update", sentID, tenants.StatusSent)},
		{name: "update of inbound message ignored", file: "messages_update_inbound",
			want: ignored("messages.update:3A5F0C0E9D8C7B6A5F4E:READ")},
		{name: "update server ack", body: updateBody(`"SERVER_ACK"`), want: statusEvent("messages.update", sentID, tenants.StatusSent)},
		{name: "update delivery ack", body: updateBody(`"DELIVERY_ACK"`), want: statusEvent("messages.update", sentID, tenants.StatusDelivered)},
		{name: "update played is read", body: updateBody(`"PLAYED"`), want: statusEvent("messages.update", sentID, tenants.StatusRead)},
		{name: "update error", body: updateBody(`"ERROR"`), want: statusEvent("messages.update", sentID, tenants.StatusFailed)},
		{name: "update pending ignored", body: updateBody(`"PENDING"`), want: ignored("messages.update:" + sentID + ":PENDING")},
		{name: "update deleted ignored", body: updateBody(`"DELETED"`), want: ignored("messages.update:" + sentID + ":DELETED")},
		{name: "update numeric delivery ack", body: updateBody(`3`), want: statusEvent("messages.update", sentID, tenants.StatusDelivered)},
		{name: "update by events path", body: `{"instance":"shop1","data":{"keyId":"` + sentID + `","fromMe":true,"status":"READ"}}`,
			path: "/hook/messages-update/", want: statusEvent("messages.update", sentID, tenants.StatusRead)},
		{name: "send message text", file: "send_message_text", want: statusEvent("send.message", sentID, tenants.StatusSent)},
		{name: "send message poll", file: "send_message_poll", want: pollEcho(statusEvent("send.message", "3EB0FFEEDDCCBBAA998877", tenants.StatusSent), "5511988887777", "Pick one")},
	}
}

// pollEcho adds what the echo of a sent poll carries to match its message.
func pollEcho(events []tenants.GatewayEvent, to, question string) []tenants.GatewayEvent {
	events[0].Status.To, events[0].Status.PollName = to, question
	return events
}

func runWebhookCases(t *testing.T, cases []webhookCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseWebhook(tc.payload(t), tc.path)
			if err != nil {
				t.Fatalf("ParseWebhook: %v", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseWebhookGatewayEvents(t *testing.T) {
	runWebhookCases(t, gatewayEventCases())
}

// TestParseWebhookDedupeAcrossModes checks that a by-events delivery and a
// plain one of the same event share a DedupeKey, so switching the webhook
// mode never replays events.
func TestParseWebhookDedupeAcrossModes(t *testing.T) {
	body := []byte(updateBody(`"READ"`))
	plain, err := ParseWebhook(body, "")
	if err != nil {
		t.Fatal(err)
	}
	byPath, err := ParseWebhook(body, "/hook/messages-update")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(plain, byPath); diff != "" {
		t.Errorf("plain vs by-events (-plain +byPath):\n%s", diff)
	}
}

func TestParseWebhookRejects(t *testing.T) {
	for name, tc := range map[string]struct{ body, path string }{
		"empty":              {body: ""},
		"truncated":          {body: `{"event":"messages.upsert",`},
		"array":              {body: `[{"event":"messages.upsert"}]`},
		"no event no path":   {body: `{"instance":"shop1","data":{}}`},
		"no instance":        {body: `{"event":"messages.upsert","data":{}}`, path: "messages-upsert"},
		"instance object":    {body: `{"event":"connection.update","instance":{"name":"shop1"},"data":{}}`},
		"state not a string": {body: `{"event":"connection.update","instance":"shop1","data":{"state":5}}`},
		"data a string":      {body: `{"event":"messages.upsert","instance":"shop1","data":"x"}`},
		"key not an object":  {body: `{"event":"messages.upsert","instance":"shop1","data":{"key":[1]}}`},
	} {
		t.Run(name, func(t *testing.T) {
			if got, err := ParseWebhook([]byte(tc.body), tc.path); err == nil {
				t.Errorf("ParseWebhook(%s) = %+v, want an error", tc.body, got)
			}
		})
	}
}
