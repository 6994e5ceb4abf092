package gemini

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/genai"

	"github.com/aibud/aibud/tenants"
)

func TestRedact(t *testing.T) {
	tests := []struct{ in, want string }{
		{"call me on +34 600 12 34 56 please", "call me on [phone] please"},
		{"(555) 123-4567", "[phone]"},
		{"mi número es 600123456.", "mi número es [phone]."},
		{"+55 (11) 91234-5678 ou ana@exemplo.com.br", "[phone] ou [email]"},
		{"34600111222@s.whatsapp.net", "[email]"},
		{"écrivez à jean.dupont+promo@mail.fr", "écrivez à [email]"},
		{"la opción 2", "la opción 2"},
		{"el 12/05/2026 a las 10:30", "el 12/05/2026 a las 10:30"},
		{"2026-05-12", "2026-05-12"},
		{"cuesta 1.500 €, 3 plazas", "cuesta 1.500 €, 3 plazas"},
		{"2️⃣", "2️⃣"},
	}
	for _, tt := range tests {
		if got := redact(tt.in); got != tt.want {
			t.Errorf("redact(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestUserContentsKeepsHistoryShort(t *testing.T) {
	in := tenants.ClassifyInput{Text: strings.Repeat("a", maxReplyRunes+50), Question: "Q?", Options: []string{"A", "B"}}
	for i := range 10 {
		in.History = append(in.History, fmt.Sprintf("them: message %d %s", i, strings.Repeat("x", maxHistoryRunes)))
	}
	contents, err := userContents(in)
	if err != nil {
		t.Fatal(err)
	}
	var p promptInput
	if err := json.Unmarshal([]byte(contents[0].Parts[0].Text), &p); err != nil {
		t.Fatal(err)
	}
	if len(p.History) != maxHistory || !strings.HasPrefix(p.History[0], "them: message 4 ") {
		t.Errorf("history = %d messages starting %.20q, want the last %d", len(p.History), p.History[0], maxHistory)
	}
	if n := len([]rune(p.History[0])); n != maxHistoryRunes {
		t.Errorf("history message has %d runes, want %d", n, maxHistoryRunes)
	}
	if n := len([]rune(p.Reply)); n != maxReplyRunes {
		t.Errorf("reply has %d runes, want %d", n, maxReplyRunes)
	}
}

func response(text string, finish genai.FinishReason) *genai.GenerateContentResponse {
	return &genai.GenerateContentResponse{Candidates: []*genai.Candidate{{
		Content: genai.NewContentFromText(text, genai.RoleModel), FinishReason: finish,
	}}}
}

func TestParseResponse(t *testing.T) {
	poll := []string{"Lunes", "Martes"}
	good := func(field, value string) string {
		return strings.Replace(goodOutput, field, value, 1)
	}
	tests := []struct {
		name   string
		resp   *genai.GenerateContentResponse
		reason string // "" means accepted
	}{
		{"good", response(goodOutput, genai.FinishReasonStop), ""},
		{"pt-BR language", response(good(`"es"`, `"pt-BR"`), genai.FinishReasonStop), ""},
		{"not JSON", response("Sure! intent: interested", genai.FinishReasonStop), "malformed output"},
		{"trailing data", response(goodOutput+"}", genai.FinishReasonStop), "malformed output"},
		{"two objects", response(goodOutput+goodOutput, genai.FinishReasonStop), "malformed output"},
		{"unknown field", response(good(`"opt_out"`, `"extra":1,"opt_out"`), genai.FinishReasonStop), "malformed output"},
		{"missing field", response(good(`"language":"es",`, ``), genai.FinishReasonStop), "malformed output"},
		{"confidence as string", response(good("0.92", `"high"`), genai.FinishReasonStop), "malformed output"},
		{"unknown intent", response(good(`"interested"`, `"Interested"`), genai.FinishReasonStop), "unknown intent"},
		{"unknown sentiment", response(good(`"positive"`, `"happy"`), genai.FinishReasonStop), "unknown sentiment"},
		{"negative confidence", response(good("0.92", "-0.1"), genai.FinishReasonStop), "confidence out of range"},
		{"option not in poll", response(good(`["martes"]`, `["Martes","Viernes"]`), genai.FinishReasonStop), "unknown option"},
		{"opt_out intent without flag", response(good(`"interested"`, `"opt_out"`), genai.FinishReasonStop), "inconsistent opt-out"},
		{"bad language", response(good(`"es"`, `"Spanish"`), genai.FinishReasonStop), "bad language"},
		{"safety stop", response(goodOutput, genai.FinishReasonSafety), "blocked"},
		{"max tokens", response(goodOutput[:40], genai.FinishReasonMaxTokens), "truncated"},
		{"no candidates", &genai.GenerateContentResponse{}, "empty response"},
		{"prompt blocked", &genai.GenerateContentResponse{PromptFeedback: &genai.GenerateContentResponsePromptFeedback{
			BlockReason: genai.BlockedReasonSafety}}, "blocked"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseResponse(tt.resp, poll)
			if got := failureReasonOrEmpty(err); got != tt.reason {
				t.Errorf("parseResponse reason = %q (%v), want %q", got, err, tt.reason)
			}
		})
	}
}

func failureReasonOrEmpty(err error) string {
	if err == nil {
		return ""
	}
	return failureReason(err)
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0}, {"3", 3 * time.Second}, {"-1", 0}, {"soon", 0},
		{now.Add(90 * time.Second).Format(http1123), 90 * time.Second},
		{now.Add(-time.Minute).Format(http1123), 0},
	}
	for _, tt := range tests {
		if got := parseRetryAfter(tt.in, now); got != tt.want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

const http1123 = "Mon, 02 Jan 2006 15:04:05 GMT"

var longDigits = regexp.MustCompile(`\d{7,}`)

// FuzzRedact checks that no run of seven digits survives redaction.
func FuzzRedact(f *testing.F) {
	for _, s := range []string{"+34 600 12 34 56", "ana@example.com", "2026-05-12", "tel:600123456;x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if out := redact(s); longDigits.MatchString(out) && !datePattern.MatchString(strings.TrimSpace(out)) {
			t.Errorf("redact(%q) = %q keeps a long number", s, out)
		}
	})
}

// FuzzParseResponse checks that whatever Gemini answers, an accepted
// classification only holds values the domain knows.
func FuzzParseResponse(f *testing.F) {
	f.Add(goodOutput)
	f.Add(`{"intent":"opt_out","confidence":1,"sentiment":"negative","summary":"","options":[],"opt_out":true,"language":"","suggested_reply":""}`)
	f.Add(`[]`)
	poll := []string{"Lunes", "Martes"}
	f.Fuzz(func(t *testing.T, text string) {
		got, err := parseResponse(response(text, genai.FinishReasonStop), poll)
		if err != nil {
			return
		}
		if !slices.Contains(tenants.Intents, got.Intent) || got.Confidence < 0 || got.Confidence > 1 {
			t.Errorf("accepted %+v", got)
		}
		for _, o := range got.Options {
			if !slices.Contains(poll, o) {
				t.Errorf("accepted option %q not in the poll", o)
			}
		}
		if got.Intent == tenants.IntentOptOut && !got.OptOut {
			t.Errorf("accepted opt_out intent without the flag")
		}
		seen := map[string]bool{}
		for _, o := range got.Options {
			if seen[o] {
				t.Errorf("duplicate option %q", o)
			}
			seen[o] = true
		}
	})
}
