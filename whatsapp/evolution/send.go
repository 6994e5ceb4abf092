package evolution

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/aibud/aibud/tenants"
)

type pollRequest struct {
	Number string   `json:"number"`
	Name   string   `json:"name"`
	Values []string `json:"values"`
	// SelectableCount is 1 for single choice; Baileys then builds a
	// pollCreationMessageV3. Any other value, 0 meaning unlimited, builds a
	// multi-choice pollCreationMessage.
	SelectableCount int   `json:"selectableCount"`
	Delay           int64 `json:"delay,omitempty"`
}

type quotedKey struct {
	Key struct {
		ID string `json:"id"`
	} `json:"key"`
}

type textRequest struct {
	Number string     `json:"number"`
	Text   string     `json:"text"`
	Delay  int64      `json:"delay,omitempty"`
	Quoted *quotedKey `json:"quoted,omitempty"`
}

// sendResponse is prepareMessage()'s output; only the key id and the
// timestamp matter to us.
type sendResponse struct {
	Key struct {
		ID string `json:"id"`
	} `json:"key"`
	MessageTimestamp flexInt64 `json:"messageTimestamp"`
}

// SendPoll sends a poll. A multiple-choice poll uses selectableCount 0
// (unlimited) rather than len(options): the gateway caps selectableCount at
// 10 and "any subset" is what Multiple means. The call is never retried
// here: a send that timed out may still have gone out, and only the queue
// layer knows whether a duplicate is acceptable.
func (c *Client) SendPoll(ctx context.Context, in tenants.GatewayInstance, p tenants.OutboundPoll) (tenants.SentMessage, error) {
	body := pollRequest{Number: p.To, Name: p.Question, Values: p.Options, SelectableCount: 1, Delay: p.Delay.Milliseconds()}
	if p.Multiple {
		body.SelectableCount = 0
	}
	return c.send(ctx, in, call{op: "sendPoll", path: "/message/sendPoll/", body: body, delay: p.Delay})
}

// SendText sends a text, optionally as a reply to QuoteID. Like SendPoll it
// is never retried inside the client.
func (c *Client) SendText(ctx context.Context, in tenants.GatewayInstance, t tenants.OutboundText) (tenants.SentMessage, error) {
	body := textRequest{Number: t.To, Text: t.Text, Delay: t.Delay.Milliseconds()}
	if t.QuoteID != "" {
		body.Quoted = &quotedKey{}
		body.Quoted.Key.ID = t.QuoteID
	}
	return c.send(ctx, in, call{op: "sendText", path: "/message/sendText/", body: body, delay: t.Delay})
}

// send posts a message and reads the id the gateway gave it, which later
// status updates and votes refer to.
func (c *Client) send(ctx context.Context, in tenants.GatewayInstance, rc call) (tenants.SentMessage, error) {
	rc.method = http.MethodPost
	rc.path += url.PathEscape(in.Name)
	rc.retry = retryNever
	var resp sendResponse
	if err := c.instanceCall(ctx, in, rc, &resp); err != nil {
		return tenants.SentMessage{}, err
	}
	if resp.Key.ID == "" {
		// Probably sent, but without an id nothing can be matched later.
		return tenants.SentMessage{}, &tenants.GatewayError{Op: rc.op, Status: http.StatusCreated, Message: "response has no key.id"}
	}
	at := time.Now().UTC()
	if ts, ok := resp.MessageTimestamp.time(); ok {
		at = ts
	}
	return tenants.SentMessage{ID: resp.Key.ID, At: at}, nil
}

// InstanceInfo is the gateway's stored view of one instance.
type InstanceInfo struct {
	Name        string
	State       tenants.ConnState
	Number      string // digits of ownerJid once a phone is linked
	ProfileName string
	// DisconnectionReason is the last close reason code (401 logged out…).
	DisconnectionReason int
}

type instanceRow struct {
	Name                    string    `json:"name"`
	ConnectionStatus        string    `json:"connectionStatus"`
	OwnerJid                string    `json:"ownerJid"`
	ProfileName             string    `json:"profileName"`
	Number                  string    `json:"number"`
	DisconnectionReasonCode flexInt64 `json:"disconnectionReasonCode"`
}

// FetchInstance reads the instance's database row, the only place that
// tells which phone number is linked when no connection webhook was seen
// (after a restart of Aibud, say). Its state may lag ConnectionState's.
func (c *Client) FetchInstance(ctx context.Context, in tenants.GatewayInstance) (InstanceInfo, error) {
	path := "/instance/fetchInstances?instanceName=" + url.QueryEscape(in.Name)
	var rows []instanceRow
	if err := c.instanceCall(ctx, in, call{op: "fetchInstances", method: http.MethodGet, path: path, retry: retryTemporary}, &rows); err != nil {
		return InstanceInfo{}, err
	}
	for _, r := range rows {
		if r.Name != in.Name {
			continue
		}
		info := InstanceInfo{
			Name: r.Name, State: connState(r.ConnectionStatus, tenants.StateClose),
			Number: Digits(r.OwnerJid), ProfileName: r.ProfileName, DisconnectionReason: int(r.DisconnectionReasonCode.v),
		}
		return info, nil
	}
	return InstanceInfo{}, &tenants.GatewayError{Op: "fetchInstances", Status: http.StatusNotFound, Message: "instance " + in.Name + " not in the answer"}
}
