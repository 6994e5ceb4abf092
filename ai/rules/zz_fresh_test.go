package rules

import (
	"os"
	"strings"
	"testing"
)

func TestZZFresh(t *testing.T) {
	f, err := os.Open(os.Getenv("FRESH"))
	if err != nil {
		t.Skip()
	}
	defer f.Close()
	rep, err := Evaluate(New(), f)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	rep.Print(&out)
	t.Log("\n" + out.String())
}
