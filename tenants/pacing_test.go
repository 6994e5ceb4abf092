package tenants

import (
	"testing"
	"time"
)

func fixedRand(v float64) func() float64 { return func() float64 { return v } }

func TestPacingInterval(t *testing.T) {
	p := Pacing{Interval: 5 * time.Second}
	start := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	due, cur := p.Plan(PaceCursor{}, start, 3, time.Time{}, time.UTC, fixedRand(0))
	for i, d := range due {
		if want := start.Add(time.Duration(i) * 5 * time.Second); !d.Equal(want) {
			t.Fatalf("due[%d] = %v, want %v", i, d, want)
		}
	}
	// A second campaign on the same number continues after the first.
	due2, _ := p.Plan(cur, start, 1, time.Time{}, time.UTC, fixedRand(0))
	if want := start.Add(15 * time.Second); !due2[0].Equal(want) {
		t.Fatalf("next campaign starts %v, want %v", due2[0], want)
	}
}

func TestPacingJitterBounds(t *testing.T) {
	p := Pacing{Interval: 5 * time.Second, Jitter: 3 * time.Second}
	start := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	for _, r := range []float64{0, 0.5, 0.999} {
		due, _ := p.Plan(PaceCursor{}, start, 2, time.Time{}, time.UTC, fixedRand(r))
		gap := due[1].Sub(due[0])
		if gap < 5*time.Second || gap >= 8*time.Second {
			t.Fatalf("rnd %v: gap %v outside [5s, 8s)", r, gap)
		}
	}
}

func TestPacingDailyCapAndQuietHours(t *testing.T) {
	loc, err := time.LoadLocation("America/Sao_Paulo")
	if err != nil {
		t.Skip("no tz database")
	}
	p := Pacing{Interval: time.Minute, DailyCap: 3, QuietStart: 21, QuietEnd: 8}
	start := time.Date(2026, 3, 2, 20, 58, 0, 0, loc) // two minutes before quiet hours
	due, _ := p.Plan(PaceCursor{}, start, 5, time.Time{}, loc, fixedRand(0))
	want := []time.Time{
		time.Date(2026, 3, 2, 20, 58, 0, 0, loc),
		time.Date(2026, 3, 2, 20, 59, 0, 0, loc),
		time.Date(2026, 3, 3, 8, 0, 0, 0, loc), // quiet from 21:00: next morning
		time.Date(2026, 3, 3, 8, 1, 0, 0, loc),
		time.Date(2026, 3, 3, 8, 2, 0, 0, loc),
	}
	for i := range want {
		if !due[i].Equal(want[i]) {
			t.Fatalf("due[%d] = %v, want %v", i, due[i].In(loc), want[i])
		}
	}
	// The cap of 3 a day pushes the 4th message of a day to the next morning.
	start = time.Date(2026, 3, 4, 9, 0, 0, 0, loc)
	due, _ = p.Plan(PaceCursor{}, start, 4, time.Time{}, loc, fixedRand(0))
	if w := time.Date(2026, 3, 5, 8, 0, 0, 0, loc); !due[3].Equal(w) {
		t.Fatalf("4th message = %v, want %v", due[3].In(loc), w)
	}
}

func TestPacingWarmup(t *testing.T) {
	p := Pacing{DailyCap: 250, Warmup: true}
	connected := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	start := time.Date(2026, 3, 1, 1, 0, 0, 0, time.UTC)
	due, _ := p.Plan(PaceCursor{}, start, 21, connected, time.UTC, fixedRand(0))
	if due[19].Day() != 1 || due[20].Day() != 2 {
		t.Fatalf("day 1 of warm-up allowed %v messages", due[20])
	}
	// After a week the plain cap applies.
	start = connected.Add(8 * 24 * time.Hour)
	due, _ = p.Plan(PaceCursor{}, start, 250, connected, time.UTC, fixedRand(0))
	if due[249].Day() != start.Day() {
		t.Fatalf("after warm-up, 250 did not fit in a day")
	}
	if p.capOn(connected.Add(3*24*time.Hour+time.Hour), connected) != warmupCaps[3] {
		t.Fatal("day 4 cap wrong")
	}
}

func TestPacingOff(t *testing.T) {
	start := time.Date(2026, 3, 2, 23, 0, 0, 0, time.UTC)
	due, _ := Pacing{}.Plan(PaceCursor{}, start, 1000, time.Now(), time.UTC, fixedRand(0.5))
	if !due[999].Equal(start) {
		t.Fatalf("with pacing off every message is due at once, got %v", due[999])
	}
}
