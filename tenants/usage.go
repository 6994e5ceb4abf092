package tenants

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// DailyUsage is what a tenant did on one day (in its time zone).
type DailyUsage struct {
	TenantID        string `json:"tenant_id"`
	Day             string `json:"day"` // YYYY-MM-DD
	Sent            int    `json:"sent"`
	Delivered       int    `json:"delivered"`
	Read            int    `json:"read"`
	Failed          int    `json:"failed"`
	Votes           int    `json:"votes"`
	Replies         int    `json:"replies"`
	Classifications int    `json:"classifications"`
	AITokens        int    `json:"ai_tokens"`     // Gemini tokens used to classify that day's replies
	CreditsSpent    int64  `json:"credits_spent"` // reserved minus refunded that day
	Balance         int64  `json:"balance"`       // at the end of the day
}

// UsageCounter counts a tenant's activity in a time range from its records.
type UsageCounter interface {
	CountUsage(ctx context.Context, tenantID string, from, to time.Time) (DailyUsage, error)
}

// UsageSnapshots keeps the daily snapshots in the catalog.
type UsageSnapshots interface {
	PutUsage(ctx context.Context, u DailyUsage) error
	Usage(ctx context.Context, tenantID string, fromDay, toDay string) ([]DailyUsage, error)
	LastUsageDay(ctx context.Context, tenantID string) (string, error) // "" when none
}

// Usage is the daily-usage use case: snapshots written by a daily task,
// read by the billing page and the API.
type Usage struct {
	Catalog   Catalog
	Counter   UsageCounter
	Snapshots UsageSnapshots
	Now       func() time.Time
	Logger    *slog.Logger
}

// maxBackfill bounds how many missed days one snapshot run fills.
const maxBackfill = 31

// Snapshot writes the snapshots of every complete day since the tenant's
// last one (at most a month back), so a day missed while no scheduler ran
// is filled on the next run. Writing a day again gives the same record.
func (u *Usage) Snapshot(ctx context.Context, tenantID string) (int, error) {
	t, err := u.Catalog.Tenant(ctx, tenantID)
	if err != nil {
		return 0, err
	}
	loc := t.Location()
	today := midnight(u.Now().In(loc))
	start := today.AddDate(0, 0, -maxBackfill)
	if created := midnight(t.CreatedAt.In(loc)); created.After(start) {
		start = created
	}
	last, err := u.Snapshots.LastUsageDay(ctx, tenantID)
	if err != nil {
		return 0, err
	}
	if last != "" {
		if d, err := time.ParseInLocation(time.DateOnly, last, loc); err == nil && !d.Before(start) {
			start = d.AddDate(0, 0, 1)
		}
	}
	n := 0
	for day := start; day.Before(today); day = day.AddDate(0, 0, 1) {
		du, err := u.Counter.CountUsage(ctx, tenantID, day, day.AddDate(0, 0, 1))
		if err != nil {
			return n, fmt.Errorf("tenants.Snapshot %s %s: %w", tenantID, day.Format(time.DateOnly), err)
		}
		du.TenantID, du.Day = tenantID, day.Format(time.DateOnly)
		if err := u.Snapshots.PutUsage(ctx, du); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// Days returns the last n days of usage, oldest first, today included (its
// figures counted live); days without activity are zeros.
func (u *Usage) Days(ctx context.Context, t Tenant, n int) ([]DailyUsage, error) {
	if n < 1 || n > 366 {
		return nil, Invalid("days", "days must be 1 to 366.")
	}
	loc := t.Location()
	today := midnight(u.Now().In(loc))
	first := today.AddDate(0, 0, -(n - 1))
	stored, err := u.Snapshots.Usage(ctx, t.ID, first.Format(time.DateOnly), today.Format(time.DateOnly))
	if err != nil {
		return nil, err
	}
	byDay := map[string]DailyUsage{}
	for _, d := range stored {
		byDay[d.Day] = d
	}
	live, err := u.Counter.CountUsage(ctx, t.ID, today, today.AddDate(0, 0, 1))
	if err != nil {
		return nil, err
	}
	live.TenantID, live.Day = t.ID, today.Format(time.DateOnly)
	byDay[live.Day] = live
	out := make([]DailyUsage, 0, n)
	for day := first; !day.After(today); day = day.AddDate(0, 0, 1) {
		key := day.Format(time.DateOnly)
		d, ok := byDay[key]
		if !ok {
			d = DailyUsage{TenantID: t.ID, Day: key}
		}
		out = append(out, d)
	}
	return out, nil
}

func midnight(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, t.Location())
}
