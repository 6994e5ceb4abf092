package rules

import (
	"slices"
	"strings"
)

// pickHow records how a reply named an option; it sets the confidence.
type pickHow uint8

const (
	pickNone     pickHow = iota
	pickPartial          // one distinctive word of a longer option, or a typo
	pickName             // the whole option name
	pickOrdinal          // "the second one", "la última"
	pickNumber           // "la 2", "1 and 3"
	pickExplicit         // 2️⃣, "#2", "option 2", "2nd"
)

// option is a poll option folded for matching.
type option struct {
	toks     []string  // folded words
	weights  []float32 // 1 for words that tell options apart, 0.2 for shared ones
	values   []int     // the number a word stands for: 4 for "four", "4" and "4pm"
	joined   string    // "checkup" for "Check-up"
	polarity int8      // +1 for "Yes, book me", -1 for "No thanks"
}

// hit is one place in the reply that names an option.
type hit struct {
	option  int
	pos     int
	how     pickHow
	negated bool
}

// maxOptions and maxOptionWords bound the work a hostile poll can cause;
// WhatsApp allows 12 options of at most 100 characters, well inside both.
const (
	maxOptions     = 16
	maxOptionWords = 16
)

// prepareOptions folds the poll's options. Words every option shares ("Menù"
// in "Menù carne", "Menù pesce") weigh little, so that "carne" decides.
func (c *Classifier) prepareOptions(s *state, opts []string) {
	s.options = s.options[:0]
	r := &s.scratch
	for _, text := range opts[:min(len(opts), maxOptions)] {
		c.tokenize(r, text)
		r.tokens = r.tokens[:min(len(r.tokens), maxOptionWords)]
		var o option
		all := true
		for _, t := range r.tokens {
			if t.info == nil || t.info.flags&fStopword == 0 || t.kind != kindWord {
				all = false
			}
		}
		for _, t := range r.tokens {
			if !all && t.kind == kindWord && t.info != nil && t.info.flags&fStopword != 0 {
				continue // "me" in "Sí, me interesa"; kept when the option is only "Sí"
			}
			if t.kind == kindEmoji {
				continue
			}
			o.toks = append(o.toks, t.text)
			o.values = append(o.values, valueOf(&t))
			o.joined += t.text
		}
		o.polarity = c.polarity(r)
		s.options = append(s.options, o)
	}
	for i := range s.options {
		o := &s.options[i]
		o.weights = make([]float32, len(o.toks))
		for k, w := range o.toks {
			o.weights[k] = 1
			if len(s.options) > 1 && sharedByAll(s.options, w) {
				o.weights[k] = 0.2
			}
		}
	}
}

func sharedByAll(opts []option, w string) bool {
	for _, o := range opts {
		if !slices.Contains(o.toks, w) {
			return false
		}
	}
	return true
}

// polarity says whether an option reads as a yes or a no, so that picking
// "No thanks" is a refusal and a bare "not interested" can pick it.
func (c *Classifier) polarity(r *reply) int8 {
	var yes, no float32
	for _, m := range c.phrases.scan(r, nil) {
		p := &c.phrases.phrases[m.phrase]
		switch p.cat {
		case catInterested:
			yes += p.weight
		case catNegative:
			no += p.weight
		}
	}
	switch {
	case yes > no:
		return 1
	case no > yes:
		return -1
	}
	return 0
}

// nameHits finds options named in the reply, whole or in part, with typos
// tolerated: "Tusday", "margarita", "vollkorn" for "Vollkornbrot". Each
// reply word backs only the option words it matches best, so "tusday" is
// Tuesday and not also a two-typo Thursday.
func (s *state) nameHits() {
	toks := s.r.tokens
	s.wordQ, s.wordPos = s.wordQ[:0], s.wordPos[:0]
	best := s.tokBest[:0]
	for range toks {
		best = append(best, 0)
	}
	for oi := range s.options {
		o := &s.options[oi]
		for k, w := range o.toks {
			q, pos := bestToken(toks, w, o.values[k], o.joined, len(o.toks) > 1)
			s.wordQ, s.wordPos = append(s.wordQ, q), append(s.wordPos, pos)
			if q > 0 {
				best[pos] = max(best[pos], q)
			}
		}
	}
	s.tokBest = best
	at := 0
	for oi := range s.options {
		o := &s.options[oi]
		var got, total float32
		distinct, first, exact := false, -1, len(o.toks) > 0
		for k := range o.toks {
			q, pos := s.wordQ[at], s.wordPos[at]
			at++
			total += o.weights[k]
			if q == 0 || q < best[pos] {
				exact = false
				continue
			}
			got += q * o.weights[k]
			distinct = distinct || o.weights[k] == 1 || len(s.options) == 1
			exact = exact && q == 1
			if first < 0 || pos < first {
				first = pos
			}
			s.used[pos] = true
		}
		if !distinct || first < 0 {
			continue
		}
		how := pickName
		if !exact || got < total {
			how = pickPartial
		}
		s.hits = append(s.hits, hit{option: oi, pos: first, how: how, negated: o.polarity >= 0 && s.optionNegated(first)})
	}
}

// bestToken returns how well the reply's best token matches option word w
// (1 exact, less for prefixes and typos, 0 none) and where it is.
func bestToken(toks []token, w string, value int, joined string, multi bool) (float32, int) {
	var best float32
	pos := -1
	for p := range toks {
		t := &toks[p]
		if t.kind == kindEmoji {
			continue
		}
		q := similarity(t, w, value)
		if multi && q < 1 && len(joined) >= 5 && similarity(t, joined, 0) >= 0.8 {
			q = 1 // "checkup" for "Check-up"
		}
		if q > best {
			best, pos = q, p
		}
	}
	return best, pos
}

// similarity scores a reply token against an option word.
func similarity(t *token, w string, value int) float32 {
	s := t.text
	switch {
	case s == w:
		return 1
	case value > 0 && valueOf(t) == value:
		return 0.9 // "4 cheese" for "Four Cheese"
	case len(s) >= 4 && strings.HasPrefix(w, s) && 2*len(s) >= len(w):
		return 0.8 // "vollkorn" for "Vollkornbrot"
	case len(w) >= 4 && strings.HasPrefix(s, w) && 2*len(w) >= len(s):
		return 0.85 // "chocolates" for "Chocolate"
	}
	if len(w) < 4 || len(s) == 0 || s[0] != w[0] || t.kind != kindWord {
		return 0
	}
	k := 1
	if len(w) >= 8 {
		k = 2
	}
	if d := damerau(s, w, k); d <= k {
		return 0.85 - 0.1*float32(d)
	}
	return 0
}

// damerau is the optimal-string-alignment distance between a and b, giving
// up (returning max+1) once it must exceed max. Strings longer than 32 bytes
// are never typos of an option word.
func damerau(a, b string, max int) int {
	if abs(len(a)-len(b)) > max || len(a) > 32 || len(b) > 32 {
		return max + 1
	}
	var rows [3][33]int
	prev2, prev, cur := &rows[0], &rows[1], &rows[2]
	for j := 0; j <= len(b); j++ {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		low := cur[0]
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			v := min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				v = min(v, prev2[j-2]+1)
			}
			cur[j] = v
			low = min(low, v)
		}
		if low > max {
			return max + 1
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// valueOf is the number a token stands for: 4 for "4" and for "four", and
// 500 for "500ml" (a number with its unit) so that "500" names that option.
func valueOf(t *token) int {
	switch {
	case t.kind == kindNumber:
		return t.num
	case t.info != nil && t.info.cardinal > 0:
		return int(t.info.cardinal)
	}
	if n, rest := leadingNumber(t.text); rest < len(t.text) && rest > 0 && rest <= 3 {
		return n
	}
	return 0
}
