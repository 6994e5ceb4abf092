package httpapi

import (
	"net/http"
	"strconv"

	"github.com/aibud/aibud/tenants"
	"github.com/labstack/echo/v4"
)

func (s *Server) registerCreditRoutes(e *echo.Echo) {
	e.GET("/api/v1/credits", s.handleAPICredits, s.requireAPI)
	e.GET("/app/credits", s.handleCreditsPage, s.requirePage)
}

type creditsResponse struct {
	Balance    int64                 `json:"balance"`
	Ledger     []tenants.LedgerEntry `json:"ledger"`
	NextCursor string                `json:"next_cursor"`
}

// ledgerQuery reads limit (1–200, default 50) and cursor from the query.
func ledgerQuery(c echo.Context) (string, int, error) {
	limit := 50
	if v := c.QueryParam("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 200 {
			return "", 0, tenants.Invalid("limit", "limit must be a whole number from 1 to 200.")
		}
		limit = n
	}
	return c.QueryParam("cursor"), limit, nil
}

func (s *Server) handleAPICredits(c echo.Context) error {
	cursor, limit, err := ledgerQuery(c)
	if err != nil {
		return err
	}
	tid := accountOf(c).Tenant.ID
	ctx := c.Request().Context()
	page, err := s.deps.Credits.Ledger(ctx, tid, cursor, limit)
	if err != nil {
		return err
	}
	bal, err := s.deps.Credits.Balance(ctx, tid)
	if err != nil {
		return err
	}
	if page.Entries == nil {
		page.Entries = []tenants.LedgerEntry{}
	}
	return c.JSON(http.StatusOK, creditsResponse{Balance: bal, Ledger: page.Entries, NextCursor: page.NextCursor})
}

// handleCreditsPage shows the ledger 25 entries at a time; "Show more" asks
// htmx for the next rows only.
func (s *Server) handleCreditsPage(c echo.Context) error {
	cursor, _, err := ledgerQuery(c)
	if err != nil {
		return err
	}
	tid := accountOf(c).Tenant.ID
	ctx := c.Request().Context()
	page, err := s.deps.Credits.Ledger(ctx, tid, cursor, 25)
	if err != nil {
		return err
	}
	d := pageData{Title: "Credits", Nav: "credits", Ledger: page.Entries, Cursor: page.NextCursor}
	if c.Request().Header.Get("HX-Request") == "true" && cursor != "" {
		return s.renderFragment(c, "credits", "ledger-rows", d)
	}
	if d.Credits, err = s.deps.Credits.Balance(ctx, tid); err != nil {
		return err
	}
	d.Plan, _ = tenants.LookupPlan(accountOf(c).Tenant.Plan)
	return s.render(c, "credits", d)
}

func itoa(n int) string { return strconv.Itoa(n) }
