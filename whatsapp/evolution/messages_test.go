package evolution

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/aibud/aibud/tenants"
)

const (
	maria    = "5511988887777"
	mariaLID = "217467403075806@lid"
	pollID   = "3EB0FFEEDDCCBBAA998877"
)

var (
	at100 = time.Unix(1733400100, 0).UTC()
	at200 = time.Unix(1733400200, 0).UTC()
)

func textEvent(in tenants.InboundText) []tenants.GatewayEvent {
	return []tenants.GatewayEvent{{
		Kind: tenants.EventInboundText, Instance: "shop1", DedupeKey: "messages.upsert:" + in.MessageID, Text: &in,
	}}
}

func voteEvent(v tenants.PollVote) []tenants.GatewayEvent {
	return []tenants.GatewayEvent{{
		Kind: tenants.EventPollVote, Instance: "shop1", DedupeKey: "messages.upsert:" + v.MessageID, Vote: &v,
	}}
}

func messageCases() []webhookCase {
	return []webhookCase{
		{name: "quoted reply, secret index-keyed", file: "upsert_text_quoted", want: textEvent(tenants.InboundText{
			MessageID: "3A5F0C0E9D8C7B6A5F4E", From: maria, PushName: "Maria", Text: "yes please",
			QuotedID: sentID, At: at100})},
		{name: "text, secret as Buffer, timestamp as Long", file: "upsert_text_long", want: textEvent(tenants.InboundText{
			MessageID: "3A5F0C0E9D8C7B6A5F50", From: maria, PushName: "Maria", Text: "Stop", At: at100})},
		{name: "text, secret as base64, timestamp as string", file: "upsert_text_string_ts", want: textEvent(tenants.InboundText{
			MessageID: "3A5F0C0E9D8C7B6A5F51", From: maria, PushName: "Maria", Text: "ok", At: at100})},
		{name: "extendedTextMessage with its own quote", file: "upsert_extended", want: textEvent(tenants.InboundText{
			MessageID: "3A5F0C0E9D8C7B6A5F52", From: maria, PushName: "Maria", Text: "the second one",
			QuotedID: pollID, At: at100})},
		{name: "lid with remoteJidAlt", file: "upsert_lid_alt", want: textEvent(tenants.InboundText{
			MessageID: "3A5F0C0E9D8C7B6A5F53", From: maria, FromLID: mariaLID, PushName: "Maria", Text: "hello", At: at100})},
		{name: "lid without remoteJidAlt", file: "upsert_lid_only", want: textEvent(tenants.InboundText{
			MessageID: "3A5F0C0E9D8C7B6A5F54", FromLID: mariaLID, PushName: "Maria", Text: "hello", At: at100})},
		{name: "image caption, binary media fields", file: "upsert_image_caption", want: textEvent(tenants.InboundText{
			MessageID: "3A5F0C0E9D8C7B6A5F58", From: maria, PushName: "Maria", Text: "this one?", At: at100})},
		{name: "by events path, no event field", file: "byevents_no_event", path: "messages-upsert", want: textEvent(tenants.InboundText{
			MessageID: "3A5F0C0E9D8C7B6A5F63", From: maria, PushName: "Maria", Text: "2", At: at100})},
		{name: "body event wins over path", file: "upsert_lid_only", path: "connection-update", want: textEvent(tenants.InboundText{
			MessageID: "3A5F0C0E9D8C7B6A5F54", FromLID: mariaLID, PushName: "Maria", Text: "hello", At: at100})},
		{name: "typed on our phone", file: "upsert_from_me", want: ignored("messages.upsert:3EB0A1B2C3D4E5F6A7B8D0")},
		{name: "group", file: "upsert_group", want: ignored("messages.upsert:3A5F0C0E9D8C7B6A5F55")},
		{name: "status broadcast", file: "upsert_status_broadcast", want: ignored("messages.upsert:3A5F0C0E9D8C7B6A5F56")},
		{name: "newsletter", file: "upsert_newsletter", want: ignored("messages.upsert:3A5F0C0E9D8C7B6A5F57")},
		{name: "audio", file: "upsert_audio", want: ignored("messages.upsert:3A5F0C0E9D8C7B6A5F59")},
		{name: "vote with option names", file: "vote_names", want: voteEvent(tenants.PollVote{
			MessageID: "3A5F0C0E9D8C7B6A5F60", From: maria, PollMessageID: pollID, Options: []string{"B"}, At: at200})},
		{name: "vote withdrawn", file: "vote_empty", want: voteEvent(tenants.PollVote{
			MessageID: "3A5F0C0E9D8C7B6A5F61", From: maria, PollMessageID: pollID, Options: []string{},
			At: time.Unix(1733400300, 0).UTC()})},
		{name: "vote still encrypted, from a lid", file: "vote_encrypted", want: voteEvent(tenants.PollVote{
			MessageID: "3A5F0C0E9D8C7B6A5F62", FromLID: mariaLID, PollMessageID: pollID, Unreadable: true,
			At: time.UnixMilli(1733400200000).UTC()})},
		{name: "vote with option hashes", body: `{"event":"messages.upsert","instance":"shop1","data":{"key":{"remoteJid":"` +
			maria + `@s.whatsapp.net","id":"V1"},"messageType":"pollUpdateMessage","messageTimestamp":1733400200,"message":` +
			`{"pollUpdateMessage":{"pollCreationMessageKey":{"id":"` + pollID + `"},"vote":{"selectedOptions":[{"0":1,"1":2}]}}}}}`,
			want: voteEvent(tenants.PollVote{MessageID: "V1", From: maria, PollMessageID: pollID, Unreadable: true, At: at200})},
		{name: "batched array data", body: `{"event":"messages.upsert","instance":"shop1","data":[` +
			`{"key":{"remoteJid":"` + maria + `@s.whatsapp.net","id":"A1"},"message":{"conversation":"x"},"messageTimestamp":1733400100},` +
			`{"key":{"remoteJid":"` + maria + `@s.whatsapp.net","id":"A2","fromMe":true},"message":{"conversation":"y"}}]}`,
			want: append(textEvent(tenants.InboundText{MessageID: "A1", From: maria, Text: "x", At: at100}),
				ignored("messages.upsert:A2")...)},
	}
}

func TestParseWebhookMessages(t *testing.T) {
	runWebhookCases(t, messageCases())
}

func TestDigits(t *testing.T) {
	for jid, want := range map[string]string{
		"5511988887777@s.whatsapp.net":    "5511988887777",
		"5511988887777:12@s.whatsapp.net": "5511988887777",
		"217467403075806@lid":             "",
		"120363025246125486@g.us":         "",
		"status@broadcast":                "",
		"abc@s.whatsapp.net":              "",
		"@s.whatsapp.net":                 "",
		"5511988887777":                   "",
		"":                                "",
	} {
		if got := Digits(jid); got != want {
			t.Errorf("Digits(%q) = %q, want %q", jid, got, want)
		}
	}
}

func TestFlexInt64(t *testing.T) {
	for in, want := range map[string]int64{
		`1733400100`:   1733400100,
		`1733400100.0`: 1733400100,
		`"1733400100"`: 1733400100,
		`{"low":1733400100,"high":0,"unsigned":true}`:     1733400100,
		`{"low":-1766587584,"high":403,"unsigned":false}`: 1733400200000,
		`{"low":"nonsense"}`:                              0,
		`"soon"`:                                          0,
		`null`:                                            0,
		`[1]`:                                             0,
	} {
		var f flexInt64
		if err := json.Unmarshal([]byte(in), &f); err != nil {
			t.Errorf("Unmarshal(%s): %v", in, err)
		}
		if f.v != want {
			t.Errorf("Unmarshal(%s) = %d, want %d", in, f.v, want)
		}
	}
}
