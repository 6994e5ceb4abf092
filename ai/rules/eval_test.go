package rules

import (
	"os"
	"strings"
	"testing"
)

// TestEvaluation holds the offline classifier to the quality bars of the
// product: macro intent accuracy ≥ 85 %, opt-out recall ≥ 98 % and
// precision ≥ 95 % on the labelled set in testdata/eval.jsonl.
func TestEvaluation(t *testing.T) {
	f, err := os.Open("testdata/eval.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rep, err := Evaluate(New(), f)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	rep.Print(&out)
	t.Log("\n" + out.String())

	if rep.Intent.N < 300 {
		t.Errorf("evaluation set has %d replies, want at least 300", rep.Intent.N)
	}
	for lang, s := range rep.PerLang {
		if s.N < 40 {
			t.Errorf("language %s has %d replies, want at least 40", lang, s.N)
		}
	}
	if got := rep.MacroAccuracy(); got < 0.85 {
		t.Errorf("macro intent accuracy = %.3f, want ≥ 0.85", got)
	}
	if got := rep.OptOutRecall(); got < 0.98 {
		t.Errorf("opt-out recall = %.3f, want ≥ 0.98", got)
	}
	if got := rep.OptOutPrecision(); got < 0.95 {
		t.Errorf("opt-out precision = %.3f, want ≥ 0.95", got)
	}
}

// TestEvaluateRejectsBadLines checks the evaluator names the broken line.
func TestEvaluateRejectsBadLines(t *testing.T) {
	for _, in := range []string{
		`{"text":"hi","intent":"other"}` + "\n" + `{"text":`,
		`{"text":"hi","intent":"maybe"}`,
	} {
		_, err := Evaluate(New(), strings.NewReader(in))
		if err == nil || !strings.Contains(err.Error(), "line") {
			t.Errorf("Evaluate(%q) error = %v, want one naming the line", in, err)
		}
	}
}
