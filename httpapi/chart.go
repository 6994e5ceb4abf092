package httpapi

import (
	"fmt"

	"github.com/aibud/aibud/tenants"
)

// chart is a horizontal bar chart of poll results, drawn as server-side
// SVG: no script, readable by screen readers through its table twin.
type chart struct {
	Bars   []bar
	Height int
	Total  int
}

type bar struct {
	Label   string
	Votes   int
	Percent int
	Y       int // top of the bar
	Width   float64
	Colour  string
}

// Chart geometry, in SVG units (the SVG scales to its container).
const (
	chartWidth  = 600
	barLeft     = 0
	barMaxWidth = 520
	barHeight   = 22
	barGap      = 34
)

var barColours = []string{"#128c7e", "#25d366", "#34b7f1", "#075e54", "#f2a541", "#e4572e", "#7e57c2", "#8d6e63", "#26a69a", "#5c6bc0"}

func newChart(results []tenants.OptionResult) chart {
	c := chart{}
	for _, r := range results {
		c.Total += r.Votes
	}
	top := 0
	for _, r := range results {
		top = max(top, r.Votes)
	}
	for i, r := range results {
		b := bar{Label: r.Option, Votes: r.Votes, Y: i*(barHeight+barGap) + 20, Colour: barColours[i%len(barColours)]}
		if c.Total > 0 {
			b.Percent = (100*r.Votes + c.Total/2) / c.Total
		}
		if top > 0 {
			b.Width = float64(barMaxWidth) * float64(r.Votes) / float64(top)
		}
		if r.Votes > 0 && b.Width < 3 {
			b.Width = 3
		}
		c.Bars = append(c.Bars, b)
	}
	c.Height = len(results)*(barHeight+barGap) + 8
	return c
}

// ViewBox is the SVG viewBox attribute.
func (c chart) ViewBox() string { return fmt.Sprintf("0 0 %d %d", chartWidth, c.Height) }
