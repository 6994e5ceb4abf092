package httpapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/aibud/aibud/tenants"
	"github.com/labstack/echo/v4"
)

// Tenant data over HTTP: the operator's download of a tenant export file,
// an owner deleting their account, and a contact's data export.

// TenantExporter writes one tenant's export file; *store.Store is one.
type TenantExporter interface {
	ExportTenant(ctx context.Context, tenantID string, w io.Writer) (tenants.ExportManifest, error)
}

// exportWriteTimeout replaces the server's write timeout for a download
// of a whole tenant, which can take longer than a page.
const exportWriteTimeout = 30 * time.Minute

// registerDataRightsRoutes adds the owner's routes. The operator's export
// download (handleAdminTenantExport) is registered with the console.
func (s *Server) registerDataRightsRoutes(e *echo.Echo) {
	e.POST("/api/v1/account/delete", s.handleAccountDelete, s.requireAPI)
	e.GET("/api/v1/contacts/:phone/export", s.handleContactDataExport, s.requireAPI)
}

func (s *Server) eraser() (*tenants.Eraser, error) {
	if s.deps.Eraser == nil {
		return nil, tenants.Errorf(tenants.EUNAVAILABLE, "This is not available on this server.")
	}
	return s.deps.Eraser, nil
}

// handleAdminTenantExport streams a tenant's export file as a download:
// GET /api/v1/admin/tenants/:id/export, behind requireAdmin. Errors found
// before the first byte (unknown tenant) answer as usual; a failure after
// it cuts the download short, and the file's checksum then refuses it.
func (s *Server) handleAdminTenantExport(c echo.Context) error {
	if s.deps.Exporter == nil {
		return tenants.Errorf(tenants.EUNAVAILABLE, "Tenant export is not available on this server.")
	}
	id := c.Param("id")
	if err := http.NewResponseController(c.Response()).SetWriteDeadline(time.Now().Add(exportWriteTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		s.log.Warn("export write deadline", "err", err)
	}
	name := fmt.Sprintf("aibud-tenant-%s-%s.export", id, s.cfg.Now().UTC().Format("20060102-150405"))
	d := &download{c: c, filename: name, contentType: "application/octet-stream"}
	m, err := s.deps.Exporter.ExportTenant(c.Request().Context(), id, d)
	if err != nil {
		if !c.Response().Committed {
			return err
		}
		s.log.Error("tenant export cut short", "tenant", id, "err", err)
		return nil
	}
	s.log.Info("tenant exported", "tenant", id, "admin", adminOf(c).Email, "payload_bytes", m.PayloadBytes, "sha256", m.SHA256)
	return nil
}

// download sends the response headers with the first byte written, so
// that an error found before then still gets its proper answer.
type download struct {
	c                     echo.Context
	filename, contentType string
}

func (d *download) Write(p []byte) (int, error) {
	r := d.c.Response()
	if !r.Committed {
		r.Header().Set(echo.HeaderContentType, d.contentType)
		r.Header().Set(echo.HeaderContentDisposition, fmt.Sprintf("attachment; filename=%q", d.filename))
		r.Header().Set("Cache-Control", "no-store")
		r.WriteHeader(http.StatusOK)
	}
	return r.Write(p)
}

type accountDeleteRequest struct {
	Password string `json:"password"`
}

// handleAccountDelete deletes the caller's tenant with all its data
// (tenants.Eraser.DeleteOwnAccount) once their password checks out, and
// ends the session: 204. Only the owner, signed in, may: not an API key,
// not a support view (requireAPI refuses its POSTs). Wrong passwords count
// against the log-in throttle.
func (s *Server) handleAccountDelete(c echo.Context) error {
	if id, _ := c.Get(apiKeyIDKey).(string); id != "" {
		return tenants.Errorf(tenants.EFORBIDDEN, "An account cannot be deleted with an API key. Sign in to the dashboard to delete it.")
	}
	eraser, err := s.eraser()
	if err != nil {
		return err
	}
	var req accountDeleteRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	acc := accountOf(c)
	key := "delete:" + acc.User.ID
	if err := s.throttle.check(key); err != nil {
		return err
	}
	err = eraser.DeleteOwnAccount(c.Request().Context(), *acc, req.Password)
	if errors.Is(err, tenants.ErrWrongPassword) {
		s.throttle.fail(key)
	}
	if err != nil {
		return err
	}
	s.clearSessionCookie(c)
	return c.NoContent(http.StatusNoContent)
}

// handleContactDataExport answers everything stored about one contact as
// a JSON download (tenants.ContactData), for a data subject's request.
func (s *Server) handleContactDataExport(c echo.Context) error {
	eraser, err := s.eraser()
	if err != nil {
		return err
	}
	d, err := eraser.ContactData(c.Request().Context(), accountOf(c).Tenant.ID, c.Param("phone"))
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderContentDisposition, fmt.Sprintf("attachment; filename=%q", "contact-"+d.Contact.Phone+".json"))
	return c.JSONPretty(http.StatusOK, d, "  ")
}
