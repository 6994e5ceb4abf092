// Package evolution connects Aibud to an Evolution API v2.3.7 WhatsApp
// gateway (see shared/EVOLUTION.md). Client implements tenants.Gateway over
// the gateway's REST API for one server (shard); ParseWebhook turns the
// webhooks that server posts into tenants.GatewayEvent values. Nothing from
// this package's wire types leaks into tenants.
package evolution

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aibud/aibud/tenants"
)

const (
	defaultRetries = 3
	defaultBackoff = 500 * time.Millisecond
	defaultTimeout = 30 * time.Second
)

// DefaultEvents returns the webhook events an instance subscribes to when
// Config.Events is empty: exactly what the domain consumes. We always send an
// explicit list because the gateway reads an empty list as "every event".
func DefaultEvents() []string {
	return []string{
		"QRCODE_UPDATED", "CONNECTION_UPDATE", "MESSAGES_UPSERT", "MESSAGES_UPDATE",
		"SEND_MESSAGE", "LOGOUT_INSTANCE", "REMOVE_INSTANCE",
	}
}

// Config describes one gateway server. Zero values take the defaults noted.
type Config struct {
	ShardID   string // stamped on every GatewayInstance this client creates
	BaseURL   string // e.g. https://evo1.example.com, no trailing path
	GlobalKey string // AUTHENTICATION_API_KEY; only /instance/create uses it
	// HTTPClient carries the requests. It should have no Timeout of its own:
	// the client sets a deadline per call that grows with the send delay.
	HTTPClient *http.Client
	Events     []string // webhook subscription; DefaultEvents() when empty
	Logger     *slog.Logger
	// Retries is how many times a failed idempotent call is repeated
	// (default 3; negative disables retries).
	Retries int
	Backoff time.Duration // first pause between retries, doubled each time (default 500ms)
	// Timeout bounds one HTTP attempt (default 30s). Sends get Timeout plus
	// their delay, because the gateway holds the request open while it
	// shows the typing indicator.
	Timeout time.Duration
}

// Client talks to one Evolution API server. It is safe for concurrent use.
type Client struct {
	shardID   string
	baseURL   string
	globalKey string
	http      *http.Client
	events    []string
	log       *slog.Logger
	retries   int
	backoff   time.Duration
	timeout   time.Duration
}

var _ tenants.Gateway = (*Client)(nil)

// New returns a Client for the server described by cfg.
func New(cfg Config) *Client {
	c := &Client{
		shardID:   cfg.ShardID,
		baseURL:   strings.TrimRight(cfg.BaseURL, "/"),
		globalKey: cfg.GlobalKey,
		http:      cfg.HTTPClient,
		events:    append([]string(nil), cfg.Events...),
		log:       cfg.Logger,
		retries:   cfg.Retries,
		backoff:   cfg.Backoff,
		timeout:   cfg.Timeout,
	}
	if c.http == nil {
		c.http = &http.Client{}
	}
	if len(c.events) == 0 {
		c.events = DefaultEvents()
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	switch {
	case c.retries == 0:
		c.retries = defaultRetries
	case c.retries < 0:
		c.retries = 0
	}
	if c.backoff <= 0 {
		c.backoff = defaultBackoff
	}
	if c.timeout <= 0 {
		c.timeout = defaultTimeout
	}
	return c
}

// ShardID is the shard this client serves.
func (c *Client) ShardID() string { return c.shardID }

type webhookConfig struct {
	URL      string   `json:"url"`
	ByEvents bool     `json:"byEvents"`
	Base64   bool     `json:"base64"`
	Events   []string `json:"events"`
}

type createRequest struct {
	InstanceName string         `json:"instanceName"`
	Integration  string         `json:"integration"`
	Token        string         `json:"token,omitempty"`
	QRCode       bool           `json:"qrcode"`
	Number       string         `json:"number,omitempty"`
	GroupsIgnore bool           `json:"groupsIgnore"`
	Webhook      *webhookConfig `json:"webhook,omitempty"`
}

type createResponse struct {
	Instance struct {
		InstanceName string `json:"instanceName"`
		Status       string `json:"status"`
	} `json:"instance"`
	Hash   json.RawMessage `json:"hash"` // a string in v2, {"apikey":…} in v1
	QRCode *qrPayload      `json:"qrcode"`
}

// qrPayload is the QR object of create and connect; pairingCode may be null.
type qrPayload struct {
	PairingCode string `json:"pairingCode"`
	Code        string `json:"code"`
	Base64      string `json:"base64"`
	Count       int    `json:"count"`
}

func (q qrPayload) qrCode(state tenants.ConnState) tenants.QRCode {
	return tenants.QRCode{State: state, Image: q.Base64, Code: q.Code, PairingCode: q.PairingCode, Count: q.Count}
}

// CreateInstance registers a new number slot with our own token and the
// webhook set in the same call, so no event between creation and a later
// webhook/set can be lost. Groups are ignored at the gateway: Aibud never
// reads them and they are the bulk of the traffic.
func (c *Client) CreateInstance(ctx context.Context, req tenants.CreateInstanceRequest) (tenants.GatewayInstance, tenants.QRCode, error) {
	body := createRequest{
		InstanceName: req.Name, Integration: "WHATSAPP-BAILEYS", Token: req.Token,
		QRCode: true, Number: req.Number, GroupsIgnore: true,
	}
	if req.WebhookURL != "" {
		body.Webhook = &webhookConfig{URL: req.WebhookURL, Events: c.events}
	}
	var resp createResponse
	rc := call{op: "create", method: http.MethodPost, path: "/instance/create", key: c.globalKey, body: body, retry: retryRefused}
	if err := c.do(ctx, rc, &resp); err != nil {
		return tenants.GatewayInstance{}, tenants.QRCode{}, err
	}
	in := tenants.GatewayInstance{ShardID: c.shardID, Name: resp.Instance.InstanceName, Token: hashToken(resp.Hash)}
	if in.Name == "" {
		in.Name = req.Name
	}
	if in.Token == "" {
		in.Token = req.Token
	}
	state := connState(resp.Instance.Status, tenants.StateClose)
	qr := tenants.QRCode{State: state}
	if resp.QRCode != nil {
		qr = resp.QRCode.qrCode(state)
	}
	return in, qr, nil
}

// hashToken reads the instance token from create's "hash", which v2 sends as
// a plain string and v1 as {"apikey": …}.
func hashToken(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var v1 struct {
		APIKey string `json:"apikey"`
	}
	_ = json.Unmarshal(raw, &v1)
	return v1.APIKey
}

// connState maps the gateway's state string, falling back to def when the
// gateway said nothing usable.
func connState(s string, def tenants.ConnState) tenants.ConnState {
	switch st := tenants.ConnState(s); st {
	case tenants.StateOpen, tenants.StateConnecting, tenants.StateClose:
		return st
	}
	return def
}

type stateResponse struct {
	Instance *struct {
		InstanceName string `json:"instanceName"`
		State        string `json:"state"`
	} `json:"instance"`
}

// Connect starts linking (or reports that the number is already linked).
// The gateway only waits 2 s for a QR, so an empty Image with State
// connecting is normal: poll again or wait for the QR webhook. A number asks
// for a pairing code, which the gateway only honours from state close.
func (c *Client) Connect(ctx context.Context, in tenants.GatewayInstance, number string) (tenants.QRCode, error) {
	path := "/instance/connect/" + url.PathEscape(in.Name)
	if number != "" {
		path += "?number=" + url.QueryEscape(number)
	}
	var resp struct {
		stateResponse
		qrPayload
	}
	if err := c.instanceCall(ctx, in, call{op: "connect", method: http.MethodGet, path: path, retry: retryTemporary}, &resp); err != nil {
		return tenants.QRCode{}, err
	}
	if resp.Instance != nil {
		return tenants.QRCode{State: connState(resp.Instance.State, tenants.StateConnecting)}, nil
	}
	return resp.qrCode(tenants.StateConnecting), nil
}

// ConnectionState asks the gateway for the number's state held in memory,
// which is fresher than fetchInstances' database copy.
func (c *Client) ConnectionState(ctx context.Context, in tenants.GatewayInstance) (tenants.ConnState, error) {
	var resp stateResponse
	rc := call{op: "connectionState", method: http.MethodGet, path: "/instance/connectionState/" + url.PathEscape(in.Name), retry: retryTemporary}
	if err := c.instanceCall(ctx, in, rc, &resp); err != nil {
		return "", err
	}
	if resp.Instance == nil || connState(resp.Instance.State, "") == "" {
		return "", &tenants.GatewayError{Op: "connectionState", Status: http.StatusOK, Message: "response has no known instance.state"}
	}
	return tenants.ConnState(resp.Instance.State), nil
}

// Logout unlinks the phone but keeps the instance for a later Connect. A
// number that is not connected is already where the caller wants it.
func (c *Client) Logout(ctx context.Context, in tenants.GatewayInstance) error {
	rc := call{op: "logout", method: http.MethodDelete, path: "/instance/logout/" + url.PathEscape(in.Name), retry: retryTemporary}
	err := c.instanceCall(ctx, in, rc, nil)
	if ge := asGatewayError(err); ge != nil && ge.Status == http.StatusBadRequest && strings.Contains(ge.Message, "not connected") {
		return nil
	}
	return err
}

// DeleteInstance removes the instance and its data at the gateway. A 404
// means an earlier attempt already did it.
func (c *Client) DeleteInstance(ctx context.Context, in tenants.GatewayInstance) error {
	rc := call{op: "delete", method: http.MethodDelete, path: "/instance/delete/" + url.PathEscape(in.Name), retry: retryTemporary}
	err := c.instanceCall(ctx, in, rc, nil)
	if ge := asGatewayError(err); ge != nil && ge.Status == http.StatusNotFound {
		return nil
	}
	return err
}

// instanceCall runs rc with the instance token, refusing instances of
// another shard so that a token is never sent to the wrong server.
func (c *Client) instanceCall(ctx context.Context, in tenants.GatewayInstance, rc call, out any) error {
	if in.ShardID != "" && in.ShardID != c.shardID {
		return &tenants.GatewayError{Op: rc.op, Message: fmt.Sprintf("instance %q lives on shard %q, not %q", in.Name, in.ShardID, c.shardID)}
	}
	rc.key = in.Token
	return c.do(ctx, rc, out)
}
