package httpapi

import (
	"github.com/aibud/aibud/tenants"
	"github.com/labstack/echo/v4"
)

// apiKeyPrefix starts every tenant API key.
const apiKeyPrefix = "ak_"

func (s *Server) registerAPIKeyRoutes(e *echo.Echo) {}

func (s *Server) authenticateKey(c echo.Context, key string) (tenants.Account, error) {
	return tenants.Account{}, tenants.Errorf(tenants.EUNAUTHORIZED, "API keys are not enabled.")
}
