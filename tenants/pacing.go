package tenants

import "time"

// Pacing protects a WhatsApp number from bans: sends from one number are
// spaced by Interval plus up to Jitter, at most DailyCap a day (less while a
// new number warms up), never in quiet hours. It applies per number, never
// per tenant. A zero value of each field turns that rule off.
type Pacing struct {
	Interval   time.Duration
	Jitter     time.Duration
	DailyCap   int
	Warmup     bool
	QuietStart int // hour of day, tenant time zone; QuietStart == QuietEnd means no quiet hours
	QuietEnd   int
}

// DefaultPacing is what a number gets unless the operator says otherwise.
var DefaultPacing = Pacing{Interval: 5 * time.Second, Jitter: 3 * time.Second, DailyCap: 250, Warmup: true, QuietStart: 21, QuietEnd: 8}

// warmupCaps is the daily cap of a number in its first week after linking,
// the ramp anti-ban guides recommend for cold numbers.
var warmupCaps = [7]int{20, 35, 50, 80, 120, 170, 220}

// PaceCursor is a number's pacing state, stored with the number.
type PaceCursor struct {
	NextAt   time.Time `json:"next_at"`
	Day      string    `json:"day"` // tenant-local date the count is for
	DayCount int       `json:"day_count"`
}

// Plan returns send times for n more messages from a number, none before
// earliest, and the cursor after them. connectedAt starts the warm-up; rnd
// returns numbers in [0,1) for jitter.
func (p Pacing) Plan(cur PaceCursor, earliest time.Time, n int, connectedAt time.Time, loc *time.Location, rnd func() float64) ([]time.Time, PaceCursor) {
	due := make([]time.Time, n)
	for i := range n {
		t := cur.NextAt
		if t.Before(earliest) {
			t = earliest
		}
		for range 400 { // bounded: a cap of at least 1 a day is met within a year
			t = p.afterQuiet(t.In(loc))
			day := t.Format(time.DateOnly)
			if day != cur.Day {
				cur.Day, cur.DayCount = day, 0
			}
			if limit := p.capOn(t, connectedAt); limit == 0 || cur.DayCount < limit {
				break
			}
			y, m, d := t.Date()
			t = time.Date(y, m, d+1, 0, 0, 0, 0, loc)
		}
		due[i] = t.UTC()
		cur.DayCount++
		gap := p.Interval
		if p.Jitter > 0 {
			gap += time.Duration(rnd() * float64(p.Jitter))
		}
		cur.NextAt = t.Add(gap).UTC()
	}
	return due, cur
}

// capOn is the daily cap on t's day; 0 means none.
func (p Pacing) capOn(t, connectedAt time.Time) int {
	limit := p.DailyCap
	if p.Warmup && !connectedAt.IsZero() {
		if age := int(t.Sub(connectedAt) / (24 * time.Hour)); age >= 0 && age < len(warmupCaps) {
			if limit == 0 || warmupCaps[age] < limit {
				limit = warmupCaps[age]
			}
		}
	}
	return limit
}

// InQuiet reports whether t (in the tenant's zone) falls in quiet hours.
func (p Pacing) InQuiet(t time.Time) bool {
	if p.QuietStart == p.QuietEnd {
		return false
	}
	h := t.Hour()
	if p.QuietStart < p.QuietEnd {
		return h >= p.QuietStart && h < p.QuietEnd
	}
	return h >= p.QuietStart || h < p.QuietEnd
}

// afterQuiet moves t to the end of the quiet hours it falls in.
func (p Pacing) afterQuiet(t time.Time) time.Time {
	if !p.InQuiet(t) {
		return t
	}
	y, m, d := t.Date()
	end := time.Date(y, m, d, p.QuietEnd, 0, 0, 0, t.Location())
	if !end.After(t) {
		end = time.Date(y, m, d+1, p.QuietEnd, 0, 0, 0, t.Location())
	}
	return end
}
