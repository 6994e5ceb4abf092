package ai

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aibud/aibud/ai/rules"
	"github.com/aibud/aibud/tenants"
	"github.com/google/go-cmp/cmp"
)

// failingClassifier fails every reply that contains "fail", the way a
// classifier without a fallback would on an outage.
type failingClassifier struct{ tenants.Classifier }

func (f failingClassifier) Classify(ctx context.Context, in tenants.ClassifyInput) (tenants.Classification, error) {
	if strings.Contains(in.Text, "fail") {
		return tenants.Classification{}, errors.New("upstream unavailable")
	}
	return f.Classifier.Classify(ctx, in)
}

// TestRunClassify drives the command with the real offline classifier: one
// output line per input line, errors named by line, and the run goes on.
func TestRunClassify(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want []map[string]any
	}{
		{
			name: "replies",
			in: `{"text":"STOP"}` + "\n" +
				`{"text":"la 2 por favor","question":"¿Qué día prefieres?","options":["Lunes","Martes"]}` + "\r\n" +
				`{"text":"how much is it?"}`,
			want: []map[string]any{
				{"intent": "opt_out", "confidence": 0.95, "option": "", "opt_out": true, "language": "en"},
				{"intent": "interested", "confidence": 0.93, "option": "Martes", "opt_out": false, "language": "es"},
				{"intent": "question", "confidence": 0.9, "option": "", "opt_out": false, "language": "en"},
			},
		},
		{
			name: "bad lines are reported and skipped",
			in:   "{\"text\":\"sair\"}\n\n   \nnot json\n{\"question\":\"no text\"}\n{\"text\":42}\n{\"text\":\"não quero mais\"}\n",
			want: []map[string]any{
				{"intent": "opt_out", "confidence": 0.95, "option": "", "opt_out": true, "language": "pt"},
				{"line": 4.0, "error": "invalid JSON: invalid character 'o' in literal null (expecting 'u')"},
				{"line": 5.0, "error": `missing "text"`},
				{"line": 6.0, "error": "invalid JSON: json: cannot unmarshal number into Go struct field classifyLine.text of type string"},
				{"intent": "opt_out", "confidence": 0.97, "option": "", "opt_out": true, "language": "pt"},
			},
		},
		{
			name: "a line too long",
			in:   `{"text":"` + strings.Repeat("a", maxLineBytes) + `"}` + "\n" + `{"text":"sim"}`,
			want: []map[string]any{
				{"line": 1.0, "error": "line longer than 1048576 bytes"},
				{"intent": "interested", "confidence": 0.8, "option": "", "opt_out": false, "language": "pt"},
			},
		},
		{
			name: "classifier errors",
			in:   `{"text":"please fail"}` + "\n" + `{"text":"ok"}`,
			want: []map[string]any{
				{"line": 1.0, "error": "classify: upstream unavailable"},
				{"intent": "interested", "confidence": 0.74, "option": "", "opt_out": false, "language": "en"},
			},
		},
		{name: "empty input", in: "", want: nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			c := failingClassifier{rules.New()}
			if err := RunClassify(context.Background(), c, strings.NewReader(tc.in), &out); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, decodeLines(t, out.String())); diff != "" {
				t.Errorf("output (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRunClassifyStops checks a done context and a broken writer end the run.
func TestRunClassifyStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := RunClassify(ctx, rules.New(), strings.NewReader(`{"text":"hi"}`), io.Discard)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled run: err = %v, want context.Canceled", err)
	}
	err = RunClassify(context.Background(), rules.New(), strings.NewReader(`{"text":"hi"}`), brokenWriter{})
	if err == nil {
		t.Error("run into a broken writer: no error")
	}
}

type brokenWriter struct{}

func (brokenWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

// TestRunEval prints a report for a small set and names a missing file.
func TestRunEval(t *testing.T) {
	path := filepath.Join(t.TempDir(), "eval.jsonl")
	set := `{"text":"STOP","intent":"opt_out","opt_out":true,"language":"en"}` + "\n" +
		`{"text":"2","options":["A","B"],"intent":"interested","option":"B","language":"en"}` + "\n"
	if err := os.WriteFile(path, []byte(set), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := RunEval(rules.New(), path, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Evaluation: 2 replies", "macro average", "opt-out precision 100.0%  recall 100.0%"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
	if err := RunEval(rules.New(), filepath.Join(t.TempDir(), "missing.jsonl"), io.Discard); err == nil {
		t.Error("missing file: no error")
	}
}

func decodeLines(t *testing.T, s string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSuffix(s, "\n"), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("output line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}
