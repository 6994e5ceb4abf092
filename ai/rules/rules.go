// Package rules is Aibud's offline reply classifier: the default, and the
// fallback whenever Gemini fails. It reads WhatsApp replies to poll
// campaigns in English, Spanish, Portuguese, French, German and Italian
// with folded keyword phrases, number and ordinal parsing and typo-tolerant
// option matching — no network, no model, tens of thousands of replies a
// second on one core, so that an opt-out is honoured the moment it arrives.
//
// The rules favour precision on opt-outs above everything: a bare "stop" or
// "sair" opts out only when it is the whole reply (or its whole first
// clause), and every opt-out phrase can be negated ("don't stop sending me
// offers" is a happy customer).
package rules

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/aibud/aibud/tenants"
)

// Name is what Classification.Classifier says for this classifier.
const Name = "rules"

// Classifier is the offline rules classifier. Build it with New; it is safe
// for concurrent use and holds no state between replies.
type Classifier struct {
	// Now stamps each classification; New sets time.Now.
	Now func() time.Time

	words        map[string]*wordInfo
	topics       map[string]topic
	phrases      *matcher
	longKeywords []string
	pool         sync.Pool // *state, so a reply costs few allocations
}

// state is the scratch space of one classification.
type state struct {
	r       reply
	scratch reply // options and the poll question
	matches []match
	options []option
	hits    []hit
	used    []bool // reply tokens that are part of an option's name

	wordQ   []float32 // per option word: how well the reply matches it
	wordPos []int     // per option word: where
	tokBest []float32 // per reply token: its best match among option words
}

var _ tenants.Classifier = (*Classifier)(nil)

// New compiles the lexicons once; Classify only looks things up.
func New() *Classifier {
	c := &Classifier{Now: time.Now, words: make(map[string]*wordInfo)}
	var r reply
	c.buildWords(&r)
	c.buildPhrases(&r)
	c.pool.New = func() any { return new(state) }
	return c
}

// tokenize tokenises text into r and looks every token up in the word table.
func (c *Classifier) tokenize(r *reply, text string) {
	r.tokenize(text)
	for i := range r.tokens {
		r.tokens[i].info = c.words[r.tokens[i].text]
	}
}

// IgnoresHistory implements tenants.HistoryBlind: the rules read the reply
// alone, so nobody needs to fetch the conversation before it for them.
func (c *Classifier) IgnoresHistory() bool { return true }

// Classify reads one reply. It fails only when ctx is already done.
func (c *Classifier) Classify(ctx context.Context, in tenants.ClassifyInput) (tenants.Classification, error) {
	if err := ctx.Err(); err != nil {
		return tenants.Classification{}, fmt.Errorf("rules.Classify: %w", err)
	}
	s := c.pool.Get().(*state)
	defer c.pool.Put(s)

	c.tokenize(&s.r, in.Text)
	s.matches = c.phrases.scan(&s.r, s.matches[:0])
	s.hits = s.hits[:0]
	s.used = append(s.used[:0], make([]bool, len(s.r.tokens))...)
	s.options = s.options[:0]
	if len(in.Options) > 0 {
		c.prepareOptions(s, in.Options)
		s.nameHits()
		s.indexHits()
	}
	sig := c.read(s)
	v := c.decide(s, &sig)
	l := c.detectLanguage(s, in)

	out := tenants.Classification{
		Intent:     v.intent,
		Confidence: clamp(v.confidence),
		Sentiment:  sentiment(v.intent, sig.mood),
		OptOut:     v.intent == tenants.IntentOptOut,
		Language:   langCodes[l],
		Classifier: Name,
		At:         c.Now(),
	}
	for _, i := range v.picks {
		out.Options = append(out.Options, in.Options[i])
	}
	picked := ""
	if len(out.Options) > 0 && s.options[v.picks[0]].polarity == 0 {
		picked = out.Options[0] // "we've noted Tuesday", not "we've noted Yes"
	}
	out.Summary = summarize(v.intent, out.Options, sig.topic)
	out.SuggestedReply = suggestReply(l, v.intent, picked)
	return out, nil
}

// sentiment is the tone: the intent's, unless the words say otherwise where
// the intent is neutral, or soften a polite refusal.
func sentiment(intent tenants.Intent, mood int) tenants.Sentiment {
	switch intent {
	case tenants.IntentInterested:
		if mood < -1 {
			return tenants.SentimentNeutral
		}
		return tenants.SentimentPositive
	case tenants.IntentNotInterested:
		if mood > 0 {
			return tenants.SentimentNeutral
		}
		return tenants.SentimentNegative
	case tenants.IntentOptOut:
		return tenants.SentimentNegative
	}
	switch {
	case mood > 0:
		return tenants.SentimentPositive
	case mood < 0:
		return tenants.SentimentNegative
	}
	return tenants.SentimentNeutral
}

func clamp(f float64) float64 {
	switch {
	case f < 0 || f != f:
		return 0
	case f > 1:
		return 1
	}
	return f
}
