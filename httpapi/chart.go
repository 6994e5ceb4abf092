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

// usageChart is the 30-day usage chart: a bar a day of messages sent, with
// the replies and votes that came back drawn over it.
type usageChart struct {
	Days      []usageBar
	Max       int
	Total     tenants.DailyUsage // the sums over the period
	HasData   bool
	Gridlines []gridline
}

type usageBar struct {
	Day                      string
	Label                    string // shown under some bars
	X, SentY, SentH          float64
	BackY, BackH             float64 // replies + votes
	Sent, Back, CreditsSpent int
}

type gridline struct {
	Y     float64
	Label int
}

// Usage chart geometry, in SVG units.
const (
	usageWidth  = 720
	usageHeight = 200
	usageLeft   = 36
	usageBottom = 24
	usageTop    = 12 // room for the top axis label
)

func newUsageChart(days []tenants.DailyUsage) usageChart {
	c := usageChart{}
	for _, d := range days {
		c.Max = max(c.Max, d.Sent, d.Votes+d.Replies)
		c.Total.Sent += d.Sent
		c.Total.Delivered += d.Delivered
		c.Total.Read += d.Read
		c.Total.Failed += d.Failed
		c.Total.Votes += d.Votes
		c.Total.Replies += d.Replies
		c.Total.CreditsSpent += d.CreditsSpent
	}
	c.HasData = c.Max > 0
	top := niceCeil(max(c.Max, 4))
	plot := float64(usageHeight - usageBottom - usageTop)
	step := float64(usageWidth-usageLeft) / float64(max(len(days), 1))
	scale := func(n int) float64 { return plot * float64(n) / float64(top) }
	for i, d := range days {
		b := usageBar{Day: d.Day, X: float64(usageLeft) + float64(i)*step + step*0.15,
			Sent: d.Sent, Back: d.Votes + d.Replies, CreditsSpent: int(d.CreditsSpent)}
		b.SentH, b.BackH = scale(b.Sent), scale(b.Back)
		b.SentY, b.BackY = usageTop+plot-b.SentH, usageTop+plot-b.BackH
		// A date every week, and the last day unless a weekly one is too close.
		if i%7 == 0 || (i == len(days)-1 && i%7 >= 4) {
			b.Label = d.Day[5:] // MM-DD
		}
		c.Days = append(c.Days, b)
	}
	for _, v := range []int{0, top / 2, top} {
		c.Gridlines = append(c.Gridlines, gridline{Y: usageTop + plot - scale(v), Label: v})
	}
	return c
}

// BarWidth is the width of one day's bar.
func (c usageChart) BarWidth() float64 {
	return float64(usageWidth-usageLeft) / float64(max(len(c.Days), 1)) * 0.7
}

// niceCeil rounds n up to 1, 2 or 5 times a power of ten, for axis labels.
func niceCeil(n int) int {
	for p := 1; ; p *= 10 {
		for _, m := range []int{1, 2, 5} {
			if m*p >= n {
				return m * p
			}
		}
	}
}
