package rules

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/aibud/aibud/tenants"
)

// Record is one labelled reply of the evaluation set (testdata/eval.jsonl).
//
// Labelling rules, fixed before any classifier ran on the set: the intent is
// what the business should do with the reply. A reply that picks an option
// is interested (even when it also asks something), unless the option is
// itself a refusal such as "No thanks"; a question about an option without
// choosing it is a question; in yes/no polls a plain yes or no names the
// matching option; "who is this?" is a question, not a wrong number;
// postponing ("I'll think about it") is other.
type Record struct {
	Text     string   `json:"text"`
	Question string   `json:"question"`
	Options  []string `json:"options"`
	Intent   string   `json:"intent"`
	Option   string   `json:"option"`          // first expected option, "" for none
	Picks    []string `json:"picks,omitempty"` // every expected option, when more than one
	OptOut   bool     `json:"opt_out"`
	Language string   `json:"language"`
}

// Score is a count of right answers out of N.
type Score struct {
	N, Correct int
}

// Accuracy is Correct/N, or 0 for an empty score.
func (s Score) Accuracy() float64 {
	if s.N == 0 {
		return 0
	}
	return float64(s.Correct) / float64(s.N)
}

func (s *Score) add(ok bool) {
	s.N++
	if ok {
		s.Correct++
	}
}

// Miss is a record the classifier got wrong, for reading the failures.
type Miss struct {
	Line                  int
	Text                  string
	WantIntent, GotIntent string
	WantOption, GotOption string
	WantOptOut, GotOptOut bool
	Language, GotLanguage string
	Summary               string
	Confidence            float64
}

// Report is what an evaluation measured.
type Report struct {
	Intent     Score                    // all records
	PerIntent  map[tenants.Intent]Score // by labelled intent (that intent's recall)
	PerLang    map[string]Score         // intent accuracy by labelled language
	LangDetect Score                    // detected language equals the label
	Option     Score                    // records labelled with an option: the same option(s) picked
	FalsePicks Score                    // records with options labelled with none: N counted, Correct = picked nothing
	OptOutTP   int                      // opt-outs flagged
	OptOutFP   int                      // flagged, not opt-outs
	OptOutFN   int                      // opt-outs missed
	Misses     []Miss
}

// MacroAccuracy is the mean of the per-intent accuracies, so that rare
// intents (wrong numbers, auto-replies) weigh as much as common ones.
func (r Report) MacroAccuracy() float64 {
	if len(r.PerIntent) == 0 {
		return 0
	}
	var sum float64
	for _, s := range r.PerIntent {
		sum += s.Accuracy()
	}
	return sum / float64(len(r.PerIntent))
}

// OptOutPrecision is the share of flagged opt-outs that were opt-outs.
func (r Report) OptOutPrecision() float64 {
	return ratio(r.OptOutTP, r.OptOutTP+r.OptOutFP)
}

// OptOutRecall is the share of opt-outs that were flagged.
func (r Report) OptOutRecall() float64 {
	return ratio(r.OptOutTP, r.OptOutTP+r.OptOutFN)
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 1
	}
	return float64(a) / float64(b)
}

// Evaluate classifies every record of a JSON-lines evaluation set with c and
// scores the answers against the labels. The language label is never passed
// as a hint: detection is measured as it runs in production without one.
func Evaluate(c tenants.Classifier, r io.Reader) (Report, error) {
	rep := Report{PerIntent: make(map[tenants.Intent]Score), PerLang: make(map[string]Score)}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for line := 1; sc.Scan(); line++ {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var rec Record
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			return rep, fmt.Errorf("rules.Evaluate line %d: %w", line, err)
		}
		if !slices.Contains(tenants.Intents, tenants.Intent(rec.Intent)) {
			return rep, fmt.Errorf("rules.Evaluate line %d: unknown intent %q", line, rec.Intent)
		}
		got, err := c.Classify(context.Background(), tenants.ClassifyInput{
			Text: rec.Text, Question: rec.Question, Options: rec.Options})
		if err != nil {
			return rep, fmt.Errorf("rules.Evaluate line %d: %w", line, err)
		}
		rep.score(line, rec, got)
	}
	if err := sc.Err(); err != nil {
		return rep, fmt.Errorf("rules.Evaluate: %w", err)
	}
	return rep, nil
}

// score adds one classified record to the report.
func (rep *Report) score(line int, rec Record, got tenants.Classification) {
	want := tenants.Intent(rec.Intent)
	intentOK := got.Intent == want
	rep.Intent.add(intentOK)
	s := rep.PerIntent[want]
	s.add(intentOK)
	rep.PerIntent[want] = s
	l := rep.PerLang[rec.Language]
	l.add(intentOK)
	rep.PerLang[rec.Language] = l
	rep.LangDetect.add(got.Language == rec.Language)

	gotOption := ""
	if len(got.Options) > 0 {
		gotOption = got.Options[0]
	}
	optionOK := gotOption == rec.Option
	switch {
	case rec.Option != "":
		if len(rec.Picks) > 1 {
			optionOK = sameSet(got.Options, rec.Picks)
		}
		rep.Option.add(optionOK)
	case len(rec.Options) > 0:
		rep.FalsePicks.add(optionOK)
	}

	switch {
	case got.OptOut && rec.OptOut:
		rep.OptOutTP++
	case got.OptOut:
		rep.OptOutFP++
	case rec.OptOut:
		rep.OptOutFN++
	}
	if !intentOK || !optionOK || got.OptOut != rec.OptOut {
		rep.Misses = append(rep.Misses, Miss{Line: line, Text: rec.Text,
			WantIntent: rec.Intent, GotIntent: string(got.Intent), WantOption: rec.Option, GotOption: gotOption,
			WantOptOut: rec.OptOut, GotOptOut: got.OptOut, Language: rec.Language, GotLanguage: got.Language,
			Summary: got.Summary, Confidence: got.Confidence})
	}
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}

// Print writes the report as the plain-text table `make eval` shows:
// accuracy per intent and per language, option matching, opt-out
// precision and recall, then every miss.
func (r Report) Print(w io.Writer) {
	pct := func(f float64) string { return fmt.Sprintf("%5.1f%%", 100*f) }
	fmt.Fprintf(w, "Evaluation: %d replies\n\n", r.Intent.N)
	fmt.Fprintf(w, "%-16s %5s %7s\n", "intent", "n", "acc")
	for _, in := range tenants.Intents {
		if s, ok := r.PerIntent[in]; ok {
			fmt.Fprintf(w, "%-16s %5d %7s\n", in, s.N, pct(s.Accuracy()))
		}
	}
	fmt.Fprintf(w, "%-16s %5d %7s\n", "macro average", r.Intent.N, pct(r.MacroAccuracy()))
	fmt.Fprintf(w, "%-16s %5d %7s\n\n", "micro (overall)", r.Intent.N, pct(r.Intent.Accuracy()))

	fmt.Fprintf(w, "%-16s %5s %7s\n", "language", "n", "acc")
	langs := make([]string, 0, len(r.PerLang))
	for l := range r.PerLang {
		langs = append(langs, l)
	}
	slices.Sort(langs)
	for _, l := range langs {
		s := r.PerLang[l]
		fmt.Fprintf(w, "%-16s %5d %7s\n", l, s.N, pct(s.Accuracy()))
	}
	fmt.Fprintf(w, "%-16s %5d %7s\n\n", "detected right", r.LangDetect.N, pct(r.LangDetect.Accuracy()))

	fmt.Fprintf(w, "option matched   %5d %7s   (replies labelled with an option)\n", r.Option.N, pct(r.Option.Accuracy()))
	fmt.Fprintf(w, "no false pick    %5d %7s   (replies to polls labelled with none)\n\n", r.FalsePicks.N,
		pct(r.FalsePicks.Accuracy()))
	fmt.Fprintf(w, "opt-out precision %s  recall %s  (tp %d, fp %d, fn %d)\n", pct(r.OptOutPrecision()),
		pct(r.OptOutRecall()), r.OptOutTP, r.OptOutFP, r.OptOutFN)

	if len(r.Misses) == 0 {
		return
	}
	fmt.Fprintf(w, "\nMisses (%d):\n", len(r.Misses))
	for _, m := range r.Misses {
		got := m.GotIntent
		if m.GotOption != "" {
			got += " [" + m.GotOption + "]"
		}
		want := m.WantIntent
		if m.WantOption != "" {
			want += " [" + m.WantOption + "]"
		}
		fmt.Fprintf(w, "  line %3d %s  want %-28s got %-28s %.2f  %q\n", m.Line, m.Language, want, got, m.Confidence, m.Text)
	}
}
