package rules

import "slices"

// indexHits finds options picked by position: keycaps, "#2", "option 2",
// "2nd", "la 2", "the second one", "o último", and lists like "1 and 3".
// Bare numbers count only where they cannot be a quantity or a date: alone,
// in a list, after "option"/"número", or after an article that ends the
// phrase ("la 2 por favor", but not "el 2 de enero").
func (s *state) indexHits() {
	toks, n := s.r.tokens, len(s.options)
	list := s.isChoiceList()
	for p := range toks {
		if s.used[p] {
			continue // already part of an option's name ("14h")
		}
		t := &toks[p]
		v, how := 0, pickNone
		switch {
		case t.kind == kindKeycap:
			v, how = t.num, pickExplicit
		case t.kind == kindOrdinal || t.kind == kindNumber && t.hash:
			v, how = t.num, pickExplicit
		case t.kind == kindNumber && s.prevHas(p, fMarker):
			v, how = t.num, pickExplicit
		case t.kind == kindNumber && s.namesValue(t.num):
			// "14" when an option is "14h" but unmatched: no index either
		case t.kind == kindNumber && list:
			v, how = t.num, pickNumber
		case t.kind == kindNumber && s.prevHas(p, fArticle) && s.endsPick(p):
			v, how = t.num, pickNumber
		case t.info != nil && t.info.ordinal != 0 && s.ordinalInContext(p, list):
			v, how = int(t.info.ordinal), pickOrdinal
		case t.info != nil && t.info.cardinal > 0 && (list || s.prevHas(p, fMarker)) && !s.oneAfterOrdinal(p):
			v, how = int(t.info.cardinal), pickNumber
		}
		if v == -1 {
			v = n // "the last one"
		}
		if how == pickNone || v < 1 || v > n {
			continue
		}
		s.hits = append(s.hits, hit{option: v - 1, pos: p, how: how, negated: s.optionNegated(p)})
	}
}

// namesValue reports whether some option's name holds the number n, which
// then refers to that option ("500" for "500ml"), never to a position.
func (s *state) namesValue(n int) bool {
	for _, o := range s.options {
		for _, v := range o.values {
			if v == n {
				return true
			}
		}
	}
	return false
}

// oneAfterOrdinal reports the "one" of "the second one", which is no "1".
func (s *state) oneAfterOrdinal(p int) bool {
	t := &s.r.tokens[p]
	if p == 0 || t.info.flags&fOneWord == 0 {
		return false
	}
	prev := &s.r.tokens[p-1]
	return prev.kind == kindOrdinal || prev.info != nil && prev.info.ordinal != 0
}

// prevHas reports whether the token before p has flag f.
func (s *state) prevHas(p int, f wordFlag) bool {
	if p == 0 {
		return false
	}
	info := s.r.tokens[p-1].info
	return info != nil && info.flags&f != 0
}

// endsPick reports whether nothing but padding follows token p in its clause.
func (s *state) endsPick(p int) bool {
	toks := s.r.tokens
	if p+1 >= len(toks) || toks[p+1].clause != toks[p].clause {
		return true
	}
	next := &toks[p+1]
	return next.kind != kindWord || next.info != nil && next.info.flags&(fFiller|fConnector|fOneWord) != 0
}

// ordinalInContext accepts "the second (one)", "la segunda opción", "último"
// alone, and rejects "wait a second" or "the last time".
func (s *state) ordinalInContext(p int, list bool) bool {
	toks := s.r.tokens
	t := &toks[p]
	var next *token
	if p+1 < len(toks) && toks[p+1].clause == t.clause {
		next = &toks[p+1]
	}
	if next != nil && next.info != nil && next.info.flags&fTimeNoun != 0 {
		return false
	}
	if list || next != nil && next.info != nil && next.info.flags&fOneWord != 0 {
		return true
	}
	if p == 0 || toks[p-1].clause != t.clause {
		return false
	}
	prev := toks[p-1].info
	return prev != nil && prev.article&t.info.ordLangs != 0 && s.endsPick(p)
}

// isChoiceList reports replies made only of option references and padding:
// "2", "1 and 3", "first one!", "yes quero a 2", "terceira".
func (s *state) isChoiceList() bool {
	refs := 0
	for i := range s.r.tokens {
		t := &s.r.tokens[i]
		switch {
		case t.kind == kindNumber || t.kind == kindKeycap || t.kind == kindOrdinal:
			refs++
		case t.info != nil && (t.info.ordinal != 0 || t.info.cardinal > 0):
			refs++
		case t.kind == kindEmoji:
		case t.cat == catInterested:
		case t.info != nil && t.info.flags&(fFiller|fConnector|fMarker|fArticle|fOneWord) != 0:
		default:
			return false
		}
	}
	return refs > 0
}

// optionNegated reports an option mention refused in its own clause:
// "not the second one", "pas mardi", "el lunes no puedo", or a negator
// right after it, as Romance languages put it: "el jueves no, el sábado",
// "jeudi pas possible".
func (s *state) optionNegated(p int) bool {
	if s.negatedAt(p) {
		return true
	}
	toks := s.r.tokens
	for k := p + 1; k < len(toks) && k <= p+4 && toks[k].clause == toks[p].clause; k++ {
		if toks[k].cat == catCannot || k <= p+2 && s.negatorCounts(k) {
			return true
		}
	}
	return false
}

// negatedAt reports a negator among the four tokens before p in its clause.
// A negator inside a longer phrase of another kind ("no problem", "why not")
// does not count.
func (s *state) negatedAt(p int) bool {
	toks := s.r.tokens
	for k := p - 1; k >= 0 && k >= p-4 && toks[k].clause == toks[p].clause; k-- {
		if s.negatorCounts(k) {
			return true
		}
	}
	return false
}

// negatorCounts reports whether token k is a negator that negates: alone,
// or inside a refusal, but not inside "no problem" or "why not".
func (s *state) negatorCounts(k int) bool {
	t := &s.r.tokens[k]
	if t.info == nil || t.info.flags&fNegator == 0 {
		return false
	}
	if t.match < 0 {
		return true
	}
	m := s.matches[t.match]
	return m.to-m.from == 1 || t.cat == catNegative || t.cat == catCannot
}

// resolvePicks turns hits into the options picked, in the order the reply
// names them, and reports whether options were named only to be refused.
func (s *state) resolvePicks() (picks []int, how pickHow, refused bool) {
	slices.SortStableFunc(s.hits, func(a, b hit) int { return a.pos - b.pos })
	for _, h := range s.hits {
		if h.negated {
			refused = true
			continue
		}
		if slices.Contains(picks, h.option) {
			continue
		}
		picks = append(picks, h.option)
		how = max(how, h.how)
	}
	if len(picks) > 0 {
		refused = false
	}
	return picks, how, refused
}
