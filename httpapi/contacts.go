package httpapi

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/aibud/aibud/tenants"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
)

// Contacts: the JSON API and the CSV export. The pages (list, import
// wizard, delete confirmation) are in contacts_pages.go.

// Body limits of the import routes, which carry whole files; everything
// else keeps the small server-wide limit (serverBodyLimit). The API takes a 20 MiB file plus multipart
// framing; the wizard's second step re-posts the file compressed and
// base64-encoded, which for an incompressible file is 4/3 of its size.
const (
	importAPIBodyLimit  = "21M"
	importPageBodyLimit = "28M"
)

// serverBodyLimit is the server-wide body limit middleware: every route
// but the import routes, which apply their own larger limits (Echo runs
// the server-wide middleware first, so a route cannot raise it).
func serverBodyLimit(limit string) echo.MiddlewareFunc {
	return middleware.BodyLimitWithConfig(middleware.BodyLimitConfig{Limit: limit, Skipper: isImportRoute})
}

// isImportRoute reports whether the request is for a route that applies its
// own, larger body limit.
func isImportRoute(c echo.Context) bool {
	switch c.Path() {
	case "/api/v1/contacts/import", "/app/contacts/import", "/app/contacts/import/run":
		return true
	}
	return false
}

func (s *Server) registerContactRoutes(e *echo.Echo) {
	g := e.Group("/api/v1/contacts", s.requireAPI)
	g.POST("/import", s.handleAPIContactImport, middleware.BodyLimit(importAPIBodyLimit))
	g.POST("", s.handleAPIContactCreate)
	g.GET("", s.handleAPIContactList)
	g.GET("/export.csv", s.handleContactExport)
	g.GET("/:phone", s.handleAPIContactGet)
	g.DELETE("/:phone", s.handleAPIContactDelete)
	g.POST("/:phone/opt-out", s.handleAPIContactOptOut)
	g.POST("/:phone/opt-in", s.handleAPIContactOptIn)
	s.registerContactPages(e)
}

// handleAPIContactImport imports a CSV sent as the body (text/csv) or as
// the multipart field "file". Columns come from phone_col, name_col,
// tags_col and optin_col (a header name or a column number from 1; "none"
// for no column), else from the header names; tags adds tags to every row.
func (s *Server) handleAPIContactImport(c echo.Context) error {
	data, err := importBody(c)
	if err != nil {
		return err
	}
	p, err := s.deps.Contacts.Preview(data)
	if err != nil {
		return err
	}
	m, err := mappingFrom(p, c.FormValue)
	if err != nil {
		return err
	}
	res, err := s.deps.Contacts.Import(c.Request().Context(), accountOf(c).Tenant, data, m, tenants.SplitTags(c.FormValue("tags")))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, res)
}

// importBody reads the CSV of an API import.
func importBody(c echo.Context) ([]byte, error) {
	ct, _, _ := mime.ParseMediaType(c.Request().Header.Get(echo.HeaderContentType))
	switch ct {
	case "multipart/form-data":
		fh, err := c.FormFile("file")
		if errors.Is(err, http.ErrMissingFile) {
			return nil, tenants.Invalid("file", "Attach the CSV file as the form field \"file\".")
		} else if err != nil {
			return nil, bodyError(err)
		}
		f, err := fh.Open()
		if err != nil {
			return nil, err
		}
		defer f.Close()
		return readLimited(f)
	case "text/csv", "text/plain", "application/csv", "text/tab-separated-values":
		return readLimited(c.Request().Body)
	}
	return nil, echo.NewHTTPError(http.StatusUnsupportedMediaType, "Send the CSV as a text/csv body or as the field \"file\" of a multipart/form-data upload.")
}

// readLimited reads a file of at most tenants.MaxImportBytes.
func readLimited(r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, tenants.MaxImportBytes+1))
	if err != nil {
		return nil, bodyError(err)
	}
	if len(data) > tenants.MaxImportBytes {
		return nil, echo.NewHTTPError(http.StatusRequestEntityTooLarge, "The file is larger than 20 MiB.")
	}
	return data, nil
}

// bodyError keeps the body limit's 413 when reading a body fails.
func bodyError(err error) error {
	var he *echo.HTTPError
	if errors.As(err, &he) {
		return he
	}
	if strings.Contains(err.Error(), "too large") {
		return echo.ErrStatusRequestEntityTooLarge
	}
	return tenants.Invalid("body", "The upload could not be read: %v", err)
}

// mappingFrom resolves the four column parameters against the file.
func mappingFrom(p tenants.CSVPreview, get func(string) string) (tenants.ColumnMapping, error) {
	m := p.Mapping
	for _, f := range []struct {
		field string
		col   *int
	}{{"phone_col", &m.Phone}, {"name_col", &m.Name}, {"tags_col", &m.Tags}, {"optin_col", &m.OptIn}} {
		n, err := p.ResolveColumn(f.field, get(f.field), *f.col)
		if err != nil {
			return m, err
		}
		*f.col = n
	}
	return m, nil
}

type contactCreateRequest struct {
	Phone string   `json:"phone"`
	Name  string   `json:"name"`
	Tags  []string `json:"tags"`
}

// handleAPIContactCreate adds one contact: 201 when new, 200 when the
// number was already a contact (the name and tags are merged in).
func (s *Server) handleAPIContactCreate(c echo.Context) error {
	var req contactCreateRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	ct, created, err := s.deps.Contacts.Add(c.Request().Context(), accountOf(c).Tenant, req.Phone, req.Name, req.Tags)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return c.JSON(status, contactOut(ct))
}

type contactListResponse struct {
	Contacts   []tenants.Contact `json:"contacts"`
	NextCursor string            `json:"next_cursor"`
}

func (s *Server) handleAPIContactList(c echo.Context) error {
	q, err := contactQuery(c, 0)
	if err != nil {
		return err
	}
	page, err := s.deps.Contacts.List(c.Request().Context(), accountOf(c).Tenant.ID, q)
	if err != nil {
		return err
	}
	out := contactListResponse{Contacts: make([]tenants.Contact, len(page.Contacts)), NextCursor: page.NextCursor}
	for i, ct := range page.Contacts {
		out.Contacts[i] = contactOut(ct)
	}
	return c.JSON(http.StatusOK, out)
}

// contactQuery reads search, tag, cursor and limit (default def).
func contactQuery(c echo.Context, def int) (tenants.ContactQuery, error) {
	q := tenants.ContactQuery{Search: c.QueryParam("search"), Tag: c.QueryParam("tag"), Cursor: strings.TrimPrefix(c.QueryParam("cursor"), "+"), Limit: def}
	if v := c.QueryParam("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > tenants.MaxContactPage {
			return q, tenants.Invalid("limit", "limit must be a whole number from 1 to %d.", tenants.MaxContactPage)
		}
		q.Limit = n
	}
	return q, nil
}

type contactDetail struct {
	tenants.Contact
	ConsentLog []tenants.ConsentEvent `json:"consent_log"`
}

func (s *Server) handleAPIContactGet(c echo.Context) error {
	ctx, tid := c.Request().Context(), accountOf(c).Tenant.ID
	ct, err := s.deps.Contacts.Get(ctx, tid, c.Param("phone"))
	if err != nil {
		return err
	}
	log, err := s.deps.Contacts.ConsentLog(ctx, tid, ct.Phone)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, contactDetail{Contact: contactOut(ct), ConsentLog: log})
}

func (s *Server) handleAPIContactDelete(c echo.Context) error {
	if err := s.deps.Contacts.Delete(c.Request().Context(), accountOf(c).Tenant.ID, c.Param("phone")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) handleAPIContactOptOut(c echo.Context) error {
	ct, err := s.deps.Contacts.OptOut(c.Request().Context(), accountOf(c).Tenant.ID, c.Param("phone"), tenants.SourceAPI, "")
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, contactOut(ct))
}

func (s *Server) handleAPIContactOptIn(c echo.Context) error {
	ct, err := s.deps.Contacts.OptIn(c.Request().Context(), accountOf(c).Tenant.ID, c.Param("phone"), tenants.SourceAPI, "")
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, contactOut(ct))
}

// handleContactExport streams every contact as CSV. It serves the API and
// the page's Export button alike (both authenticate with the session). A
// failure mid-stream aborts the connection so that a cut-off file is never
// taken for a complete one.
func (s *Server) handleContactExport(c echo.Context) error {
	acc := accountOf(c)
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, "text/csv; charset=utf-8")
	h.Set(echo.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="contacts-%s.csv"`, s.cfg.Now().UTC().Format("2006-01-02")))
	h.Set("Cache-Control", "no-store")
	c.Response().WriteHeader(http.StatusOK)
	if err := s.deps.Contacts.Export(c.Request().Context(), acc.Tenant.ID, c.Response()); err != nil {
		s.log.Error("contacts export failed mid-stream", "tenant", acc.Tenant.ID, "err", err)
		panic(http.ErrAbortHandler)
	}
	return nil
}

// contactOut gives JSON an empty tag list rather than null.
func contactOut(ct tenants.Contact) tenants.Contact {
	if ct.Tags == nil {
		ct.Tags = []string{}
	}
	return ct
}
