package httpapi

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"strconv"

	"github.com/aibud/aibud/tenants"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
)

// The Contacts pages: the list (search, tag filter, "Show more"), opt-out
// and delete forms, and the import wizard (upload or paste → preview and
// column mapping → result).
//
// The wizard keeps the uploaded file between steps without server state:
// step 2's form carries it back gzipped and base64-encoded in a hidden
// field. Nothing is stored that would need expiring, any node can serve any
// step, and a lead list compresses to about a third of its size.

func (s *Server) registerContactPages(e *echo.Echo) {
	g := e.Group("/app/contacts", s.requirePage)
	g.GET("", s.handleContactsPage)
	g.GET("/import", s.handleImportPage)
	g.POST("/import", s.handleImportUpload, middleware.BodyLimit(importPageBodyLimit))
	g.POST("/import/run", s.handleImportRun, middleware.BodyLimit(importPageBodyLimit))
	g.GET("/:phone/delete", s.handleContactDeleteConfirm)
	g.POST("/:phone/delete", s.handleContactDeleteForm)
	g.POST("/:phone/opt-out", s.handleContactOptOutForm)
	g.POST("/:phone/opt-in", s.handleContactOptInForm)
}

// contactsPage is the page size of the contacts list.
const contactsPage = 50

type contactsData struct {
	Contacts []tenants.Contact
	Search   string
	Tag      string
	Tags     []tenants.TagCount
	Filtered bool            // a search or tag is applied
	Contact  tenants.Contact // the delete confirmation's contact
	Confirm  bool
}

// handleContactsPage renders the list; htmx asks for the table alone when
// the search or tag changes and for the next rows on "Show more".
func (s *Server) handleContactsPage(c echo.Context) error {
	q, err := contactQuery(c, contactsPage)
	if err != nil {
		return err
	}
	ctx, tid := c.Request().Context(), accountOf(c).Tenant.ID
	page, err := s.deps.Contacts.List(ctx, tid, q)
	if err != nil {
		return err
	}
	d := contactsData{Contacts: page.Contacts, Search: q.Search, Tag: q.Tag, Filtered: q.Search != "" || q.Tag != ""}
	pd := pageData{Title: "Contacts", Nav: "contacts", Cursor: page.NextCursor, Data: d}
	if c.Request().Header.Get("HX-Request") == "true" {
		if q.Cursor != "" {
			return s.renderFragment(c, "contacts", "contacts-rows", pd)
		}
		return s.renderFragment(c, "contacts", "contacts-table", pd)
	}
	if d.Tags, err = s.deps.Contacts.Tags(ctx, tid); err != nil {
		return err
	}
	pd.Data = d
	return s.render(c, "contacts", pd)
}

func (s *Server) handleContactDeleteConfirm(c echo.Context) error {
	ct, err := s.deps.Contacts.Get(c.Request().Context(), accountOf(c).Tenant.ID, c.Param("phone"))
	if err != nil {
		return err
	}
	return s.render(c, "contacts", pageData{Title: "Delete contact", Nav: "contacts", Data: contactsData{Contact: ct, Confirm: true}})
}

func (s *Server) handleContactDeleteForm(c echo.Context) error {
	if err := s.deps.Contacts.Delete(c.Request().Context(), accountOf(c).Tenant.ID, c.Param("phone")); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/app/contacts")
}

func (s *Server) handleContactOptOutForm(c echo.Context) error {
	if _, err := s.deps.Contacts.OptOut(c.Request().Context(), accountOf(c).Tenant.ID, c.Param("phone"), tenants.ConsentManual, ""); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/app/contacts")
}

func (s *Server) handleContactOptInForm(c echo.Context) error {
	if _, err := s.deps.Contacts.OptIn(c.Request().Context(), accountOf(c).Tenant.ID, c.Param("phone"), tenants.ConsentManual, ""); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/app/contacts")
}

// importData drives the three steps of contacts_import.html.
type importData struct {
	Step     int
	Preview  tenants.CSVPreview
	Fields   []mappingField
	Upload   string // the file, gzipped and base64-encoded
	FileName string
	Tags     string
	Result   tenants.ImportResult
	Errors   []tenants.RowError // the first maxShownErrors of Result.Invalid
	More     int                // errors not shown
	Counts   importCounts
}

// importCounts are the figures the wizard shows, formatted "12,345".
type importCounts struct{ Total, Imported, Updated, Merged, Invalid string }

// mappingField is one column select of step 2.
type mappingField struct {
	Name, Label string
	Options     []columnOption
}

type columnOption struct {
	Value, Label string
	Selected     bool
}

const maxShownErrors = 200

func (s *Server) handleImportPage(c echo.Context) error {
	return s.render(c, "contacts_import", pageData{Title: "Import contacts", Nav: "contacts", Data: importData{Step: 1}})
}

// handleImportUpload is step 1: a file goes to the preview, pasted numbers
// are imported at once.
func (s *Server) handleImportUpload(c echo.Context) error {
	tags := c.FormValue("tags")
	form := map[string]string{"tags": tags, "numbers": c.FormValue("numbers")}
	fh, err := c.FormFile("file")
	if errors.Is(err, http.ErrMissingFile) || (err == nil && fh.Size == 0 && form["numbers"] != "") {
		if form["numbers"] == "" {
			return s.importFailed(c, 1, importData{Tags: tags}, form, tenants.Invalid("file", "Choose a CSV file or paste some numbers."))
		}
		res, err := s.deps.Contacts.ImportPasted(c.Request().Context(), accountOf(c).Tenant, form["numbers"], tenants.SplitTags(tags))
		if err != nil {
			return s.importFailed(c, 1, importData{Tags: tags}, form, err)
		}
		return s.importDone(c, res)
	} else if err != nil {
		return bodyError(err)
	}
	f, err := fh.Open()
	if err != nil {
		return err
	}
	defer f.Close()
	data, err := readLimited(f)
	if err != nil {
		return err
	}
	d := importData{Step: 2, FileName: fh.Filename, Tags: tags}
	if d.Upload, err = packUpload(data); err != nil {
		return err
	}
	return s.importPreview(c, d, data, nil)
}

// handleImportRun is step 2's submit: the mapping chosen, import the file.
func (s *Server) handleImportRun(c echo.Context) error {
	data, err := unpackUpload(c.FormValue("upload"))
	if err != nil {
		return s.importFailed(c, 1, importData{}, nil, tenants.Invalid("file", "The uploaded file was lost on the way; please choose it again."))
	}
	d := importData{Step: 2, Upload: c.FormValue("upload"), FileName: c.FormValue("filename"), Tags: c.FormValue("tags")}
	return s.importPreview(c, d, data, c.FormValue)
}

// importPreview shows step 2, or with get (the submitted mapping) imports.
func (s *Server) importPreview(c echo.Context, d importData, data []byte, get func(string) string) error {
	p, err := s.deps.Contacts.Preview(data)
	if err != nil {
		return s.importFailed(c, 1, importData{Tags: d.Tags}, map[string]string{"tags": d.Tags}, err)
	}
	d.Preview, d.Fields = p, mappingFields(p, p.Mapping)
	d.Counts.Total = thousands(int64(p.Total))
	if get == nil {
		return s.render(c, "contacts_import", pageData{Title: "Import contacts", Nav: "contacts", Data: d})
	}
	m, err := mappingFrom(p, get)
	if err == nil {
		d.Fields = mappingFields(p, m)
		var res tenants.ImportResult
		if res, err = s.deps.Contacts.Import(c.Request().Context(), accountOf(c).Tenant, data, m, tenants.SplitTags(d.Tags)); err == nil {
			return s.importDone(c, res)
		}
	}
	return s.importFailed(c, 2, d, nil, err)
}

// importFailed shows a step again with the error, for the errors a user
// can fix; others go to the error handler.
func (s *Server) importFailed(c echo.Context, step int, d importData, form map[string]string, err error) error {
	detail, status := s.describe(err, c)
	if status >= 500 {
		return err
	}
	d.Step = step
	return s.renderStatus(c, status, "contacts_import", pageData{Title: "Import contacts", Nav: "contacts", Data: d,
		Error: detail.Message, Field: detail.Field, Form: form})
}

func (s *Server) importDone(c echo.Context, res tenants.ImportResult) error {
	d := importData{Step: 3, Result: res, Errors: res.Invalid, Counts: importCounts{Imported: thousands(int64(res.Imported)),
		Updated: thousands(int64(res.Updated)), Merged: thousands(int64(res.Merged)), Invalid: thousands(int64(len(res.Invalid)))}}
	if len(d.Errors) > maxShownErrors {
		d.Errors, d.More = d.Errors[:maxShownErrors], len(d.Errors)-maxShownErrors
	}
	return s.render(c, "contacts_import", pageData{Title: "Import contacts", Nav: "contacts", Data: d})
}

// mappingFields builds step 2's selects with m's columns selected.
func mappingFields(p tenants.CSVPreview, m tenants.ColumnMapping) []mappingField {
	out := []mappingField{{Name: "phone_col", Label: "Phone number"}, {Name: "name_col", Label: "Name"}, {Name: "tags_col", Label: "Tags"}, {Name: "optin_col", Label: "Opt-in (agreed to messages)"}}
	for i, col := range []int{m.Phone, m.Name, m.Tags, m.OptIn} {
		opts := []columnOption{{Value: "none", Label: "— none —", Selected: col == tenants.NoColumn}}
		for j, h := range p.Headers {
			opts = append(opts, columnOption{Value: strconv.Itoa(j + 1), Label: h, Selected: col == j})
		}
		out[i].Options = opts
	}
	return out
}

// packUpload compresses and encodes a file for step 2's hidden field.
func packUpload(data []byte) (string, error) {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed) // a valid level never fails
	if _, err := zw.Write(data); err != nil {
		return "", err
	}
	if err := zw.Close(); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(buf.Bytes()), nil
}

// unpackUpload reverses packUpload, refusing anything that inflates past
// the import size limit (the field comes back from the browser).
func unpackUpload(s string) ([]byte, error) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, err
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(zr, tenants.MaxImportBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > tenants.MaxImportBytes {
		return nil, errors.New("upload inflates past the import limit")
	}
	return data, nil
}
