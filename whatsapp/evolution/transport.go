package evolution

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"syscall"
	"time"

	"github.com/aibud/aibud/tenants"
)

// maxResponse caps what we read from the gateway; real answers are small,
// fetchInstances for one instance included.
const maxResponse = 4 << 20

// retryPolicy says which failures of a call may be repeated inside the
// client. Only calls whose repetition cannot do harm are retried.
type retryPolicy int

const (
	// retryNever: sends. A timed-out send may have gone out; the queue
	// layer decides whether to risk a duplicate.
	retryNever retryPolicy = iota
	// retryRefused: create. Only a refused connection proves the request
	// never reached the server; any later failure may have created it.
	retryRefused
	// retryTemporary: idempotent calls (connect, state, fetch, logout,
	// delete) are repeated on 5xx, timeouts and network errors.
	retryTemporary
)

func (p retryPolicy) allows(err error) bool {
	switch p {
	case retryTemporary:
		return tenants.IsTemporary(err)
	case retryRefused:
		return errors.Is(err, syscall.ECONNREFUSED)
	}
	return false
}

// call is one REST request to the gateway.
type call struct {
	op     string // short name for errors and logs
	method string
	path   string // with query, already escaped
	key    string // apikey header: global key or instance token
	body   any
	delay  time.Duration // the send delay, added to the timeout
	retry  retryPolicy
}

// do runs rc, retrying per its policy with exponential backoff, and decodes
// a successful answer into out (when out is not nil). Every error it returns
// is a *tenants.GatewayError.
func (c *Client) do(ctx context.Context, rc call, out any) error {
	var payload []byte
	if rc.body != nil {
		var err error
		if payload, err = json.Marshal(rc.body); err != nil {
			return &tenants.GatewayError{Op: rc.op, Message: "encode request: " + err.Error(), Err: err}
		}
	}
	for attempt := 0; ; attempt++ {
		err := c.attempt(ctx, rc, payload, out)
		if err == nil || attempt >= c.retries || ctx.Err() != nil || !rc.retry.allows(err) {
			return err
		}
		wait := c.backoff << attempt
		c.log.WarnContext(ctx, "evolution: retrying gateway call", "shard", c.shardID, "op", rc.op,
			"attempt", attempt+1, "wait", wait, "err", err)
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return err
		case <-timer.C:
		}
	}
}

// attempt makes one HTTP request under its own deadline.
func (c *Client) attempt(ctx context.Context, rc call, payload []byte, out any) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout+rc.delay)
	defer cancel()
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, rc.method, c.baseURL+rc.path, body)
	if err != nil {
		return &tenants.GatewayError{Op: rc.op, Message: "build request: " + err.Error(), Err: err}
	}
	req.Header.Set("apikey", rc.key)
	req.Header.Set("Accept", "application/json")
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return transportError(rc.op, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return transportError(rc.op, err)
	}
	return decodeResponse(rc.op, resp.StatusCode, raw, out)
}

// transportError wraps a failure to get an answer at all: network errors,
// refused connections, timeouts and cancellations. All are temporary, since
// the gateway may well answer the next attempt.
func transportError(op string, err error) error {
	msg := err.Error()
	if errors.Is(err, context.DeadlineExceeded) {
		msg = "timeout: " + msg
	}
	return &tenants.GatewayError{Op: op, Message: msg, Temporary: true, NotSent: errors.Is(err, syscall.ECONNREFUSED), Err: err}
}

// errorBody covers both failure shapes: the envelope
// {"status","error","response":{"message"}} of non-2xx answers and the
// {"error":true,"message"} that some controllers return with HTTP 200.
type errorBody struct {
	Error    json.RawMessage `json:"error"`
	Message  json.RawMessage `json:"message"`
	Response struct {
		Message json.RawMessage `json:"message"`
	} `json:"response"`
}

// decodeResponse turns an HTTP answer into out or a *tenants.GatewayError.
func decodeResponse(op string, status int, raw []byte, out any) error {
	trimmed := bytes.TrimSpace(raw)
	var eb errorBody
	isObject := len(trimmed) > 0 && trimmed[0] == '{' && json.Unmarshal(trimmed, &eb) == nil
	if status < 200 || status > 299 {
		msg, notOnWhatsApp := describe(eb.Response.Message)
		if !isObject || msg == "" {
			msg = http.StatusText(status) + ": " + clip(string(trimmed))
		}
		ge := &tenants.GatewayError{Op: op, Status: status, Message: msg, Temporary: status >= 500}
		if notOnWhatsApp {
			ge.Err = tenants.ErrNotOnWhatsApp
		}
		return ge
	}
	if isObject && string(eb.Error) == "true" {
		// A controller caught its own exception; the server failed, so
		// this counts as a 5xx (and is often just "[object Object]").
		msg, _ := describe(eb.Message)
		return &tenants.GatewayError{Op: op, Status: status, Message: "gateway error: " + msg, Temporary: true}
	}
	if out == nil || len(trimmed) == 0 {
		return nil
	}
	if err := json.Unmarshal(trimmed, out); err != nil {
		return &tenants.GatewayError{Op: op, Status: status, Message: "unreadable response: " + err.Error(), Err: err}
	}
	return nil
}

// describe renders the envelope's message, a string or an array of strings
// and objects, and reports the onWhatsApp check's {"exists":false} entry.
func describe(raw json.RawMessage) (msg string, notOnWhatsApp bool) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, false
	}
	var items []json.RawMessage
	if json.Unmarshal(raw, &items) != nil {
		return clip(string(raw)), false
	}
	parts := make([]string, 0, len(items))
	for _, item := range items {
		if json.Unmarshal(item, &s) == nil {
			parts = append(parts, s)
			continue
		}
		var check struct {
			Exists *bool  `json:"exists"`
			JID    string `json:"jid"`
			Number string `json:"number"`
		}
		if json.Unmarshal(item, &check) == nil && check.Exists != nil && !*check.Exists {
			notOnWhatsApp = true
			parts = append(parts, fmt.Sprintf("%s is not on WhatsApp", firstNonEmpty(check.Number, check.JID)))
			continue
		}
		parts = append(parts, clip(string(item)))
	}
	return strings.Join(parts, "; "), notOnWhatsApp
}

// clip keeps error messages short when a proxy answers with an HTML page.
func clip(s string) string {
	const max = 200
	if len(s) <= max {
		return s
	}
	return strings.ToValidUTF8(s[:max], "") + "…"
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

func asGatewayError(err error) *tenants.GatewayError {
	var ge *tenants.GatewayError
	if errors.As(err, &ge) {
		return ge
	}
	return nil
}
