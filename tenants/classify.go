package tenants

import (
	"context"
	"time"
)

// Intent is what a reply means for the sender.
type Intent string

const (
	IntentInterested    Intent = "interested"
	IntentNotInterested Intent = "not_interested"
	IntentQuestion      Intent = "question"
	IntentOptOut        Intent = "opt_out"
	IntentWrongNumber   Intent = "wrong_number"
	IntentAutoReply     Intent = "auto_reply"
	IntentOther         Intent = "other"
)

// Intents lists every intent, in the order pages show them.
var Intents = []Intent{IntentInterested, IntentQuestion, IntentNotInterested, IntentOptOut, IntentWrongNumber, IntentAutoReply, IntentOther}

// Sentiment is the tone of a reply.
type Sentiment string

const (
	SentimentPositive Sentiment = "positive"
	SentimentNeutral  Sentiment = "neutral"
	SentimentNegative Sentiment = "negative"
)

// ClassifyInput is everything a classifier may see: the reply, the poll it
// answers and a few earlier messages with the contact. No name, phone or
// other personal data is part of it.
type ClassifyInput struct {
	Text         string   `json:"text"`
	Question     string   `json:"question,omitempty"`
	Options      []string `json:"options,omitempty"`
	History      []string `json:"history,omitempty"` // oldest first, e.g. "us: …", "them: …"
	LanguageHint string   `json:"language_hint,omitempty"`
	// TenantID is for accounting (tokens used per tenant); it is never
	// sent to a classifier service.
	TenantID string `json:"-"`
}

// Classification is what a classifier made of a reply.
type Classification struct {
	Intent         Intent    `json:"intent"`
	Confidence     float64   `json:"confidence"` // 0–1
	Sentiment      Sentiment `json:"sentiment"`
	Summary        string    `json:"summary"`
	Options        []string  `json:"options,omitempty"` // poll options the text picks
	OptOut         bool      `json:"opt_out"`
	Language       string    `json:"language"` // ISO 639-1, e.g. "es"
	SuggestedReply string    `json:"suggested_reply,omitempty"`
	Classifier     string    `json:"classifier"` // "rules", "gemini", or "rules (gemini failed)"
	TokensUsed     int       `json:"tokens_used,omitempty"`
	At             time.Time `json:"at"`
}

// Classifier reads a reply. Implementations: the offline rules (default)
// and Gemini with the rules as fallback.
type Classifier interface {
	Classify(ctx context.Context, in ClassifyInput) (Classification, error)
}

// HistoryBlind is implemented by classifiers that read each reply on its
// own (the offline rules): the inbox then does not read the contact's
// earlier replies for them.
type HistoryBlind interface {
	IgnoresHistory() bool
}
