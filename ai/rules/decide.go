package rules

import "github.com/aibud/aibud/tenants"

// signals is everything the phrases and words of a reply said, before the
// intents are weighed against each other.
type signals struct {
	optOut   float64 // confidence of an opt-out, 0 if none
	whole    bool    // the whole reply is an opt-out keyword ("STOP")
	keep     float32 // "don't stop": wants the messages
	auto     float32 // auto-responder weight
	wrong    bool
	yes, no  float32
	unsure   float32
	eyeRoll  bool // 🙄: sarcasm outweighs any "great"
	qMark    bool
	qWords   bool   // a question word opens a clause, or a question phrase
	qClauses uint64 // clauses with a question word or phrase
	mood     int
	topic    topic
}

// verdict is the decided intent with its confidence and picks.
type verdict struct {
	intent     tenants.Intent
	confidence float64
	picks      []int
}

// read collects the signals of the reply in s.
func (c *Classifier) read(s *state) signals {
	var g signals
	toks := s.r.tokens
	strongOptOut := false
	for _, m := range s.matches {
		p := &c.phrases.phrases[m.phrase]
		switch p.cat {
		case catOptOut:
			if s.negatedAt(m.from) {
				g.keep++ // "please don't remove me"
			} else {
				strongOptOut = true
			}
		case catKeepSending:
			g.keep++
		case catAuto:
			g.auto += p.weight
		case catWrong:
			g.wrong = true // never negated: "je ne suis pas la bonne personne"
		case catInterested:
			if s.negatedAt(m.from) {
				g.no += p.weight // "not interested", "je ne suis pas intéressé"
			} else {
				g.yes += p.weight
			}
		case catNegative:
			g.no += p.weight
			g.eyeRoll = g.eyeRoll || toks[m.from].text == "🙄" || toks[m.from].text == "😒"
		case catUnsure:
			g.unsure++
		case catQuestion:
			g.qWords = true
			g.qClauses |= bit(toks[m.from].clause)
		case catCannot:
			g.no += 0.5
		}
	}
	for i := range toks {
		t := &toks[i]
		if t.info != nil {
			g.mood += int(t.info.mood)
			opens := i == 0 || toks[i-1].clause != t.clause
			asks := t.info.flags&fQStart != 0 || t.info.flags&fQVerb != 0 && s.r.qmarks&bit(t.clause) != 0
			if opens && asks && (t.match < 0 || t.cat == catQuestion) {
				g.qWords = true
				g.qClauses |= bit(t.clause)
			}
			if t.info.flags&fKeyword != 0 && s.keywordNegated(i) {
				g.keep++ // "don't ever stop the discounts"
			}
			if t.info.flags&fRemove != 0 && (t.match < 0 || t.cat == catOptOut) && s.listInClause(i) {
				if s.negatedAt(i) {
					g.keep++
				} else {
					strongOptOut = true // "eliminen mi número de su lista"
				}
			}
		}
		if tp, ok := c.topics[t.text]; ok && (g.topic == topicNone || tp < g.topic) {
			g.topic = tp
		}
	}
	g.qMark = s.r.question
	if !g.qMark && !g.qWords && g.topic >= topicPrice && len(toks) <= 3 && g.yes == 0 && g.no == 0 {
		g.qWords = true // "price", "mais info", "Preis"
	}
	switch {
	case strongOptOut:
		g.optOut = 0.97
	case s.r.keywordOnly(0, len(toks)):
		g.optOut, g.whole = 0.95, true
	case !g.qMark && s.r.keywordClause():
		g.optOut = 0.9 // "Stop, I'm not interested", "No. STOP"
	case c.typoKeyword(&s.r):
		g.optOut = 0.8
	}
	return g
}

// keepNegators negate an opt-out keyword: "don't ever stop", "nunca pare".
// A bare "no" is not among them: "no stop" is a refusal typed in a hurry.
var keepNegators = map[string]bool{"dont": true, "not": true, "never": true, "nao": true, "nunca": true,
	"nicht": true, "ne": true, "non": true, "jamais": true, "mai": true, "nie": true}

// keywordNegated reports an opt-out keyword with a verbal negator at most
// two words before it in its clause.
func (s *state) keywordNegated(i int) bool {
	toks := s.r.tokens
	for k := i - 1; k >= 0 && k >= i-2 && toks[k].clause == toks[i].clause; k-- {
		if keepNegators[toks[k].text] {
			return true
		}
	}
	return false
}

// listInClause reports a list noun ("lista", "number") in the clause of
// token i, after it: the object of a removal verb.
func (s *state) listInClause(i int) bool {
	toks := s.r.tokens
	for k := i + 1; k < len(toks) && toks[k].clause == toks[i].clause; k++ {
		if toks[k].info != nil && toks[k].info.flags&fList != 0 {
			return true
		}
	}
	return false
}

// bit is the clause mask bit of clause i; clauses past 63 share the last.
func bit(i int) uint64 { return 1 << min(i, 63) }

// keywordOnly reports whether tokens [from, to) are opt-out keywords padded
// with fillers and emoji, at least one keyword among them.
func (r *reply) keywordOnly(from, to int) bool {
	kw := 0
	for i := from; i < to; i++ {
		t := &r.tokens[i]
		switch {
		case t.info != nil && t.info.flags&fKeyword != 0:
			kw++
		case t.kind == kindEmoji, t.info != nil && t.info.flags&fFiller != 0:
		default:
			return false
		}
	}
	return kw > 0
}

// keywordClause reports a clause made of an opt-out keyword and padding.
func (r *reply) keywordClause() bool {
	for i := 0; i < len(r.tokens); {
		j := i
		for j < len(r.tokens) && r.tokens[j].clause == r.tokens[i].clause {
			j++
		}
		if r.keywordOnly(i, j) {
			return true
		}
		i = j
	}
	return false
}

// typoKeyword forgives one typo in a long opt-out word sent on its own.
func (c *Classifier) typoKeyword(r *reply) bool {
	if len(r.tokens) != 1 || r.tokens[0].kind != kindWord || r.tokens[0].cat != catNone || r.tokens[0].info != nil {
		return false
	}
	w := r.tokens[0].text
	for _, k := range c.longKeywords {
		if w[0] == k[0] && damerau(w, k, 1) <= 1 {
			return true
		}
	}
	return false
}

// decide weighs the signals. Order matters: opt-out first (it must never
// be lost), then auto-replies and wrong numbers, which no vote can come
// from, then picked options, refusals, questions and plain yeses.
func (c *Classifier) decide(s *state, g *signals) verdict {
	switch {
	case g.optOut > 0 && !(g.auto >= 3 && !g.whole):
		return verdict{intent: tenants.IntentOptOut, confidence: g.optOut}
	case g.auto >= 2 && (!g.qMark || g.auto >= 3):
		return verdict{intent: tenants.IntentAutoReply, confidence: min(0.97, 0.7+0.07*float64(g.auto))}
	case g.wrong:
		return verdict{intent: tenants.IntentWrongNumber, confidence: 0.9}
	}
	picks, how, refused := s.resolvePicks()
	if len(picks) > 0 && !s.asksAboutPick(g) {
		return s.pickVerdict(g, picks, how)
	}
	v := verdict{intent: tenants.IntentOther, confidence: 0.45}
	switch {
	case refused && !g.qMark && g.yes == 0: // "not the second one"; "yes but not thursday" is still a yes
		v = verdict{intent: tenants.IntentNotInterested, confidence: 0.75}
	case g.eyeRoll && !g.qMark:
		v = verdict{intent: tenants.IntentNotInterested, confidence: 0.65}
	case g.keep > 0 && g.keep+g.yes > g.no:
		v = verdict{intent: tenants.IntentInterested, confidence: 0.8}
	case (g.qMark || g.qWords) && !(g.no > g.yes && !g.qMark):
		v = verdict{intent: tenants.IntentQuestion, confidence: questionConfidence(g)}
	case g.no > g.yes && g.no >= g.unsure:
		v = verdict{intent: tenants.IntentNotInterested, confidence: min(0.92, 0.72+0.1*float64(g.no-g.yes))}
	case g.unsure > 0 && g.unsure > g.yes:
		v = verdict{intent: tenants.IntentOther, confidence: 0.7}
	case g.yes > 0 && g.yes > g.no:
		v = verdict{intent: tenants.IntentInterested, confidence: min(0.92, 0.68+0.12*float64(g.yes-g.no))}
	case g.yes > 0:
		v.confidence = 0.35 // as much yes as no
	case len(s.r.tokens) == 0:
		v.confidence = 0.3
	}
	if v.intent == tenants.IntentInterested || v.intent == tenants.IntentNotInterested {
		v.picks = s.pickByPolarity(v.intent)
	}
	return v
}

// asksAboutPick reports a question about an option rather than a vote for
// it: "c'est combien le premium ?", "Quelle est la différence entre …".
func (s *state) asksAboutPick(g *signals) bool {
	if !g.qMark {
		return false
	}
	for _, h := range s.hits {
		if !h.negated && g.qClauses&bit(s.r.tokens[h.pos].clause) != 0 && s.r.qmarks&bit(s.r.tokens[h.pos].clause) != 0 {
			return true
		}
	}
	return false
}

// pickVerdict is the intent of a reply that picked options: interested,
// unless the options picked are themselves refusals ("No thanks").
func (s *state) pickVerdict(g *signals, picks []int, how pickHow) verdict {
	v := verdict{intent: tenants.IntentInterested, picks: picks}
	refusal := true
	for _, p := range picks {
		refusal = refusal && s.options[p].polarity < 0
	}
	if refusal {
		v.intent = tenants.IntentNotInterested
	}
	v.confidence = [...]float64{pickPartial: 0.78, pickName: 0.92, pickOrdinal: 0.88, pickNumber: 0.93,
		pickExplicit: 0.95}[how]
	if g.no > g.yes && !refusal || g.qMark {
		v.confidence -= 0.1 // a pick wrapped in doubt or a question
	}
	return v
}

// pickByPolarity maps a plain yes or no onto a yes/no poll's options.
func (s *state) pickByPolarity(intent tenants.Intent) []int {
	want := int8(1)
	if intent == tenants.IntentNotInterested {
		want = -1
	}
	found, other := -1, false
	for i, o := range s.options {
		switch o.polarity {
		case want:
			if found >= 0 {
				return nil // two options say the same; which one is unclear
			}
			found = i
		case -want:
			other = true
		}
	}
	if found < 0 || !other {
		return nil
	}
	return []int{found}
}

func questionConfidence(g *signals) float64 {
	switch {
	case g.qMark && g.qWords:
		return 0.9
	case g.qMark:
		return 0.8
	}
	return 0.7
}
