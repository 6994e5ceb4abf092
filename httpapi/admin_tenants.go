package httpapi

import (
	"encoding/csv"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aibud/aibud/tenants"
	"github.com/labstack/echo/v4"
)

// Console pages for tenants: the list (search, sort, pages, CSV) and one
// tenant's page with its actions.

func (s *Server) registerAdminTenantPages(g *echo.Group) {
	g.GET("/tenants", s.handleAdminTenantsPage)
	g.GET("/tenants.csv", s.handleAdminTenantsCSV)
	g.GET("/tenants/:id", s.handleAdminTenantPage)
	g.POST("/tenants/:id/suspend", s.handleAdminSuspendForm)
	g.POST("/tenants/:id/resume", s.handleAdminResumeForm)
	g.POST("/tenants/:id/credits", s.handleAdminCreditsForm)
	g.POST("/tenants/:id/plan", s.handleAdminPlanForm)
	g.POST("/tenants/:id/support", s.handleSupportOpen)
	g.POST("/tenants/:id/erase", s.handleAdminEraseForm)
}

// tenantQuery reads the list's query string: q, sort, dir, page, per_page.
func tenantQuery(c echo.Context) (tenants.TenantQuery, error) {
	q := tenants.TenantQuery{Search: c.QueryParam("q"), Sort: c.QueryParam("sort"), Desc: c.QueryParam("dir") == "desc"}
	for name, dst := range map[string]*int{"page": &q.Page, "per_page": &q.PerPage} {
		if v := c.QueryParam(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return q, tenants.Invalid(name, "%s must be a positive whole number.", name)
			}
			*dst = n
		}
	}
	return q, nil
}

// listURL is the tenants list (or its CSV) for a query.
func listURL(path string, q tenants.TenantQuery, page int) string {
	v := url.Values{}
	if q.Search != "" {
		v.Set("q", q.Search)
	}
	v.Set("sort", q.Sort)
	v.Set("dir", map[bool]string{true: "desc", false: "asc"}[q.Desc])
	if page > 1 {
		v.Set("page", strconv.Itoa(page))
	}
	if q.PerPage != tenants.DefaultTenantsPerPage && q.PerPage > 0 {
		v.Set("per_page", strconv.Itoa(q.PerPage))
	}
	return path + "?" + v.Encode()
}

type adminTenantsData struct {
	Admin      tenants.User
	Section    string // the console nav's current item
	List       tenants.TenantList
	SortURL    map[string]string // column → the list sorted by it (the current one reversed)
	SortMark   map[string]string // column → aria-sort value for the current sort
	Prev, Next string
	CSV        string
	Notice     string
}

func (s *Server) handleAdminTenantsPage(c echo.Context) error {
	q, err := tenantQuery(c)
	if err != nil {
		return err
	}
	list, err := s.deps.Admin.ListTenants(c.Request().Context(), q)
	if err != nil {
		return err
	}
	d := adminTenantsData{Admin: adminOf(c), Section: "tenants", List: list, SortURL: map[string]string{}, SortMark: map[string]string{},
		CSV: listURL("/admin/tenants.csv", list.Query, 1), Notice: notices[c.QueryParam("done")]}
	for _, key := range tenants.TenantSorts {
		next := list.Query
		next.Sort, next.Desc = key, key != tenants.SortName && key != tenants.SortOwner
		if key == list.Query.Sort {
			next.Desc = !list.Query.Desc
			d.SortMark[key] = map[bool]string{true: "descending", false: "ascending"}[list.Query.Desc]
		}
		d.SortURL[key] = listURL("/admin/tenants", next, 1)
	}
	if list.Page > 1 {
		d.Prev = listURL("/admin/tenants", list.Query, list.Page-1)
	}
	if list.Page < list.Pages {
		d.Next = listURL("/admin/tenants", list.Query, list.Page+1)
	}
	return s.render(c, "admin_tenants", pageData{Title: "Tenants", Nav: "admin", Data: d})
}

// handleAdminTenantsCSV exports every tenant that matches the query.
func (s *Server) handleAdminTenantsCSV(c echo.Context) error {
	q, err := tenantQuery(c)
	if err != nil {
		return err
	}
	q.All = true
	list, err := s.deps.Admin.ListTenants(c.Request().Context(), q)
	if err != nil {
		return err
	}
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, "text/csv; charset=utf-8")
	h.Set(echo.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="aibud-tenants-%s.csv"`, s.cfg.Now().UTC().Format("2006-01-02")))
	c.Response().WriteHeader(http.StatusOK)
	w := csv.NewWriter(c.Response())
	_ = w.Write([]string{"id", "name", "owner_email", "plan", "status", "suspended_reason", "balance", "numbers_connected", "numbers_total", "sent_7d", "sent_30d", "created_at"})
	for _, r := range list.Rows {
		t := r.Tenant
		_ = w.Write([]string{t.ID, csvCell(t.Name), csvCell(r.OwnerEmail), string(t.Plan), string(t.Status), csvCell(t.SuspendedReason),
			strconv.FormatInt(r.Balance, 10), strconv.Itoa(r.Numbers), strconv.Itoa(r.NumbersTotal),
			strconv.Itoa(r.Sent7), strconv.Itoa(r.Sent30), t.CreatedAt.UTC().Format(time.RFC3339)})
	}
	w.Flush()
	return w.Error()
}

// csvCell keeps a spreadsheet from reading text as a formula.
func csvCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

type adminTenantData struct {
	Admin   tenants.User
	Section string
	Detail  tenants.TenantDetail
	Usage   usageChart
	Plans   []tenants.Plan
	Notice  string
}

// notices are the confirmations shown after an action (?done=…).
var notices = map[string]string{
	"suspended": "The tenant is suspended: sending and scheduling are paused, and its users see why.",
	"resumed":   "The tenant is active again.",
	"credits":   "The credits are on the ledger.",
	"plan":      "The plan is changed.",
	"erased":    "The tenant is erased. Its access log keeps the record of it (GET /api/v1/admin/tenants/{id}/audit).",
}

func (s *Server) handleAdminTenantPage(c echo.Context) error {
	return s.renderTenantPage(c, http.StatusOK, pageData{})
}

// renderTenantPage draws a tenant's page; pd carries an error to show.
func (s *Server) renderTenantPage(c echo.Context, status int, pd pageData) error {
	d, err := s.deps.Admin.TenantDetail(c.Request().Context(), c.Param("id"), c.QueryParam("ledger"))
	if err != nil {
		return err
	}
	pd.Title, pd.Nav, pd.Ledger, pd.Cursor = d.Tenant.Name, "admin", d.Ledger.Entries, d.Ledger.NextCursor
	pd.Data = adminTenantData{Admin: adminOf(c), Section: "tenants", Detail: d, Usage: newUsageChart(d.Usage), Plans: tenants.Plans(),
		Notice: notices[c.QueryParam("done")]}
	return s.renderStatus(c, status, "admin_tenant", pd)
}

// tenantPageWithError shows a refused action on the tenant's page, with
// the action's form as it was typed and its field marked ("suspend.reason").
func (s *Server) tenantPageWithError(c echo.Context, action string, cause error) error {
	detail, status := s.describe(cause, c)
	if status >= 500 || status == http.StatusNotFound {
		return cause
	}
	form := map[string]string{"action": action}
	for _, k := range []string{"reason", "amount", "direction", "plan", "confirm"} {
		form[k] = c.FormValue(k)
	}
	field := ""
	if detail.Field != "" {
		field = action + "." + detail.Field
	}
	return s.renderTenantPage(c, status, pageData{Error: detail.Message, Field: field, Form: form})
}

func (s *Server) tenantDone(c echo.Context, what string) error {
	return c.Redirect(http.StatusSeeOther, "/admin/tenants/"+url.PathEscape(c.Param("id"))+"?done="+what)
}

func (s *Server) handleAdminSuspendForm(c echo.Context) error {
	if _, err := s.deps.Admin.Suspend(c.Request().Context(), adminOf(c), c.Param("id"), c.FormValue("reason")); err != nil {
		return s.tenantPageWithError(c, "suspend", err)
	}
	return s.tenantDone(c, "suspended")
}

func (s *Server) handleAdminResumeForm(c echo.Context) error {
	if _, err := s.deps.Admin.Resume(c.Request().Context(), adminOf(c), c.Param("id"), c.FormValue("reason")); err != nil {
		return s.tenantPageWithError(c, "resume", err)
	}
	return s.tenantDone(c, "resumed")
}

func (s *Server) handleAdminCreditsForm(c echo.Context) error {
	amount, err := strconv.ParseInt(strings.TrimSpace(c.FormValue("amount")), 10, 64)
	if err != nil || amount <= 0 {
		return s.tenantPageWithError(c, "credits", tenants.Invalid("amount", "Amount must be a positive whole number of credits."))
	}
	if c.FormValue("direction") == "deduct" {
		amount = -amount
	}
	if _, err := s.deps.Admin.AdjustCredits(c.Request().Context(), adminOf(c), c.Param("id"), amount, c.FormValue("reason")); err != nil {
		return s.tenantPageWithError(c, "credits", err)
	}
	return s.tenantDone(c, "credits")
}

func (s *Server) handleAdminPlanForm(c echo.Context) error {
	plan := tenants.PlanID(c.FormValue("plan"))
	if _, err := s.deps.Admin.SetPlan(c.Request().Context(), adminOf(c), c.Param("id"), plan, c.FormValue("reason")); err != nil {
		return s.tenantPageWithError(c, "plan", err)
	}
	return s.tenantDone(c, "plan")
}

// handleAdminEraseForm erases a tenant once the operator has typed its id
// and a reason; the tombstone stays in its access log.
func (s *Server) handleAdminEraseForm(c echo.Context) error {
	id := c.Param("id")
	eraser, err := s.eraser()
	if err == nil && strings.TrimSpace(c.FormValue("confirm")) != id {
		err = tenants.Invalid("confirm", "Type the tenant's id to confirm the erase.")
	}
	if err == nil {
		err = eraser.EraseTenant(c.Request().Context(), adminOf(c), id, c.FormValue("reason"))
	}
	if err != nil {
		return s.tenantPageWithError(c, "erase", err)
	}
	return c.Redirect(http.StatusSeeOther, "/admin/tenants?done=erased")
}
