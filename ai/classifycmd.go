// Package ai holds what the aibud command needs around the classifiers:
// `aibud classify`, which reads replies as JSON lines and writes what the
// configured classifier made of them, and `aibud eval`, which scores a
// classifier on the labelled evaluation set. The classifiers themselves
// live in ai/rules (offline) and ai/gemini.
package ai

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/aibud/aibud/tenants"
)

// maxLineBytes bounds one input line; longer lines are reported as bad
// input and skipped, so a runaway line cannot exhaust memory.
const maxLineBytes = 1 << 20

// classifyLine is one input line of `aibud classify`.
type classifyLine struct {
	Text         *string  `json:"text"`
	Question     string   `json:"question"`
	Options      []string `json:"options"`
	History      []string `json:"history"`
	LanguageHint string   `json:"language_hint"`
}

// classifyResult is one output line of `aibud classify`.
type classifyResult struct {
	Intent     tenants.Intent `json:"intent"`
	Confidence float64        `json:"confidence"`
	Option     string         `json:"option"` // the first option picked, "" for none
	OptOut     bool           `json:"opt_out"`
	Language   string         `json:"language"`
}

// classifyError is the output line for an input line that could not be
// classified; processing goes on with the next line.
type classifyError struct {
	Line  int    `json:"line"`
	Error string `json:"error"`
}

// RunClassify reads JSON lines {"text","question","options":[...]} from in
// and writes one JSON line per input line to out, in order: the intent,
// confidence, first matched option, opt-out flag and language, or
// {"line","error"} for a line that is not valid input. Blank lines are
// skipped. Each line is flushed as soon as it is written, so the command
// works as a filter in a pipe. It stops early only when ctx is done or
// when reading or writing fails.
func RunClassify(ctx context.Context, c tenants.Classifier, in io.Reader, out io.Writer) error {
	r := bufio.NewReaderSize(in, 64*1024)
	w := bufio.NewWriter(out)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for n := 1; ; n++ {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("ai.RunClassify: %w", err)
		}
		line, tooLong, err := readLine(r)
		if err == io.EOF && len(line) == 0 && !tooLong {
			return nil
		}
		if err != nil && err != io.EOF {
			return fmt.Errorf("ai.RunClassify line %d: %w", n, err)
		}
		if len(line) > 0 || tooLong {
			if werr := classifyOne(ctx, c, enc, n, line, tooLong); werr != nil {
				return werr
			}
			if werr := w.Flush(); werr != nil {
				return fmt.Errorf("ai.RunClassify: %w", werr)
			}
		}
		if err == io.EOF {
			return nil
		}
	}
}

// classifyOne classifies line n and writes its result or its error; it
// returns an error only when writing fails or ctx is done.
func classifyOne(ctx context.Context, c tenants.Classifier, enc *json.Encoder, n int, line []byte, tooLong bool) error {
	var res any
	in, problem := parseLine(line, tooLong)
	if problem == "" {
		got, err := c.Classify(ctx, in)
		switch {
		case err != nil && ctx.Err() != nil:
			return fmt.Errorf("ai.RunClassify line %d: %w", n, ctx.Err())
		case err != nil:
			problem = "classify: " + err.Error()
		default:
			res = toResult(got)
		}
	}
	if problem != "" {
		res = classifyError{Line: n, Error: problem}
	}
	if err := enc.Encode(res); err != nil {
		return fmt.Errorf("ai.RunClassify line %d: %w", n, err)
	}
	return nil
}

// parseLine turns one input line into a ClassifyInput, or says what is
// wrong with it in words a user can act on.
func parseLine(line []byte, tooLong bool) (tenants.ClassifyInput, string) {
	if tooLong {
		return tenants.ClassifyInput{}, fmt.Sprintf("line longer than %d bytes", maxLineBytes)
	}
	var l classifyLine
	if err := json.Unmarshal(line, &l); err != nil {
		return tenants.ClassifyInput{}, "invalid JSON: " + err.Error()
	}
	if l.Text == nil {
		return tenants.ClassifyInput{}, `missing "text"`
	}
	return tenants.ClassifyInput{Text: *l.Text, Question: l.Question, Options: l.Options,
		History: l.History, LanguageHint: l.LanguageHint}, ""
}

func toResult(c tenants.Classification) classifyResult {
	res := classifyResult{Intent: c.Intent, Confidence: math.Round(c.Confidence*1000) / 1000,
		OptOut: c.OptOut, Language: c.Language}
	if len(c.Options) > 0 {
		res.Option = c.Options[0]
	}
	return res
}

// readLine reads one line without its end of line ("\n" or "\r\n"). A line
// longer than maxLineBytes is drained and reported with tooLong set.
func readLine(r *bufio.Reader) (line []byte, tooLong bool, err error) {
	var buf []byte
	for {
		chunk, err := r.ReadSlice('\n')
		if !tooLong {
			if len(buf)+len(chunk) > maxLineBytes+2 {
				tooLong, buf = true, nil
			} else {
				buf = append(buf, chunk...)
			}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if tooLong {
			return nil, true, err
		}
		if n := len(buf); n > 0 && buf[n-1] == '\n' {
			buf = buf[:n-1]
			if n > 1 && buf[n-2] == '\r' {
				buf = buf[:n-2]
			}
		}
		return trimSpace(buf), false, err
	}
}

// trimSpace trims ASCII blanks, so that a line of spaces counts as blank.
func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}
