package rules

import (
	"strconv"
	"strings"
)

// phrase is one compiled lexicon entry: folded tokens, what they mean and
// the languages that use them.
type phrase struct {
	toks   []string
	prefix bool // the last token matches as a prefix ("desinscrev*")
	plain  bool // matches only words typed without accents ("!ja" is not "já")
	cat    category
	langs  uint8 // bit per lang
	weight float32
}

// matcher finds the phrases of a reply in one left-to-right pass. Phrases
// are indexed by their first token, so the cost per token is one map lookup
// plus the few phrases starting with that word; no regular expressions.
type matcher struct {
	phrases     []phrase
	byFirst     map[string][]int32
	prefixFirst []int32 // one-token prefix phrases, tried on every word
	seen        map[string]int32
}

// match is a phrase found at tokens [from, to).
type match struct {
	from, to int
	phrase   int32
}

func newMatcher() *matcher {
	return &matcher{byFirst: make(map[string][]int32), seen: make(map[string]int32)}
}

// add compiles a phrase list into category cat, folding each phrase with the
// reply tokenizer so that lexicon and replies agree on every accent.
func (m *matcher) add(r *reply, cat category, list phraseList) {
	for l, items := range list {
		for _, item := range items {
			m.addOne(r, cat, lang(l), item)
		}
	}
}

func (m *matcher) addOne(r *reply, cat category, l lang, item string) {
	weight := float32(1)
	if i := strings.LastIndexByte(item, '='); i > 0 {
		w, err := strconv.ParseFloat(item[i+1:], 32)
		if err != nil {
			panic("rules: bad phrase weight in " + item) // a lexicon typo, caught by every test
		}
		item, weight = item[:i], float32(w)
	}
	prefix := strings.HasSuffix(item, "*")
	plain := strings.HasPrefix(item, "!")
	r.tokenize(strings.TrimPrefix(strings.TrimSuffix(item, "*"), "!"))
	if len(r.tokens) == 0 {
		panic("rules: empty phrase " + item)
	}
	toks := make([]string, len(r.tokens))
	for i, t := range r.tokens {
		toks[i] = t.text
	}
	key := strconv.Itoa(int(cat)) + "|" + strings.Join(toks, " ") + "|" + strconv.FormatBool(prefix) +
		strconv.FormatBool(plain)
	if i, ok := m.seen[key]; ok {
		m.phrases[i].langs |= 1 << l
		return
	}
	id := int32(len(m.phrases))
	m.seen[key] = id
	m.phrases = append(m.phrases, phrase{toks: toks, prefix: prefix, plain: plain, cat: cat, langs: 1 << l,
		weight: weight})
	if prefix && len(toks) == 1 {
		m.prefixFirst = append(m.prefixFirst, id)
		return
	}
	m.byFirst[toks[0]] = append(m.byFirst[toks[0]], id)
}

// scan marks the longest phrase starting at each position, left to right;
// tokens inside a match are consumed, so "no me interesa" is one refusal,
// not a "no" plus a "me interesa". Phrases never cross a clause boundary.
func (m *matcher) scan(r *reply, out []match) []match {
	toks := r.tokens
	for i := 0; i < len(toks); {
		best, bestLen := int32(-1), 0
		try := func(id int32) {
			p := &m.phrases[id]
			if n := p.matchAt(toks, i); n > bestLen || n == bestLen && n > 0 && p.cat < m.phrases[best].cat {
				best, bestLen = id, n
			}
		}
		for _, id := range m.byFirst[toks[i].text] {
			try(id)
		}
		if toks[i].kind == kindWord {
			for _, id := range m.prefixFirst {
				try(id)
			}
		}
		if best < 0 {
			i++
			continue
		}
		for j := i; j < i+bestLen; j++ {
			toks[j].cat, toks[j].match = m.phrases[best].cat, int16(len(out))
		}
		out = append(out, match{from: i, to: i + bestLen, phrase: best})
		i += bestLen
	}
	return out
}

// matchAt returns how many tokens p covers at toks[i:], or 0.
func (p *phrase) matchAt(toks []token, i int) int {
	if i+len(p.toks) > len(toks) {
		return 0
	}
	clause := toks[i].clause
	for k, want := range p.toks {
		t := toks[i+k]
		if t.clause != clause || p.plain && t.marked {
			return 0
		}
		if p.prefix && k == len(p.toks)-1 {
			if !strings.HasPrefix(t.text, want) {
				return 0
			}
			continue
		}
		if t.text != want {
			return 0
		}
	}
	return len(p.toks)
}

// buildPhrases compiles the phrase lists and the long opt-out words that
// forgive a typo when they make up the whole reply ("unsubcribe").
func (c *Classifier) buildPhrases(r *reply) {
	m := newMatcher()
	m.add(r, catOptOut, optOutPhrases)
	m.add(r, catKeepSending, keepSendingPhrases)
	m.add(r, catInstruction, instructionPhrases)
	m.add(r, catAuto, autoReplyPhrases)
	m.add(r, catWrong, wrongNumberPhrases)
	m.add(r, catInterested, interestedPhrases)
	m.add(r, catNegative, negativePhrases)
	m.add(r, catNeutral, neutralPhrases)
	m.add(r, catUnsure, unsurePhrases)
	m.add(r, catQuestion, questionPhrases)
	m.add(r, catCannot, cannotPhrases)
	m.seen = nil
	c.phrases = m
	for _, p := range m.phrases {
		if p.cat == catOptOut && len(p.toks) == 1 && !p.prefix && len(p.toks[0]) >= 6 {
			c.longKeywords = append(c.longKeywords, p.toks[0])
		}
	}
	for _, words := range optOutKeywords {
		for _, w := range words {
			if f := c.fold(r, w); len(f) >= 6 {
				c.longKeywords = append(c.longKeywords, f)
			}
		}
	}
}
