package httpapi

import (
	"net/http"
	"time"

	"github.com/aibud/aibud/tenants"
	"github.com/labstack/echo/v4"
)

// The operator console's JSON, under /api/v1/admin (requireAdmin).

func (s *Server) registerAdminAPI(g *echo.Group) {
	g.GET("/tenants", s.handleAPIAdminTenants)
	g.GET("/tenants/:id", s.handleAPIAdminTenant)
	g.GET("/tenants/:id/audit", s.handleAPIAdminAudit)
	g.POST("/tenants/:id/suspend", s.handleAPIAdminSuspend)
	g.POST("/tenants/:id/resume", s.handleAPIAdminResume)
	g.POST("/tenants/:id/credits", s.handleAPIAdminCredits)
	g.POST("/tenants/:id/plan", s.handleAPIAdminPlan)
	g.POST("/tenants/:id/erase", s.handleAPIAdminErase)
	g.GET("/tenants/:id/export", s.handleAdminTenantExport) // export.go
	g.GET("/shards", s.handleAPIAdminShards)
	g.POST("/shards", s.handleAPIAdminShardAdd)
	g.POST("/shards/:id/drain", s.handleAPIAdminShardDrain)
	g.POST("/shards/:id/undrain", s.handleAPIAdminShardUndrain)
}

type tenantRowJSON struct {
	ID               string               `json:"id"`
	Name             string               `json:"name"`
	OwnerEmail       string               `json:"owner_email"`
	Plan             tenants.PlanID       `json:"plan"`
	Status           tenants.TenantStatus `json:"status"`
	SuspendedReason  string               `json:"suspended_reason,omitempty"`
	Balance          int64                `json:"balance"`
	NumbersConnected int                  `json:"numbers_connected"`
	NumbersTotal     int                  `json:"numbers_total"`
	Sent7            int                  `json:"sent_7d"`
	Sent30           int                  `json:"sent_30d"`
	Unavailable      bool                 `json:"unavailable,omitempty"`
	CreatedAt        time.Time            `json:"created_at"`
}

func toTenantRowJSON(r tenants.TenantRow) tenantRowJSON {
	t := r.Tenant
	return tenantRowJSON{ID: t.ID, Name: t.Name, OwnerEmail: r.OwnerEmail, Plan: t.Plan, Status: t.Status,
		SuspendedReason: t.SuspendedReason, Balance: r.Balance, NumbersConnected: r.Numbers, NumbersTotal: r.NumbersTotal,
		Sent7: r.Sent7, Sent30: r.Sent30, Unavailable: r.Unavailable, CreatedAt: t.CreatedAt}
}

type tenantListJSON struct {
	Tenants []tenantRowJSON `json:"tenants"`
	Total   int             `json:"total"`
	Page    int             `json:"page"`
	Pages   int             `json:"pages"`
	PerPage int             `json:"per_page"`
}

func (s *Server) handleAPIAdminTenants(c echo.Context) error {
	q, err := tenantQuery(c)
	if err != nil {
		return err
	}
	list, err := s.deps.Admin.ListTenants(c.Request().Context(), q)
	if err != nil {
		return err
	}
	out := tenantListJSON{Tenants: []tenantRowJSON{}, Total: list.Total, Page: list.Page, Pages: list.Pages, PerPage: list.PerPage}
	for _, r := range list.Rows {
		out.Tenants = append(out.Tenants, toTenantRowJSON(r))
	}
	return c.JSON(http.StatusOK, out)
}

// numberJSON is a tenant's WhatsApp number without its secrets.
type numberJSON struct {
	ID      string            `json:"id"`
	Name    string            `json:"name"`
	Number  string            `json:"number,omitempty"`
	ShardID string            `json:"shard_id"`
	State   tenants.ConnState `json:"state"`
}

type campaignSummaryJSON struct {
	ID         string             `json:"id"`
	Question   string             `json:"question"`
	Status     tenants.PollStatus `json:"status"`
	Recipients int                `json:"recipients"`
	CreatedAt  time.Time          `json:"created_at"`
}

type tenantDetailJSON struct {
	Tenant     tenants.Tenant        `json:"tenant"`
	OwnerEmail string                `json:"owner_email"`
	Balance    int64                 `json:"balance"`
	Usage      []tenants.DailyUsage  `json:"usage"`
	Ledger     []tenants.LedgerEntry `json:"ledger"`
	NextLedger string                `json:"ledger_next_cursor,omitempty"`
	Numbers    []numberJSON          `json:"numbers"`
	Campaigns  []campaignSummaryJSON `json:"campaigns"`
	Audit      []tenants.AuditEntry  `json:"audit"`
}

func (s *Server) handleAPIAdminTenant(c echo.Context) error {
	d, err := s.deps.Admin.TenantDetail(c.Request().Context(), c.Param("id"), c.QueryParam("ledger"))
	if err != nil {
		return err
	}
	out := tenantDetailJSON{Tenant: d.Tenant, OwnerEmail: d.Owner.Email, Balance: d.Balance, Usage: d.Usage,
		Ledger: d.Ledger.Entries, NextLedger: d.Ledger.NextCursor, Numbers: []numberJSON{}, Campaigns: []campaignSummaryJSON{}, Audit: d.Audit}
	for _, in := range d.Numbers {
		out.Numbers = append(out.Numbers, numberJSON{ID: in.ID, Name: in.Name, Number: in.Number, ShardID: in.ShardID, State: in.State})
	}
	for _, p := range d.Campaigns {
		out.Campaigns = append(out.Campaigns, campaignSummaryJSON{ID: p.ID, Question: p.Question, Status: p.Status, Recipients: p.Recipients, CreatedAt: p.CreatedAt})
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Server) handleAPIAdminAudit(c echo.Context) error {
	page, err := s.deps.Admin.AuditLog(c.Request().Context(), c.Param("id"), c.QueryParam("cursor"), 50)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, auditJSON(page))
}

// reasonRequest is the body of suspend and resume ({"reason"}; resume may
// have no body at all).
type reasonRequest struct {
	Reason string `json:"reason"`
}

func decodeOptionalJSON(c echo.Context, v any) error {
	if c.Request().ContentLength == 0 {
		return nil
	}
	return decodeJSON(c, v)
}

func (s *Server) handleAPIAdminSuspend(c echo.Context) error {
	var req reasonRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	t, err := s.deps.Admin.Suspend(c.Request().Context(), adminOf(c), c.Param("id"), req.Reason)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, t)
}

func (s *Server) handleAPIAdminResume(c echo.Context) error {
	var req reasonRequest
	if err := decodeOptionalJSON(c, &req); err != nil {
		return err
	}
	t, err := s.deps.Admin.Resume(c.Request().Context(), adminOf(c), c.Param("id"), req.Reason)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, t)
}

type creditsRequest struct {
	Delta  int64  `json:"delta"`
	Reason string `json:"reason"`
}

type adminCreditsResponse struct {
	Entry   tenants.LedgerEntry `json:"entry"`
	Balance int64               `json:"balance"`
}

func (s *Server) handleAPIAdminCredits(c echo.Context) error {
	var req creditsRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	e, err := s.deps.Admin.AdjustCredits(c.Request().Context(), adminOf(c), c.Param("id"), req.Delta, req.Reason)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, adminCreditsResponse{Entry: e, Balance: e.BalanceAfter})
}

type planRequest struct {
	Plan   tenants.PlanID `json:"plan"`
	Reason string         `json:"reason"`
}

func (s *Server) handleAPIAdminPlan(c echo.Context) error {
	var req planRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	t, err := s.deps.Admin.SetPlan(c.Request().Context(), adminOf(c), c.Param("id"), req.Plan, req.Reason)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, t)
}

func (s *Server) handleAPIAdminErase(c echo.Context) error {
	var req reasonRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	eraser, err := s.eraser()
	if err != nil {
		return err
	}
	if err := eraser.EraseTenant(c.Request().Context(), adminOf(c), c.Param("id"), req.Reason); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
