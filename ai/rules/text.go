package rules

import (
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// tokenKind tells words from the numbers and emoji a reply may pick options with.
type tokenKind uint8

const (
	kindWord    tokenKind = iota
	kindNumber            // "2", "#2"
	kindOrdinal           // "2nd", "2º", "2ª", "2e", "2eme"
	kindKeycap            // 2️⃣, 🔟
	kindEmoji
)

// token is one folded word, number or emoji of a reply. Its text points into
// the reply's folded string, so tokenising allocates once per reply.
type token struct {
	text   string
	kind   tokenKind
	hash   bool      // written "#2"
	marked bool      // written with accents: "já" is not "ja"
	num    int       // value of numbers, ordinals and keycaps
	clause int       // index of the clause (text between punctuation) it sits in
	info   *wordInfo // what the lexicon knows of the word, nil if nothing
	cat    category  // category of the phrase that consumed it
	match  int16     // index of that phrase match, -1 if none
}

// reply is a tokenised reply: the tokens plus what punctuation and accents
// said before folding threw them away. Replies are pooled and reused.
type reply struct {
	tokens   []token
	question bool              // a "?" or "¿" anywhere
	qmarks   uint64            // clauses that end in "?"
	accents  [numLangs]float32 // language votes from letters like ñ, ã, ß

	buf    []byte // folded text being built
	spans  []span // token offsets into buf
	start  int    // offset of the open token, -1 if none
	runLen int    // length of the run of equal letters just written
	clause int
	hash   bool
	marked bool // the open token lost an accent to folding
	broken bool // a clause boundary waits for the next token
}

// span is where a token sits in the folded text while it is being built.
type span struct {
	from, to     int
	kind         tokenKind
	hash, marked bool
	clause       int
}

// ordinalSuffixes turn "2nd", "2º", "2e", "2eme" into ordinal numbers.
var ordinalSuffixes = map[string]bool{"st": true, "nd": true, "rd": true, "th": true,
	"o": true, "a": true, "e": true, "eme": true, "er": true, "ere": true, "re": true}

// tokenize folds text — lower case, accents removed, runs of three or more
// equal letters collapsed ("siiii" → "si") — and splits it into tokens and
// clauses. Folding lets "nao" match "não" and "miercoles" match "Miércoles",
// the way people type on phones.
func (r *reply) tokenize(text string) {
	r.tokens, r.spans, r.buf = r.tokens[:0], r.spans[:0], r.buf[:0]
	r.question, r.qmarks, r.accents = false, 0, [numLangs]float32{}
	r.start, r.clause, r.hash, r.broken = -1, 0, false, false
	for i := 0; i < len(text); {
		c, size := utf8.DecodeRuneInString(text[i:])
		i += size
		switch {
		case c < utf8.RuneSelf && (isASCIILetter(c) || c >= '0' && c <= '9'):
			r.open()
			r.put(byte(unicode.ToLower(c)))
		case c == '\'' || c == '\u2019' || c == '\u2018' || c == '`' || c == '\u00b4':
			if r.start >= 0 && joinsApostrophe(text[i:]) {
				continue // "don't" → "dont", "I'm" → "im"
			}
			r.flush(kindWord)
		case c == '#':
			r.flush(kindWord)
			r.hash = true
		case c == '?' || c == '¿':
			r.flush(kindWord)
			r.question, r.broken = true, true
			r.qmarks |= bit(r.clause)
			if c == '¿' {
				r.accents[es] += 2
			}
		case c == '.' && r.start >= 0 && isAbbreviation(r.buf[r.start:]):
			r.flush(kindWord) // "Nr. 3" stays one clause
		case c == '.' || c == ',' || c == ';' || c == ':' || c == '!' || c == '\n' || c == '¡' || c == '(' || c == ')':
			r.flush(kindWord)
			r.broken = true
			if c == '¡' {
				r.accents[es] += 2
			}
		case c == '\ufe0f' || c == '\u200d' || c >= 0x1f3fb && c <= 0x1f3ff:
			// variation selectors, joiners and skin tones carry no meaning here
		case c == '\u20e3': // the keycap of 2️⃣
			if r.start >= 0 && isDigits(r.buf[r.start:]) {
				r.flush(kindKeycap)
			}
		case c == 0x1f51f: // 🔟
			r.flush(kindWord)
			r.open()
			r.buf = append(r.buf, '1', '0')
			r.flush(kindKeycap)
		case (c == 'º' || c == 'ª' || c == '°') && r.start >= 0 && isDigits(r.buf[r.start:]):
			r.flush(kindOrdinal)
		case unicode.Is(unicode.Mn, c):
			// a combining accent typed on its own
		case unicode.IsLetter(c) || unicode.IsDigit(c):
			r.open()
			r.foldLetter(c)
		case isEmoji(c):
			r.flush(kindWord)
			r.open()
			r.buf = utf8.AppendRune(r.buf, c)
			r.flush(kindEmoji)
		default:
			r.flush(kindWord)
		}
	}
	r.flush(kindWord)
	folded := string(r.buf) // the one allocation every token shares
	for _, s := range r.spans {
		r.tokens = append(r.tokens, token{text: folded[s.from:s.to], kind: s.kind, hash: s.hash, marked: s.marked,
			clause: s.clause, match: -1})
	}
	r.classifyNumbers()
}

// open starts a token unless one is open.
func (r *reply) open() {
	if r.start < 0 {
		r.start, r.runLen, r.marked = len(r.buf), 0, false
	}
}

// flush closes the open token, if any, as kind.
func (r *reply) flush(kind tokenKind) {
	if r.start < 0 {
		return
	}
	if r.broken && len(r.spans) > 0 {
		r.clause++
	}
	r.broken = false
	r.spans = append(r.spans, span{from: r.start, to: len(r.buf), kind: kind, hash: r.hash, marked: r.marked,
		clause: r.clause})
	r.buf = append(r.buf, ' ')
	r.start, r.hash, r.marked = -1, false, false
}

// put appends one folded ASCII byte; the third equal letter in a row folds
// the run back to one ("yesss" → "yes", "simmm" → "sim"), while pairs such
// as "cheese" stay. Digits are never collapsed.
func (r *reply) put(c byte) {
	n := len(r.buf)
	if n > r.start && r.buf[n-1] == c && (c < '0' || c > '9') {
		r.runLen++
	} else {
		r.runLen = 1
	}
	switch {
	case r.runLen == 3:
		r.buf = r.buf[:n-1]
	case r.runLen < 3:
		r.buf = append(r.buf, c)
	}
}

// classifyNumbers gives digit tokens their value and recognises "2nd", "2e".
func (r *reply) classifyNumbers() {
	for i := range r.tokens {
		t := &r.tokens[i]
		if t.kind == kindEmoji {
			continue
		}
		n, rest := leadingNumber(t.text)
		if rest == len(t.text) {
			continue
		}
		switch {
		case rest == 0 && t.kind == kindWord:
			t.kind = kindNumber
		case rest == 0:
		case ordinalSuffixes[t.text[len(t.text)-rest:]] && t.kind == kindWord:
			t.kind = kindOrdinal
		default:
			continue
		}
		t.num = n
	}
}

// leadingNumber reads up to six leading digits; rest is how many bytes follow.
func leadingNumber(s string) (n, rest int) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		if i < 6 {
			n = n*10 + int(s[i]-'0')
		}
		i++
	}
	if i == 0 {
		return 0, len(s)
	}
	return n, len(s) - i
}

// foldLetter writes a non-ASCII letter without its accents and records which
// languages the accent hints at.
func (r *reply) foldLetter(c rune) {
	c = unicode.ToLower(c)
	for l, w := range accentVotes[c] {
		r.accents[l] += w
	}
	switch c {
	case 'ß':
		r.put('s')
		r.put('s')
		return
	case 'æ':
		r.put('a')
		r.put('e')
		return
	case 'œ':
		r.put('o')
		r.put('e')
		return
	case 'ø':
		c = 'o'
	case 'ł':
		c = 'l'
	}
	var tmp [utf8.UTFMax]byte
	n := utf8.EncodeRune(tmp[:], c)
	d := norm.NFKD.Properties(tmp[:n]).Decomposition()
	if d == nil {
		r.buf = utf8.AppendRune(r.buf, c)
		return
	}
	for len(d) > 0 {
		m, size := utf8.DecodeRune(d)
		d = d[size:]
		switch {
		case unicode.Is(unicode.Mn, m):
			r.marked = true
		case m < utf8.RuneSelf:
			r.put(byte(unicode.ToLower(m)))
		default:
			r.buf = utf8.AppendRune(r.buf, unicode.ToLower(m))
		}
	}
}

// joinsApostrophe reports whether the letters after an apostrophe are an
// English contraction ("n't", "'m", "'re", "'ll", "'ve", "'s", "'d"), which
// stay part of the word, unlike French and Italian elisions ("l'option").
func joinsApostrophe(rest string) bool {
	end := 0
	for end < len(rest) && end < 3 && isASCIILetter(rune(rest[end])) {
		end++
	}
	if end < len(rest) && isASCIILetter(rune(rest[end])) {
		return false
	}
	var low [3]byte
	for i := 0; i < end; i++ {
		low[i] = rest[i] | 0x20 // ASCII letters only
	}
	switch string(low[:end]) {
	case "t", "m", "re", "ll", "ve", "s", "d":
		return true
	}
	return false
}

func isASCIILetter(c rune) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func isDigits(s []byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return len(s) > 0
}

// isAbbreviation reports tokens whose trailing dot does not end a clause.
func isAbbreviation(s []byte) bool {
	switch string(s) {
	case "nr", "n", "nro", "num", "op", "opt":
		return true
	}
	return false
}

// isEmoji reports pictographs; each becomes a token of its own.
func isEmoji(c rune) bool {
	return c >= 0x1f000 && c <= 0x1faff || c >= 0x2600 && c <= 0x27bf || c == 0x2b50
}
