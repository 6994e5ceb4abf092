package rules

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/aibud/aibud/tenants"
)

func TestZZDebug(t *testing.T) {
	text := os.Getenv("TXT")
	if text == "" {
		t.Skip()
	}
	var opts []string
	if o := os.Getenv("OPTS"); o != "" {
		opts = strings.Split(o, ";")
	}
	c := New()
	got, _ := c.Classify(context.Background(), tenants.ClassifyInput{Text: text, Options: opts, Question: os.Getenv("Q")})
	b, _ := json.MarshalIndent(got, "", " ")
	t.Log(string(b))
	s := c.pool.Get().(*state)
	c.tokenize(&s.r, text)
	s.matches = c.phrases.scan(&s.r, s.matches[:0])
	s.used = append(s.used[:0], make([]bool, len(s.r.tokens))...)
	s.hits = s.hits[:0]
	c.prepareOptions(s, opts)
	for _, o := range s.options {
		t.Logf("option %q %v %q pol=%d", o.toks, o.weights, o.joined, o.polarity)
	}
	s.nameHits()
	t.Logf("name hits %+v", s.hits)
	s.indexHits()
	t.Logf("all hits %+v", s.hits)
	for _, tk := range s.r.tokens {
		t.Logf("%q kind=%d num=%d clause=%d cat=%d info=%v", tk.text, tk.kind, tk.num, tk.clause, tk.cat, tk.info != nil)
	}
}
