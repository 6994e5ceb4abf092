package httpapi

import (
	"net/http"
	"time"

	"github.com/aibud/aibud/tenants"
	"github.com/labstack/echo/v4"
)

// WhatsApp numbers ("instances"): the JSON API. The pages are in
// settings.go and the gateway webhooks in webhooks.go.

func (s *Server) registerNumberRoutes(e *echo.Echo) {
	// Middleware per route, not per group: a group middleware makes Echo
	// answer 404 for every method under the prefix, hiding 405s.
	g := e.Group("/api/v1/instances")
	g.POST("", s.handleAPIInstanceCreate, s.requireAPI)
	g.GET("", s.handleAPIInstanceList, s.requireAPI)
	g.GET("/:id", s.handleAPIInstanceGet, s.requireAPI)
	g.GET("/:id/qr", s.handleAPIInstanceQR, s.requireAPI)
	g.POST("/:id/logout", s.handleAPIInstanceLogout, s.requireAPI)
	g.DELETE("/:id", s.handleAPIInstanceDelete, s.requireAPI)
}

type instanceJSON struct {
	ID          string            `json:"id"`
	Name        string            `json:"name"`
	State       tenants.ConnState `json:"state"`
	Number      string            `json:"number"`
	ProfileName string            `json:"profile_name"`
	Sandbox     bool              `json:"sandbox"`
	CreatedAt   time.Time         `json:"created_at"`
}

func (s *Server) toInstanceJSON(in tenants.Instance) instanceJSON {
	return instanceJSON{ID: in.ID, Name: in.Name, State: in.State, Number: in.Number, ProfileName: in.ProfileName,
		Sandbox: s.isSandbox(in), CreatedAt: in.CreatedAt}
}

func (s *Server) isSandbox(in tenants.Instance) bool {
	return s.deps.Sandbox != nil && in.ShardID == s.deps.SandboxShardID
}

type qrJSON struct {
	State       tenants.ConnState `json:"state"`
	QR          *string           `json:"qr"`
	PairingCode *string           `json:"pairing_code"`
}

func toQRJSON(in tenants.Instance) qrJSON {
	out := qrJSON{State: in.State}
	if in.State != tenants.StateOpen {
		if in.QR.Image != "" {
			out.QR = &in.QR.Image
		}
		if in.QR.PairingCode != "" {
			out.PairingCode = &in.QR.PairingCode
		}
	}
	return out
}

type instanceCreateRequest struct {
	Name   string `json:"name"`
	Number string `json:"number"`
}

func (s *Server) handleAPIInstanceCreate(c echo.Context) error {
	var req instanceCreateRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	in, err := s.deps.Numbers.Connect(c.Request().Context(), accountOf(c).Tenant, req.Name, req.Number)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, s.toInstanceJSON(in))
}

func (s *Server) handleAPIInstanceList(c echo.Context) error {
	list, err := s.deps.Numbers.List(c.Request().Context(), accountOf(c).Tenant.ID)
	if err != nil {
		return err
	}
	out := make([]instanceJSON, 0, len(list))
	for _, in := range list {
		out = append(out, s.toInstanceJSON(in))
	}
	return c.JSON(http.StatusOK, map[string]any{"instances": out})
}

func (s *Server) handleAPIInstanceGet(c echo.Context) error {
	in, err := s.deps.Numbers.Get(c.Request().Context(), accountOf(c).Tenant.ID, c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, s.toInstanceJSON(in))
}

func (s *Server) handleAPIInstanceQR(c echo.Context) error {
	in, err := s.deps.Numbers.QR(c.Request().Context(), accountOf(c).Tenant.ID, c.Param("id"), c.QueryParam("number"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toQRJSON(in))
}

func (s *Server) handleAPIInstanceLogout(c echo.Context) error {
	in, err := s.deps.Numbers.Logout(c.Request().Context(), accountOf(c).Tenant.ID, c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, s.toInstanceJSON(in))
}

func (s *Server) handleAPIInstanceDelete(c echo.Context) error {
	if err := s.deps.Numbers.Remove(c.Request().Context(), accountOf(c).Tenant.ID, c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
