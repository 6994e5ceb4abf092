package httpapi

import "github.com/labstack/echo/v4"

func (s *Server) registerBillingRoutes(e *echo.Echo) {}
