// Package gemini classifies poll replies with Google's Gemini models through
// google.golang.org/genai, and falls back to an offline classifier (ai/rules)
// whenever Gemini fails, times out or answers with anything but a valid
// classification. Only the reply, the poll (question and options) and a short
// history are sent, with phone numbers and email addresses masked.
//
// Enabling it: Gemini is used only when an API key is configured.
//
//	GEMINI_API_KEY=...                      # turns Gemini on
//	AIBUD_GEMINI_MODEL=gemini-2.5-flash     # optional, this is the default
//
// cmd/aibud reads those into its Config and builds the classifier with the
// rules classifier as fallback:
//
//	c, err := gemini.New(ctx, gemini.Config{
//		APIKey:   cfg.GeminiAPIKey,
//		Model:    cfg.GeminiModel,
//		Fallback: rules.New(),
//		Usage:    usage, // a *gemini.Usage the program keeps
//		Logger:   logger,
//	})
//
// The reply pipeline calls ClassifyFor with the tenant id so that token use
// is counted per tenant per day (UTC); Classify, the tenants.Classifier
// method, counts under the empty tenant id.
package gemini

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/genai"

	"github.com/aibud/aibud/tenants"
)

// DefaultModel is the model used when Config.Model is empty.
const DefaultModel = "gemini-2.5-flash"

const (
	defaultTimeout = 10 * time.Second
	defaultRetries = 2
	defaultBackoff = 250 * time.Millisecond
)

// Config configures a Classifier. Zero values take the defaults noted.
type Config struct {
	APIKey  string // Gemini API key (GEMINI_API_KEY); required
	Model   string // default DefaultModel (AIBUD_GEMINI_MODEL)
	BaseURL string // API endpoint; empty means Google's. Tests point it at httptest.
	// Timeout bounds the whole Gemini attempt, retries included (default
	// 10s); past it the fallback answers, so a reply is never held longer.
	Timeout time.Duration
	// Retries is how many times a 429, 5xx or network failure is repeated
	// (default 2; negative disables retries). A Retry-After header is
	// honoured unless it reaches past Timeout, in which case we give up.
	Retries int
	Backoff time.Duration // first pause between retries, doubled each time (default 250ms)
	// Fallback classifies when Gemini cannot (required; the rules classifier).
	Fallback tenants.Classifier
	Usage    *Usage // where token use is counted; New creates one when nil
	Logger   *slog.Logger
	Now      func() time.Time
}

// Classifier is a tenants.Classifier backed by Gemini. It is safe for
// concurrent use.
type Classifier struct {
	client   *genai.Client
	model    string
	timeout  time.Duration
	retries  int
	backoff  time.Duration
	fallback tenants.Classifier
	usage    *Usage
	log      *slog.Logger
	now      func() time.Time
}

var _ tenants.Classifier = (*Classifier)(nil)

// New returns a Classifier talking to the Gemini API with cfg.APIKey.
func New(ctx context.Context, cfg Config) (*Classifier, error) {
	if cfg.APIKey == "" {
		return nil, tenants.Invalid("APIKey", "a Gemini API key is required")
	}
	if cfg.Fallback == nil {
		return nil, tenants.Invalid("Fallback", "a fallback classifier is required")
	}
	c := &Classifier{
		model: cfg.Model, timeout: cfg.Timeout, retries: cfg.Retries, backoff: cfg.Backoff,
		fallback: cfg.Fallback, usage: cfg.Usage, log: cfg.Logger, now: cfg.Now,
	}
	if c.model == "" {
		c.model = DefaultModel
	}
	if c.timeout <= 0 {
		c.timeout = defaultTimeout
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
	if c.usage == nil {
		c.usage = NewUsage()
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.now == nil {
		c.now = time.Now
	}
	client, err := genai.NewClient(ctx, &genai.ClientConfig{
		APIKey:      cfg.APIKey,
		Backend:     genai.BackendGeminiAPI,
		HTTPClient:  &http.Client{Transport: retryAfterTransport{base: http.DefaultTransport}},
		HTTPOptions: genai.HTTPOptions{BaseURL: cfg.BaseURL},
	})
	if err != nil {
		return nil, fmt.Errorf("gemini.New: %w", err)
	}
	c.client = client
	return c, nil
}

// Usage returns where this classifier counts tokens.
func (c *Classifier) Usage() *Usage { return c.usage }

// Classify implements tenants.Classifier; token use is counted for
// in.TenantID.
func (c *Classifier) Classify(ctx context.Context, in tenants.ClassifyInput) (tenants.Classification, error) {
	return c.ClassifyFor(ctx, in.TenantID, in)
}

// ClassifyFor classifies one reply for tenantID and adds the tokens Gemini
// reports to that tenant's count for today. When Gemini fails the fallback's
// result is returned, marked "rules (gemini failed: <reason>)". An error is
// returned only when ctx is done or the fallback itself fails.
func (c *Classifier) ClassifyFor(ctx context.Context, tenantID string, in tenants.ClassifyInput) (tenants.Classification, error) {
	out, tokens, err := c.generate(ctx, in)
	now := c.now()
	if tokens > 0 {
		c.usage.Add(tenantID, now.UTC().Format(time.DateOnly), tokens)
	}
	if err == nil {
		out.Classifier, out.TokensUsed, out.At = "gemini", tokens, now
		return out, nil
	}
	if ctx.Err() != nil {
		return tenants.Classification{}, fmt.Errorf("gemini.Classify %s: %w", tenantID, ctx.Err())
	}
	reason := failureReason(err)
	c.log.Warn("gemini failed, using fallback", "tenant", tenantID, "model", c.model, "reason", reason, "err", err)
	fb, ferr := c.fallback.Classify(ctx, in)
	if ferr != nil {
		return tenants.Classification{}, fmt.Errorf("gemini.Classify %s: fallback after %s: %w", tenantID, reason, ferr)
	}
	name := fb.Classifier
	if name == "" {
		name = "rules"
	}
	fb.Classifier = fmt.Sprintf("%s (gemini failed: %s)", name, reason)
	if tokens > 0 {
		fb.TokensUsed = tokens
	}
	if fb.At.IsZero() {
		fb.At = now
	}
	return fb, nil
}

// generate asks Gemini within the timeout, retrying what is worth retrying.
// It returns the tokens spent even when the answer is rejected.
func (c *Classifier) generate(ctx context.Context, in tenants.ClassifyInput) (tenants.Classification, int, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	contents, err := userContents(in)
	if err != nil {
		return tenants.Classification{}, 0, err
	}
	config := generationConfig(c.model, in.Options)
	tokens := 0
	for attempt := 0; ; attempt++ {
		hint := &responseHint{}
		resp, err := c.client.Models.GenerateContent(context.WithValue(ctx, hintKey{}, hint), c.model, contents, config)
		if err == nil {
			if resp.UsageMetadata != nil {
				tokens += int(resp.UsageMetadata.TotalTokenCount)
			}
			out, err := parseResponse(resp, in.Options)
			return out, tokens, err
		}
		if attempt >= c.retries || !retryable(ctx, err) {
			return tenants.Classification{}, tokens, err
		}
		delay := c.backoff<<attempt + rand.N(c.backoff/2+1)
		if hint.retryAfter > 0 {
			delay = hint.retryAfter
		}
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < delay {
			return tenants.Classification{}, tokens, err // waiting would outlast the timeout
		}
		c.log.Debug("gemini retry", "attempt", attempt+1, "delay", delay, "err", err)
		select {
		case <-ctx.Done():
			return tenants.Classification{}, tokens, ctx.Err()
		case <-time.After(delay):
		}
	}
}

// retryable reports whether a failed call may succeed if repeated: rate
// limits, server errors and network failures, but not our own timeout.
func retryable(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	var apiErr genai.APIError
	var netErr *url.Error
	switch {
	case errors.As(err, &apiErr):
		return apiErr.Code == http.StatusTooManyRequests || apiErr.Code >= 500
	case errors.As(err, &netErr):
		return !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled)
	default:
		return false
	}
}

// failureReason is the short text shown in Classification.Classifier.
func failureReason(err error) string {
	var apiErr genai.APIError
	var rejected *rejectedError
	var netErr *url.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.As(err, &rejected):
		return rejected.reason
	case errors.As(err, &apiErr) && apiErr.Code == http.StatusTooManyRequests:
		return "rate limited"
	case errors.As(err, &apiErr):
		return "http " + strconv.Itoa(apiErr.Code)
	case errors.As(err, &netErr):
		return "unreachable"
	default:
		return "bad response"
	}
}

// hintKey carries a *responseHint through genai to retryAfterTransport, the
// only place that sees the HTTP response headers genai does not return.
type hintKey struct{}

type responseHint struct{ retryAfter time.Duration }

// retryAfterTransport records a response's Retry-After header into the
// request's responseHint, if it carries one.
type retryAfterTransport struct{ base http.RoundTripper }

func (t retryAfterTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	if hint, ok := req.Context().Value(hintKey{}).(*responseHint); ok {
		hint.retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	}
	return resp, nil
}

// parseRetryAfter reads a Retry-After value in seconds or as an HTTP date;
// zero means none or unreadable.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(v); err == nil && secs > 0 {
		return time.Duration(secs) * time.Second
	}
	if at, err := http.ParseTime(v); err == nil && at.After(now) {
		return at.Sub(now)
	}
	return 0
}

// Usage counts Gemini tokens per tenant per day (UTC, "2006-01-02"). It is
// in memory and safe for concurrent use; the program snapshots it to report
// or persist.
type Usage struct {
	mu     sync.Mutex
	tokens map[usageKey]int
}

type usageKey struct{ tenant, day string }

// DayUsage is one tenant's token count for one day.
type DayUsage struct {
	TenantID string `json:"tenant_id"`
	Day      string `json:"day"`
	Tokens   int    `json:"tokens"`
}

// NewUsage returns an empty Usage.
func NewUsage() *Usage { return &Usage{tokens: make(map[usageKey]int)} }

// Add counts tokens for tenantID on day. Non-positive counts are ignored.
func (u *Usage) Add(tenantID, day string, tokens int) {
	if tokens <= 0 {
		return
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	u.tokens[usageKey{tenantID, day}] += tokens
}

// Get returns the tokens counted for tenantID on day.
func (u *Usage) Get(tenantID, day string) int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.tokens[usageKey{tenantID, day}]
}

// Snapshot returns every count, ordered by day then tenant.
func (u *Usage) Snapshot() []DayUsage {
	u.mu.Lock()
	out := make([]DayUsage, 0, len(u.tokens))
	for k, n := range u.tokens {
		out = append(out, DayUsage{TenantID: k.tenant, Day: k.day, Tokens: n})
	}
	u.mu.Unlock()
	slices.SortFunc(out, func(a, b DayUsage) int {
		if c := strings.Compare(a.Day, b.Day); c != 0 {
			return c
		}
		return strings.Compare(a.TenantID, b.TenantID)
	})
	return out
}
