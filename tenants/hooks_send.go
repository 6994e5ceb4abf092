package tenants

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Delivery of outgoing webhooks: the destination policy, the signature and
// one attempt at a time (the queue retries).

// ErrHookAddress means a webhook destination is, or resolves to, an address
// that webhooks may not reach (loopback, private, link-local, …).
var ErrHookAddress = errors.New("webhook destination refused")

// HookSignatureHeader carries "t=<unix seconds>,v1=<hex HMAC-SHA256 of
// "<t>.<body>" keyed with the endpoint's secret>".
const HookSignatureHeader = "Aibud-Signature"

// hookTimeout bounds one attempt, DNS included; the sender has its own.
const hookTimeout = 15 * time.Second

// refusedRanges are the blocks beyond netip's own predicates that a public
// webhook destination must not be in.
var refusedRanges = []struct {
	prefix netip.Prefix
	what   string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "\"this network\""},
	{netip.MustParsePrefix("100.64.0.0/10"), "carrier-grade NAT"},
	{netip.MustParsePrefix("192.0.0.0/24"), "IETF protocol"},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved"},
	{netip.MustParsePrefix("fec0::/10"), "site-local"},
}

// HookAddressAllowed returns nil for a public unicast address, else an error
// wrapping ErrHookAddress that names the kind of address. IPv4-mapped,
// NAT64 and 6to4 addresses are judged by the IPv4 address they carry.
func HookAddressAllowed(ip netip.Addr) error {
	ip = ip.Unmap().WithZone("")
	what := ""
	switch {
	case !ip.IsValid():
		what = "invalid"
	case ip.IsUnspecified():
		what = "unspecified"
	case ip.IsLoopback():
		what = "loopback"
	case ip.IsPrivate():
		what = "private" // 10/8, 172.16/12, 192.168/16 and IPv6 ULA fc00::/7
	case ip.IsLinkLocalUnicast():
		what = "link-local"
	case ip.IsMulticast():
		what = "multicast"
	case ip.Is6() && netip.MustParsePrefix("64:ff9b::/96").Contains(ip):
		b := ip.As16()
		return HookAddressAllowed(netip.AddrFrom4([4]byte(b[12:16])))
	case ip.Is6() && netip.MustParsePrefix("2002::/16").Contains(ip):
		b := ip.As16()
		return HookAddressAllowed(netip.AddrFrom4([4]byte(b[2:6])))
	default:
		for _, r := range refusedRanges {
			if r.prefix.Contains(ip) {
				what = r.what
				break
			}
		}
	}
	if what == "" {
		return nil
	}
	return fmt.Errorf("%w: %s is a %s address", ErrHookAddress, ip, what)
}

// checkURL validates an endpoint URL as it is saved and returns it
// normalised (no fragment).
func (h *Hooks) checkURL(ctx context.Context, raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" || len(raw) > maxHookURLLen {
		return "", Invalid("url", "Enter the URL that receives the events (at most %d characters).", maxHookURLLen)
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "" {
		return "", Invalid("url", "Enter an absolute http:// or https:// URL.")
	}
	if u.User != nil {
		return "", Invalid("url", "The URL must not hold a user name or password; check the signature instead.")
	}
	u.Fragment, u.RawFragment = "", ""
	if err := h.checkHost(ctx, u.Hostname()); errors.Is(err, ErrHookAddress) {
		return "", Invalid("url", "Webhooks go to public addresses only (%s).", strings.TrimPrefix(err.Error(), ErrHookAddress.Error()+": "))
	} else if err != nil {
		return "", Invalid("url", "The host %q could not be found.", u.Hostname())
	}
	return u.String(), nil
}

// checkHost resolves host and refuses it if any of its addresses is not
// public. Lookup failures are returned as they are (they may pass).
func (h *Hooks) checkHost(ctx context.Context, host string) error {
	if h.AllowPrivate {
		return nil
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return HookAddressAllowed(ip)
	}
	var r Resolver = net.DefaultResolver
	if h.Resolver != nil {
		r = h.Resolver
	}
	addrs, err := r.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return fmt.Errorf("resolve %s: %w", host, err)
	}
	if len(addrs) == 0 {
		return fmt.Errorf("resolve %s: no addresses", host)
	}
	for _, a := range addrs {
		if err := HookAddressAllowed(a); err != nil {
			return fmt.Errorf("%w (%s)", err, host)
		}
	}
	return nil
}

// SignHook returns the Aibud-Signature header value for body sent at t.
func SignHook(secret string, t time.Time, body []byte) string {
	return "t=" + strconv.FormatInt(t.Unix(), 10) + ",v1=" + hookMAC(secret, t.Unix(), body)
}

func hookMAC(secret string, unix int64, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(strconv.FormatInt(unix, 10) + "."))
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

// VerifyHook checks an Aibud-Signature header the way a receiver should:
// the HMAC matches (compared in constant time) and the timestamp is within
// tolerance of now, so that a captured request cannot be replayed later.
func VerifyHook(secret, header string, body []byte, now time.Time, tolerance time.Duration) error {
	var unix int64 = -1
	var sigs []string
	for part := range strings.SplitSeq(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return errors.New("bad signature timestamp")
			}
			unix = n
		case "v1":
			sigs = append(sigs, v)
		}
	}
	if unix < 0 || len(sigs) == 0 {
		return errors.New("signature header must hold t= and v1=")
	}
	if d := now.Sub(time.Unix(unix, 0)); d > tolerance || d < -tolerance {
		return errors.New("signature timestamp outside the tolerance")
	}
	want := hookMAC(secret, unix, body)
	for _, s := range sigs {
		if hmac.Equal([]byte(s), []byte(want)) {
			return nil
		}
	}
	return errors.New("signature does not match")
}

// Deliver makes one attempt at a delivery. It re-reads the delivery first,
// so a repeated task does nothing twice. A 2xx answer delivers it; a
// refused destination fails it for good; anything else is recorded and
// returns *RetryLater with the backoff for the queue.
func (h *Hooks) Deliver(ctx context.Context, tenantID, deliveryID string) error {
	d, err := h.Store.Delivery(ctx, tenantID, deliveryID)
	if ErrorCode(err) == ENOTFOUND {
		return nil // expired from the log, or the tenant was erased
	} else if err != nil {
		return err
	}
	if d.Status != DeliveryPending {
		return nil
	}
	ep, err := h.Store.Endpoint(ctx, tenantID, d.EndpointID)
	switch {
	case ErrorCode(err) == ENOTFOUND:
		return h.fail(ctx, tenantID, d.ID, "the endpoint was deleted")
	case err != nil:
		return err
	case ep.Disabled:
		return h.fail(ctx, tenantID, d.ID, "the endpoint is paused")
	}
	sendCtx, cancel := context.WithTimeout(ctx, hookTimeout)
	defer cancel()
	now := h.Now()
	code := 0
	if u, perr := url.Parse(ep.URL); perr != nil {
		err = fmt.Errorf("%w: bad URL", ErrHookAddress)
	} else if err = h.checkHost(sendCtx, u.Hostname()); err == nil {
		code, err = h.Sender.SendHook(sendCtx, HookRequest{URL: ep.URL, Body: d.Body, Header: map[string]string{
			"Content-Type": "application/json", "User-Agent": "Aibud-Webhooks/1",
			"Aibud-Event": d.Event, "Aibud-Event-Id": d.EventID, "Aibud-Delivery": d.ID,
			HookSignatureHeader: SignHook(ep.Secret, now, d.Body),
		}})
	}
	return h.record(ctx, tenantID, d, code, err, now)
}

// record keeps the outcome of an attempt on the delivery.
func (h *Hooks) record(ctx context.Context, tenantID string, d Delivery, code int, sendErr error, at time.Time) error {
	ok := sendErr == nil && code >= 200 && code < 300
	refused := errors.Is(sendErr, ErrHookAddress)
	wait := h.backoff(d.Attempts + 1)
	reason := attemptError(code, sendErr)
	_, err := h.Store.UpdateDelivery(ctx, tenantID, d.ID, func(cur *Delivery) error {
		cur.Attempts++
		cur.LastCode, cur.LastAttemptAt, cur.LastError, cur.NextAttemptAt = code, at.UTC(), reason, time.Time{}
		switch {
		case ok:
			cur.Status = DeliveryDelivered
		case refused:
			cur.Status = DeliveryFailed
		default:
			cur.NextAttemptAt = at.Add(wait).UTC()
		}
		return nil
	})
	if err != nil || ok || refused {
		return err
	}
	return &RetryLater{After: wait, Reason: "webhook " + d.ID + ": " + reason}
}

func attemptError(code int, err error) string {
	switch {
	case err != nil:
		return clipText(err.Error(), 300)
	case code < 200 || code > 299:
		return fmt.Sprintf("the endpoint answered %d", code)
	}
	return ""
}

func (h *Hooks) backoff(attempt int) time.Duration {
	if h.Backoff != nil {
		return h.Backoff(attempt)
	}
	d := 30 * time.Second << min(attempt-1, 10)
	return min(d, 15*time.Minute)
}

// GiveUp fails a delivery whose retries ran out; replay can send it again.
func (h *Hooks) GiveUp(ctx context.Context, tenantID, deliveryID string) error {
	_, err := h.Store.UpdateDelivery(ctx, tenantID, deliveryID, func(cur *Delivery) error {
		if cur.Status == DeliveryPending {
			cur.Status, cur.NextAttemptAt = DeliveryFailed, time.Time{}
		}
		return nil
	})
	if ErrorCode(err) == ENOTFOUND {
		return nil
	}
	return err
}

func (h *Hooks) fail(ctx context.Context, tenantID, deliveryID, reason string) error {
	_, err := h.Store.UpdateDelivery(ctx, tenantID, deliveryID, func(cur *Delivery) error {
		if cur.Status == DeliveryPending {
			cur.Status, cur.LastError, cur.NextAttemptAt = DeliveryFailed, reason, time.Time{}
		}
		return nil
	})
	return err
}
