package tenants

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"sync"
)

// Sort keys of the tenants list.
const (
	SortCreated = "created"
	SortName    = "name"
	SortOwner   = "owner"
	SortPlan    = "plan"
	SortStatus  = "status"
	SortBalance = "balance"
	SortNumbers = "numbers"
	SortSent7   = "sent7"
	SortSent30  = "sent30"
)

// TenantSorts lists the sort keys, in the order the console offers them.
var TenantSorts = []string{SortCreated, SortName, SortOwner, SortPlan, SortStatus, SortBalance, SortNumbers, SortSent7, SortSent30}

// Pages of the tenants list.
const (
	DefaultTenantsPerPage = 50
	MaxTenantsPerPage     = 500
)

// TenantQuery selects, orders and pages the tenants list.
type TenantQuery struct {
	Search  string // a substring of the id, name or owner email, any case
	Sort    string // one of TenantSorts; default created
	Desc    bool
	Page    int  // from 1
	PerPage int  // default DefaultTenantsPerPage
	All     bool // every match on one page (the CSV export)
}

// TenantRow is one tenant with the figures the operator watches.
type TenantRow struct {
	Tenant       Tenant `json:"tenant"`
	OwnerEmail   string `json:"owner_email"`
	Balance      int64  `json:"balance"`
	Numbers      int    `json:"numbers_connected"`
	NumbersTotal int    `json:"numbers_total"`
	Sent7        int    `json:"sent_7d"`
	Sent30       int    `json:"sent_30d"`
	// Unavailable is set when the tenant's database could not be read;
	// the figures are then zeros (the cause is logged).
	Unavailable bool `json:"unavailable,omitempty"`
}

// TenantList is one page of the tenants list.
type TenantList struct {
	Rows    []TenantRow
	Total   int // matches over all pages
	Page    int
	Pages   int
	PerPage int
	Query   TenantQuery
}

// normalise checks a query and fills its defaults.
func (q TenantQuery) normalise() (TenantQuery, error) {
	q.Search = strings.ToLower(strings.TrimSpace(q.Search))
	if len(q.Search) > 200 {
		return q, Invalid("q", "Search must be at most 200 characters.")
	}
	if q.Sort == "" {
		q.Sort, q.Desc = SortCreated, true
	} else if !slices.Contains(TenantSorts, q.Sort) {
		return q, Invalid("sort", "Sort must be one of %s.", strings.Join(TenantSorts, ", "))
	}
	if q.PerPage <= 0 {
		q.PerPage = DefaultTenantsPerPage
	}
	if q.PerPage > MaxTenantsPerPage {
		return q, Invalid("per_page", "At most %d tenants per page.", MaxTenantsPerPage)
	}
	q.Page = max(q.Page, 1)
	return q, nil
}

// needsFigures reports whether sorting needs every tenant's database.
func (q TenantQuery) needsFigures() bool {
	switch q.Sort {
	case SortBalance, SortNumbers, SortSent7, SortSent30:
		return true
	}
	return false
}

// ListTenants returns the tenants that match the query with their owner,
// balance, connected numbers and sends in the last 7 and 30 days (daily
// snapshots plus today counted live). The figures live in each tenant's
// database, so they are read only for the page shown, unless the sort
// needs them for every match.
func (a *Admin) ListTenants(ctx context.Context, q TenantQuery) (TenantList, error) {
	q, err := q.normalise()
	if err != nil {
		return TenantList{}, err
	}
	all, err := a.Catalog.ListTenants(ctx)
	if err != nil {
		return TenantList{}, err
	}
	owners, err := a.owners(ctx)
	if err != nil {
		return TenantList{}, err
	}
	var rows []TenantRow
	for _, t := range all {
		r := TenantRow{Tenant: t, OwnerEmail: owners[t.ID].Email}
		if q.Search == "" || strings.Contains(strings.ToLower(t.ID+"\n"+t.Name+"\n"+r.OwnerEmail), q.Search) {
			rows = append(rows, r)
		}
	}
	if q.needsFigures() {
		a.fillFigures(ctx, rows)
	}
	sortRows(rows, q.Sort, q.Desc)
	list := TenantList{Total: len(rows), Page: q.Page, PerPage: q.PerPage, Query: q}
	if q.All {
		list.PerPage, list.Page = max(len(rows), 1), 1
	}
	list.Pages = max(1, (len(rows)+list.PerPage-1)/list.PerPage)
	from := min((list.Page-1)*list.PerPage, len(rows))
	list.Rows = rows[from:min(from+list.PerPage, len(rows))]
	if !q.needsFigures() {
		a.fillFigures(ctx, list.Rows)
	}
	return list, ctx.Err()
}

// figureWorkers bounds how many tenant databases the list reads at once.
const figureWorkers = 4

// fillFigures reads each row's figures from its tenant's database.
func (a *Admin) fillFigures(ctx context.Context, rows []TenantRow) {
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(figureWorkers, len(rows)) {
		wg.Go(func() {
			for i := range next {
				a.fillRow(ctx, &rows[i])
			}
		})
	}
	for i := range rows {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
}

func (a *Admin) fillRow(ctx context.Context, r *TenantRow) {
	err := func() error {
		var err error
		if r.Balance, err = a.Credits.Balance(ctx, r.Tenant.ID); err != nil {
			return err
		}
		ins, err := a.Instances.Instances(ctx, r.Tenant.ID)
		if err != nil {
			return err
		}
		r.NumbersTotal, r.Numbers = len(ins), connected(ins)
		if a.Usage == nil {
			return nil
		}
		days, err := a.Usage.Days(ctx, r.Tenant, 30)
		if err != nil {
			return err
		}
		for i, d := range days {
			r.Sent30 += d.Sent
			if i >= len(days)-7 {
				r.Sent7 += d.Sent
			}
		}
		return nil
	}()
	if err != nil {
		r.Unavailable = true
		a.Logger.Warn("tenant figures unavailable", "tenant", r.Tenant.ID, "err", err)
	}
}

func connected(ins []Instance) int {
	n := 0
	for _, in := range ins {
		if in.State == StateOpen {
			n++
		}
	}
	return n
}

// sortRows orders rows by key; ties go newest first, by id.
func sortRows(rows []TenantRow, key string, desc bool) {
	by := map[string]func(a, b TenantRow) int{
		SortCreated: func(a, b TenantRow) int { return a.Tenant.CreatedAt.Compare(b.Tenant.CreatedAt) },
		SortName: func(a, b TenantRow) int {
			return cmp.Compare(strings.ToLower(a.Tenant.Name), strings.ToLower(b.Tenant.Name))
		},
		SortOwner:   func(a, b TenantRow) int { return cmp.Compare(a.OwnerEmail, b.OwnerEmail) },
		SortPlan:    func(a, b TenantRow) int { return cmp.Compare(a.Tenant.Plan, b.Tenant.Plan) },
		SortStatus:  func(a, b TenantRow) int { return cmp.Compare(a.Tenant.Status, b.Tenant.Status) },
		SortBalance: func(a, b TenantRow) int { return cmp.Compare(a.Balance, b.Balance) },
		SortNumbers: func(a, b TenantRow) int { return cmp.Compare(a.Numbers, b.Numbers) },
		SortSent7:   func(a, b TenantRow) int { return cmp.Compare(a.Sent7, b.Sent7) },
		SortSent30:  func(a, b TenantRow) int { return cmp.Compare(a.Sent30, b.Sent30) },
	}[key]
	slices.SortStableFunc(rows, func(x, y TenantRow) int {
		c := by(x, y)
		if desc {
			c = -c
		}
		if c == 0 {
			c = cmp.Compare(y.Tenant.ID, x.Tenant.ID)
		}
		return c
	})
}

// TenantDetail is everything the tenant page shows.
type TenantDetail struct {
	Tenant    Tenant
	Owner     User
	Plan      Plan
	Balance   int64
	Usage     []DailyUsage // the last 30 days, oldest first
	Ledger    LedgerPage
	Numbers   []Instance
	Campaigns []Poll // newest first
	Audit     []AuditEntry
}

// Recent items on the tenant page.
const (
	recentCampaigns = 10
	recentAudit     = 20
	ledgerPageSize  = 50
)

// TenantDetail gathers a tenant's page; ledgerCursor pages its ledger.
func (a *Admin) TenantDetail(ctx context.Context, tenantID, ledgerCursor string) (TenantDetail, error) {
	t, err := a.Catalog.Tenant(ctx, tenantID)
	if err != nil {
		return TenantDetail{}, err
	}
	d := TenantDetail{Tenant: t}
	d.Plan, _ = LookupPlan(t.Plan)
	if d.Owner, err = a.owner(ctx, t.ID); err != nil {
		return d, err
	}
	if d.Balance, err = a.Credits.Balance(ctx, t.ID); err != nil {
		return d, err
	}
	if a.Usage != nil {
		if d.Usage, err = a.Usage.Days(ctx, t, 30); err != nil {
			return d, err
		}
	}
	if d.Ledger, err = a.Credits.Ledger(ctx, t.ID, ledgerCursor, ledgerPageSize); err != nil {
		return d, err
	}
	if d.Numbers, err = a.Instances.Instances(ctx, t.ID); err != nil {
		return d, err
	}
	polls, err := a.Polls.Polls(ctx, t.ID)
	if err != nil {
		return d, err
	}
	slices.SortFunc(polls, func(x, y Poll) int { return y.CreatedAt.Compare(x.CreatedAt) })
	d.Campaigns = polls[:min(len(polls), recentCampaigns)]
	page, err := a.Audit.AuditEntries(ctx, t.ID, "", recentAudit)
	d.Audit = page.Entries
	return d, err
}
