package httpapi

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/aibud/aibud/assets"
	"github.com/aibud/aibud/tenants"
	"github.com/labstack/echo/v4"
)

// pageData is what every page template receives. Pages read the fields they
// need; the layout reads Title, Account, Nav and Credits.
type pageData struct {
	Title   string
	Nav     string // which navigation item is current
	Account *tenants.Account
	Credits int64
	Plan    tenants.Plan
	Error   string
	Field   string // the form field the error is about
	Status  int
	Form    map[string]string
	Next    string // where to go after log-in
	Ledger  []tenants.LedgerEntry
	Cursor  string // next page of a list
	Data    any    // page-specific extras
}

var templateFuncs = template.FuncMap{
	"signed": func(n int64) string {
		if n > 0 {
			return fmt.Sprintf("+%d", n)
		}
		return fmt.Sprint(n)
	},
	"when": func(t time.Time) string { return t.UTC().Format("2 Jan 2006, 15:04 UTC") },
	"iso":  func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"reasonLabel": func(r string) string {
		switch r {
		case tenants.ReasonSignup:
			return "Welcome credits"
		case tenants.ReasonReserve:
			return "Reserved for sending"
		case tenants.ReasonRefund:
			return "Refund"
		}
		return strings.ToUpper(r[:1]) + r[1:]
	},
	"thousands":        thousands,
	"phone":            formatPhone,
	"voteLabel":        voteLabel,
	"intents":          func() []tenants.Intent { return tenants.Intents },
	"autoReplyIntents": func() []tenants.Intent { return autoReplyIntents },
	"zones":            func() []string { return commonZones },
	"templateFor":      func(m map[tenants.Intent]string, i tenants.Intent) string { return m[i] },
	"percent":          func(f float64) string { return fmt.Sprintf("%.0f%%", 100*f) },
	"intentLabel": func(i tenants.Intent) string {
		return map[tenants.Intent]string{
			tenants.IntentInterested: "Interested", tenants.IntentNotInterested: "Not interested",
			tenants.IntentQuestion: "Question", tenants.IntentOptOut: "Opt-out", tenants.IntentWrongNumber: "Wrong number",
			tenants.IntentAutoReply: "Auto-reply", tenants.IntentOther: "Other",
		}[i]
	},
	"leadLabel": func(l tenants.LeadStatus) string {
		return map[tenants.LeadStatus]string{
			tenants.LeadNew: "New", tenants.LeadEngaged: "Engaged", tenants.LeadHot: "Hot",
			tenants.LeadCold: "Cold", tenants.LeadOptedOut: "Opted out",
		}[l]
	},
	"int64": func(n int) int64 { return int64(n) },
	"excludedLabel": func(k string) string {
		switch k {
		case tenants.ExcludedOptedOut:
			return "opted out"
		case tenants.ExcludedInvalid:
			return "invalid numbers"
		case tenants.ExcludedDuplicate:
			return "duplicates"
		}
		return k
	},
	// qrsrc lets a QR data URL from the gateway into an img src; anything
	// that is not a base64 PNG is dropped.
	"qrsrc": func(s string) template.URL {
		if strings.HasPrefix(s, "data:image/png;base64,") && !strings.ContainsAny(s, "\"'<> ") {
			return template.URL(s)
		}
		return ""
	},
}

// formatPhone shows E.164 digits with their plus sign.
func formatPhone(digits string) string {
	if digits == "" {
		return ""
	}
	return "+" + digits
}

// thousands formats 12345 as "12,345".
func thousands(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// parsePages parses every page with the layout and partials, once at start.
func parsePages() (map[string]*template.Template, error) {
	fsys := assets.Templates()
	base, err := template.New("layout.html").Funcs(templateFuncs).ParseFS(fsys, "layout.html", "partials/*.html")
	if err != nil {
		return nil, fmt.Errorf("httpapi: parse layout: %w", err)
	}
	names, err := fs.Glob(fsys, "pages/*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, n := range names {
		t, err := template.Must(base.Clone()).ParseFS(fsys, n)
		if err != nil {
			return nil, fmt.Errorf("httpapi: parse %s: %w", n, err)
		}
		pages[strings.TrimSuffix(path.Base(n), ".html")] = t
	}
	return pages, nil
}

// render writes a full page with status 200.
func (s *Server) render(c echo.Context, name string, d pageData) error {
	return s.renderStatus(c, http.StatusOK, name, d)
}

// renderStatus writes a page, or only its "content" block for htmx requests
// that target the main area, or a named fragment block when asked for.
func (s *Server) renderStatus(c echo.Context, status int, name string, d pageData) error {
	t, ok := s.pages[name]
	if !ok {
		return fmt.Errorf("httpapi: no page %q", name)
	}
	if d.Account == nil {
		d.Account = accountOf(c)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout.html", d); err != nil {
		return fmt.Errorf("httpapi: render %s: %w", name, err)
	}
	return c.HTMLBlob(status, buf.Bytes())
}

// renderFragment writes one named template block (an htmx swap target).
func (s *Server) renderFragment(c echo.Context, page, block string, d any) error {
	var buf bytes.Buffer
	if err := s.pages[page].ExecuteTemplate(&buf, block, d); err != nil {
		return fmt.Errorf("httpapi: render %s/%s: %w", page, block, err)
	}
	return c.HTMLBlob(http.StatusOK, buf.Bytes())
}

// registerStatic serves the embedded static files with long caching; file
// names change when their content does (htmx carries its version).
func registerStatic(e *echo.Echo) {
	static := http.FileServer(http.FS(assets.Static()))
	e.GET("/static/*", echo.WrapHandler(http.StripPrefix("/static/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		static.ServeHTTP(w, r)
	}))))
}

// commonZones are suggested in the time zone field; any IANA name works.
var commonZones = []string{
	"UTC", "America/Sao_Paulo", "America/Mexico_City", "America/Bogota", "America/Argentina/Buenos_Aires",
	"America/New_York", "America/Chicago", "America/Los_Angeles", "Europe/Lisbon", "Europe/Madrid",
	"Europe/London", "Europe/Paris", "Europe/Berlin", "Europe/Rome", "Africa/Lagos", "Asia/Kolkata",
}
