package httpapi

import (
	"net/http"
	"strconv"

	"github.com/aibud/aibud/tenants"
	"github.com/labstack/echo/v4"
)

func (s *Server) registerUsageRoutes(e *echo.Echo) {
	e.GET("/api/v1/usage", s.handleAPIUsage, s.requireAPI)
}

// handleAPIUsage answers the last days of usage, oldest first.
func (s *Server) handleAPIUsage(c echo.Context) error {
	days := 30
	if v := c.QueryParam("days"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return tenants.Invalid("days", "days must be a whole number from 1 to 366.")
		}
		days = n
	}
	out, err := s.deps.Usage.Days(c.Request().Context(), accountOf(c).Tenant, days)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}
