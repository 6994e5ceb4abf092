package gemini

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/aibud/aibud/tenants"
)

const (
	testKey      = "test-key"
	wantPath     = "/v1beta/models/gemini-2.5-flash:generateContent"
	plantedPhone = "+34 600 12 34 56"
	plantedEmail = "ana.lopez@example.com"
)

var testNow = time.Date(2026, 3, 14, 23, 30, 0, 0, time.UTC)

// testInput is a Spanish reply with a phone number and an email planted in
// the history and the text; neither may reach Gemini.
func testInput() tenants.ClassifyInput {
	return tenants.ClassifyInput{
		Text:     "sí, el martes me va bien. escribidme a " + plantedEmail,
		Question: "¿Qué día prefieres para la demo?",
		Options:  []string{"Lunes", "Martes", "Miércoles"},
		History: []string{
			"us: Hola, ¿te apuntas a la demo?",
			"them: llámame al " + plantedPhone + " o escribe a " + plantedEmail,
		},
		LanguageHint: "es",
	}
}

// seenRequest is one request the fake Gemini server received.
type seenRequest struct {
	at     time.Time
	method string
	path   string
	header http.Header
	raw    string
	body   map[string]any
}

// fakeGemini answers the n-th request with responders[n] (the last one
// repeats) and records every request.
type fakeGemini struct {
	srv        *httptest.Server
	responders []http.HandlerFunc
	mu         sync.Mutex
	seen       []seenRequest
}

func newFakeGemini(t *testing.T, responders ...http.HandlerFunc) *fakeGemini {
	t.Helper()
	f := &fakeGemini{responders: responders}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		req := seenRequest{at: time.Now(), method: r.Method, path: r.URL.Path, header: r.Header.Clone(), raw: string(raw)}
		if err := json.Unmarshal(raw, &req.body); err != nil {
			t.Errorf("request body is not JSON: %v\n%s", err, raw)
		}
		f.mu.Lock()
		n := len(f.seen)
		f.seen = append(f.seen, req)
		f.mu.Unlock()
		f.responders[min(n, len(f.responders)-1)](w, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeGemini) requests() []seenRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]seenRequest(nil), f.seen...)
}

// answer replies like generateContent with text as the model's output.
func answer(text string, tokens int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"candidates": []any{map[string]any{
				"content":      map[string]any{"role": "model", "parts": []any{map[string]any{"text": text}}},
				"finishReason": "STOP",
			}},
			"usageMetadata": map[string]any{"promptTokenCount": tokens - 20, "candidatesTokenCount": 20, "totalTokenCount": tokens},
			"modelVersion":  "gemini-2.5-flash",
		})
	}
}

// status replies with an API error, and a Retry-After header when given.
func status(code int, retryAfter string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		fmt.Fprintf(w, `{"error":{"code":%d,"message":"fake error","status":"FAKE"}}`, code)
	}
}

// hang holds the request until the client gives up.
func hang(w http.ResponseWriter, r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-time.After(5 * time.Second):
	}
}

const goodOutput = `{"intent":"interested","confidence":0.92,"sentiment":"positive",
 "summary":"Acepta la demo\n el martes","options":["martes"],"opt_out":false,
 "language":"es","suggested_reply":"¡Perfecto! Te esperamos el martes."}`

// fakeFallback stands in for ai/rules.
type fakeFallback struct{ calls atomic.Int32 }

func (f *fakeFallback) Classify(ctx context.Context, in tenants.ClassifyInput) (tenants.Classification, error) {
	f.calls.Add(1)
	return tenants.Classification{Intent: tenants.IntentOther, Confidence: 0.4, Sentiment: tenants.SentimentNeutral,
		Summary: "rules", Language: "es", Classifier: "rules"}, nil
}

// MustClassifier returns a Classifier talking to f, with cfg's zero fields
// filled for tests.
func MustClassifier(tb testing.TB, f *fakeGemini, fb tenants.Classifier, cfg Config) *Classifier {
	tb.Helper()
	cfg.APIKey, cfg.BaseURL, cfg.Fallback = testKey, f.srv.URL, fb
	if cfg.Backoff == 0 {
		cfg.Backoff = 10 * time.Millisecond
	}
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return testNow }
	}
	c, err := New(context.Background(), cfg)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return c
}

func TestRequestIsExact(t *testing.T) {
	f := newFakeGemini(t, answer(goodOutput, 120))
	c := MustClassifier(t, f, &fakeFallback{}, Config{})
	if _, err := c.Classify(context.Background(), testInput()); err != nil {
		t.Fatal(err)
	}
	reqs := f.requests()
	if len(reqs) != 1 {
		t.Fatalf("got %d requests, want 1", len(reqs))
	}
	r := reqs[0]
	if r.method != http.MethodPost || r.path != wantPath {
		t.Errorf("request = %s %s, want POST %s", r.method, r.path, wantPath)
	}
	if got := r.header.Get("x-goog-api-key"); got != testKey {
		t.Errorf("x-goog-api-key = %q, want %q", got, testKey)
	}
	for _, pii := range []string{plantedPhone, "600 12 34 56", plantedEmail, "ana.lopez"} {
		if strings.Contains(r.raw, pii) {
			t.Errorf("request carries personal data %q", pii)
		}
	}
	var body struct {
		Contents []struct {
			Role  string
			Parts []struct{ Text string }
		}
		SystemInstruction struct{ Parts []struct{ Text string } }
		GenerationConfig  struct {
			Temperature      float64
			ResponseMIMEType string `json:"responseMimeType"`
			ResponseSchema   struct {
				Required   []string
				Properties map[string]struct {
					Enum  []string
					Items struct{ Enum []string }
				}
			}
			ThinkingConfig struct{ ThinkingBudget *int }
		}
	}
	if err := json.Unmarshal([]byte(r.raw), &body); err != nil {
		t.Fatal(err)
	}
	if len(body.SystemInstruction.Parts) == 0 || !strings.Contains(body.SystemInstruction.Parts[0].Text, "Opt-out is strict") {
		t.Errorf("systemInstruction missing or wrong: %+v", body.SystemInstruction)
	}
	gc := body.GenerationConfig
	if gc.ResponseMIMEType != "application/json" || gc.Temperature > 0.2 {
		t.Errorf("responseMimeType = %q, temperature = %v", gc.ResponseMIMEType, gc.Temperature)
	}
	wantIntents := []string{"interested", "question", "not_interested", "opt_out", "wrong_number", "auto_reply", "other"}
	if diff := cmp.Diff(wantIntents, gc.ResponseSchema.Properties["intent"].Enum); diff != "" {
		t.Errorf("intent enum (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(testInput().Options, gc.ResponseSchema.Properties["options"].Items.Enum); diff != "" {
		t.Errorf("options enum (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(responseFields, gc.ResponseSchema.Required); diff != "" {
		t.Errorf("required (-want +got):\n%s", diff)
	}
	if b := gc.ThinkingConfig.ThinkingBudget; b == nil || *b != 0 {
		t.Errorf("thinkingBudget = %v, want 0", b)
	}
	if len(body.Contents) != 1 || body.Contents[0].Role != "user" || len(body.Contents[0].Parts) != 1 {
		t.Fatalf("contents = %+v, want one user part", body.Contents)
	}
	user := body.Contents[0].Parts[0].Text
	in := testInput()
	for _, want := range append([]string{"sí, el martes me va bien", in.Question, "us: Hola", "[phone]", "[email]"}, in.Options...) {
		if !strings.Contains(user, want) {
			t.Errorf("user content lacks %q:\n%s", want, user)
		}
	}
}

func TestClassify(t *testing.T) {
	fallback := tenants.Classification{Intent: tenants.IntentOther, Confidence: 0.4, Sentiment: tenants.SentimentNeutral,
		Summary: "rules", Language: "es", At: testNow}
	marked := func(reason string, tokens int) tenants.Classification {
		c := fallback
		c.Classifier, c.TokensUsed = "rules (gemini failed: "+reason+")", tokens
		return c
	}
	tests := []struct {
		name       string
		responders []http.HandlerFunc
		cfg        Config
		want       tenants.Classification
		requests   int
		minGap     time.Duration // least time between the first two requests
	}{
		{name: "good output", responders: []http.HandlerFunc{answer(goodOutput, 120)}, requests: 1,
			want: tenants.Classification{Intent: tenants.IntentInterested, Confidence: 0.92, Sentiment: tenants.SentimentPositive,
				Summary: "Acepta la demo el martes", Options: []string{"Martes"}, Language: "es",
				SuggestedReply: "¡Perfecto! Te esperamos el martes.", Classifier: "gemini", TokensUsed: 120, At: testNow}},
		{name: "malformed JSON", responders: []http.HandlerFunc{answer(`{"intent":"interested",`, 90)},
			requests: 1, want: marked("malformed output", 90)},
		{name: "unknown intent", responders: []http.HandlerFunc{answer(strings.Replace(goodOutput, `"interested"`, `"maybe"`, 1), 90)},
			requests: 1, want: marked("unknown intent", 90)},
		{name: "option not in poll", responders: []http.HandlerFunc{answer(strings.Replace(goodOutput, `["martes"]`, `["jueves"]`, 1), 90)},
			requests: 1, want: marked("unknown option", 90)},
		{name: "confidence out of range", responders: []http.HandlerFunc{answer(strings.Replace(goodOutput, "0.92", "1.5", 1), 90)},
			requests: 1, want: marked("confidence out of range", 90)},
		{name: "429 then success", responders: []http.HandlerFunc{status(429, "1"), answer(goodOutput, 120)},
			requests: 2, minGap: time.Second,
			want: tenants.Classification{Intent: tenants.IntentInterested, Confidence: 0.92, Sentiment: tenants.SentimentPositive,
				Summary: "Acepta la demo el martes", Options: []string{"Martes"}, Language: "es",
				SuggestedReply: "¡Perfecto! Te esperamos el martes.", Classifier: "gemini", TokensUsed: 120, At: testNow}},
		{name: "500 three times", responders: []http.HandlerFunc{status(500, "")}, requests: 3, want: marked("http 500", 0)},
		{name: "retry-after past the timeout", responders: []http.HandlerFunc{status(429, "60")}, cfg: Config{Timeout: 2 * time.Second},
			requests: 1, want: marked("rate limited", 0)},
		{name: "400 is not retried", responders: []http.HandlerFunc{status(400, "")}, requests: 1, want: marked("http 400", 0)},
		{name: "timeout", responders: []http.HandlerFunc{hang}, cfg: Config{Timeout: 200 * time.Millisecond},
			requests: 1, want: marked("timeout", 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeGemini(t, tt.responders...)
			fb := &fakeFallback{}
			c := MustClassifier(t, f, fb, tt.cfg)
			start := time.Now()
			got, err := c.Classify(context.Background(), testInput())
			elapsed := time.Since(start)
			if err != nil {
				t.Fatalf("Classify: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("classification (-want +got):\n%s", diff)
			}
			reqs := f.requests()
			if len(reqs) != tt.requests {
				t.Errorf("server saw %d requests, want %d", len(reqs), tt.requests)
			}
			if tt.minGap > 0 && len(reqs) >= 2 && reqs[1].at.Sub(reqs[0].at) < tt.minGap {
				t.Errorf("retry after %v, want at least %v (Retry-After)", reqs[1].at.Sub(reqs[0].at), tt.minGap)
			}
			if gemini := tt.want.Classifier == "gemini"; gemini == (fb.calls.Load() > 0) {
				t.Errorf("fallback called %d times for a %q result", fb.calls.Load(), tt.want.Classifier)
			}
			// The server would hold the request for 5s: falling back must not wait for it.
			if tt.name == "timeout" && elapsed > 3*time.Second {
				t.Errorf("timeout fallback took %v", elapsed)
			}
		})
	}
}

func TestUsagePerTenantPerDay(t *testing.T) {
	f := newFakeGemini(t, answer(goodOutput, 120), answer(goodOutput, 80), answer("not json", 50), answer(goodOutput, 30))
	now := testNow
	var mu sync.Mutex
	usage := NewUsage()
	c := MustClassifier(t, f, &fakeFallback{}, Config{Usage: usage, Now: func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return now
	}})
	ctx := context.Background()
	for _, tenant := range []string{"t1", "t2", "t1"} { // 120, 80, then 50 spent on a rejected answer
		if _, err := c.ClassifyFor(ctx, tenant, testInput()); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	now = now.Add(time.Hour) // 00:30 UTC: the next day
	mu.Unlock()
	if _, err := c.ClassifyFor(ctx, "t1", testInput()); err != nil {
		t.Fatal(err)
	}
	want := []DayUsage{
		{TenantID: "t1", Day: "2026-03-14", Tokens: 170},
		{TenantID: "t2", Day: "2026-03-14", Tokens: 80},
		{TenantID: "t1", Day: "2026-03-15", Tokens: 30},
	}
	if diff := cmp.Diff(want, c.Usage().Snapshot()); diff != "" {
		t.Errorf("usage (-want +got):\n%s", diff)
	}
	if got := usage.Get("t1", "2026-03-14"); got != 170 {
		t.Errorf("Get(t1, 2026-03-14) = %d, want 170", got)
	}
}

func TestConcurrentClassify(t *testing.T) {
	f := newFakeGemini(t, answer(goodOutput, 10))
	c := MustClassifier(t, f, &fakeFallback{}, Config{})
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			got, err := c.ClassifyFor(context.Background(), fmt.Sprintf("t%d", i%4), testInput())
			if err != nil || got.Classifier != "gemini" {
				t.Errorf("ClassifyFor = %q, %v", got.Classifier, err)
			}
		})
	}
	wg.Wait()
	for i := range 4 {
		if got := c.Usage().Get(fmt.Sprintf("t%d", i), "2026-03-14"); got != 50 {
			t.Errorf("tenant t%d used %d tokens, want 50", i, got)
		}
	}
}

func TestUnreachableFallsBack(t *testing.T) {
	f := newFakeGemini(t, answer(goodOutput, 10))
	c := MustClassifier(t, f, &fakeFallback{}, Config{})
	f.srv.Close()
	got, err := c.Classify(context.Background(), testInput())
	if err != nil || got.Classifier != "rules (gemini failed: unreachable)" {
		t.Errorf("Classify = %q, %v; want the marked fallback", got.Classifier, err)
	}
}

func TestCallerCancelIsAnError(t *testing.T) {
	f := newFakeGemini(t, hang)
	fb := &fakeFallback{}
	c := MustClassifier(t, f, fb, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := c.Classify(ctx, testInput()); err == nil {
		t.Error("Classify after the caller gave up returned no error")
	}
	if n := fb.calls.Load(); n != 0 {
		t.Errorf("fallback called %d times after the caller gave up", n)
	}
}

func TestNewRequiresKeyAndFallback(t *testing.T) {
	tests := []struct {
		name  string
		cfg   Config
		field string
	}{
		{"no key", Config{Fallback: &fakeFallback{}}, "APIKey"},
		{"no fallback", Config{APIKey: testKey}, "Fallback"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(context.Background(), tt.cfg)
			if tenants.ErrorCode(err) != tenants.EINVALID || tenants.ErrorField(err) != tt.field {
				t.Errorf("New = %v, want EINVALID on %s", err, tt.field)
			}
		})
	}
}
