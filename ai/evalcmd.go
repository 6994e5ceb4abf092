package ai

import (
	"fmt"
	"io"
	"os"

	"github.com/aibud/aibud/ai/rules"
	"github.com/aibud/aibud/tenants"
)

// DefaultEvalPath is the labelled evaluation set `make eval` scores,
// relative to the repository root.
const DefaultEvalPath = "ai/rules/testdata/eval.jsonl"

// RunEval scores classifier c on the JSON-lines evaluation set at path and
// prints the report (accuracy per intent and per language, option matching,
// opt-out precision and recall, and every miss) to out. It reports only
// failures to read or classify; whether the figures meet the quality bars
// is ai/rules' TestEvaluation's call, so a worse classifier can still be
// measured.
func RunEval(c tenants.Classifier, path string, out io.Writer) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("ai.RunEval: %w", err)
	}
	defer f.Close()
	rep, err := rules.Evaluate(c, f)
	if err != nil {
		return fmt.Errorf("ai.RunEval %s: %w", path, err)
	}
	rep.Print(out)
	return nil
}
