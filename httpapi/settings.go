package httpapi

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"

	"github.com/aibud/aibud/tenants"
	"github.com/labstack/echo/v4"
)

// The Settings pages: WhatsApp numbers, their QR codes and live state.

func (s *Server) registerSettingsRoutes(e *echo.Echo) {
	// Middleware per route, not per group: a group middleware makes Echo
	// answer 404 for every method under the prefix, hiding 405s.
	g := e.Group("/app/settings")
	g.GET("", s.handleSettingsPage, s.requirePage)
	g.GET("/numbers", s.handleNumbersFragment, s.requirePage)
	g.POST("/numbers", s.handleNumberCreateForm, s.requirePage)
	g.GET("/numbers/:id", s.handleNumberPage, s.requirePage)
	g.GET("/numbers/:id/qr", s.handleQRFragment, s.requirePage)
	g.POST("/numbers/:id/pair", s.handlePairForm, s.requirePage)
	g.POST("/numbers/:id/sandbox-scan", s.handleSandboxScan, s.requirePage)
	g.GET("/numbers/:id/confirm", s.handleNumberConfirm, s.requirePage)
	g.POST("/numbers/:id/logout", s.handleNumberLogoutForm, s.requirePage)
	g.POST("/numbers/:id/remove", s.handleNumberRemoveForm, s.requirePage)
	g.POST("/account", s.handleAccountForm, s.requirePage)
	g.POST("/auto-replies", s.handleAutoRepliesForm, s.requirePage)
}

// numberView is a number as the pages show it.
type numberView struct {
	tenants.Instance
	Sandbox bool
}

type settingsData struct {
	Tenant    tenants.Tenant
	Auto      tenants.AutoReplySettings
	AutoOn    bool // auto-replies can be configured here
	Saved     string
	Numbers   []numberView
	Allowed   int
	AtLimit   bool
	Number    numberView
	Action    string // confirm page: "logout" or "remove"
	Pairing   bool   // the pairing-code form is open
	SandboxOn bool
}

func (s *Server) numberViews(list []tenants.Instance) []numberView {
	out := make([]numberView, len(list))
	for i, in := range list {
		out[i] = numberView{Instance: in, Sandbox: s.isSandbox(in)}
	}
	return out
}

func (s *Server) settingsData(c echo.Context) (settingsData, error) {
	acc := accountOf(c)
	list, err := s.deps.Numbers.List(c.Request().Context(), acc.Tenant.ID)
	if err != nil {
		return settingsData{}, err
	}
	plan, _ := tenants.LookupPlan(acc.Tenant.Plan)
	d := settingsData{Tenant: acc.Tenant, Numbers: s.numberViews(list), Allowed: plan.Numbers, AtLimit: len(list) >= plan.Numbers, SandboxOn: s.deps.Sandbox != nil}
	if ar := s.autoReplies(); ar != nil {
		d.AutoOn = true
		if d.Auto, err = ar.Store.AutoReplySettings(c.Request().Context(), acc.Tenant.ID); err != nil {
			return d, err
		}
	}
	return d, nil
}

func (s *Server) autoReplies() *tenants.AutoReplies {
	if s.deps.Inbox == nil {
		return nil
	}
	return s.deps.Inbox.AutoReply
}

// settingsFormError re-shows the settings page with the problem named.
func (s *Server) settingsFormError(c echo.Context, err error, d settingsData) error {
	detail, status := s.describe(err, c)
	if status >= 500 {
		return err
	}
	return s.renderStatus(c, status, "settings", pageData{Title: "Settings", Nav: "settings", Data: d, Error: detail.Message, Field: detail.Field})
}

func (s *Server) handleAccountForm(c echo.Context) error {
	acc := accountOf(c)
	t, err := tenants.UpdateAccount(c.Request().Context(), s.deps.Tenants, acc.Tenant.ID, tenants.AccountSettings{
		Name: c.FormValue("name"), Region: c.FormValue("region"), TimeZone: c.FormValue("time_zone")})
	d, derr := s.settingsData(c)
	if derr != nil {
		return derr
	}
	if err != nil {
		d.Tenant.Name, d.Tenant.Region, d.Tenant.TimeZone = c.FormValue("name"), c.FormValue("region"), c.FormValue("time_zone")
		return s.settingsFormError(c, err, d)
	}
	acc.Tenant = t
	d.Tenant, d.Saved = t, "account"
	return s.render(c, "settings", pageData{Title: "Settings", Nav: "settings", Data: d})
}

func (s *Server) handleAutoRepliesForm(c echo.Context) error {
	ar := s.autoReplies()
	if ar == nil {
		return tenants.Errorf(tenants.ENOTFOUND, "Not found.")
	}
	set := tenants.AutoReplySettings{Enabled: c.FormValue("enabled") == "on", Templates: map[tenants.Intent]string{},
		OptOutConfirmation: strings.TrimSpace(c.FormValue("opt_out_confirmation"))}
	for _, intent := range autoReplyIntents {
		if v := strings.TrimSpace(c.FormValue("template_" + string(intent))); v != "" {
			set.Templates[intent] = v
		}
	}
	d, err := s.settingsData(c)
	if err != nil {
		return err
	}
	d.Auto = set
	if err := set.Validate(); err != nil {
		return s.settingsFormError(c, err, d)
	}
	if err := ar.Store.PutAutoReplySettings(c.Request().Context(), accountOf(c).Tenant.ID, set); err != nil {
		return err
	}
	d.Saved = "auto-replies"
	return s.render(c, "settings", pageData{Title: "Settings", Nav: "settings", Data: d})
}

// autoReplyIntents are the intents a tenant may answer automatically.
var autoReplyIntents = []tenants.Intent{tenants.IntentInterested, tenants.IntentQuestion, tenants.IntentNotInterested, tenants.IntentWrongNumber, tenants.IntentOther}

func (s *Server) handleSettingsPage(c echo.Context) error {
	d, err := s.settingsData(c)
	if err != nil {
		return err
	}
	return s.render(c, "settings", pageData{Title: "Settings", Nav: "settings", Data: d, Error: c.QueryParam("error")})
}

// handleNumbersFragment re-renders the numbers table; the page polls it so
// states change without a reload.
func (s *Server) handleNumbersFragment(c echo.Context) error {
	d, err := s.settingsData(c)
	if err != nil {
		return err
	}
	return s.renderFragment(c, "settings", "numbers-table", pageData{Data: d})
}

func (s *Server) handleNumberCreateForm(c echo.Context) error {
	in, err := s.deps.Numbers.Connect(c.Request().Context(), accountOf(c).Tenant, c.FormValue("name"), c.FormValue("number"))
	if err != nil {
		d, derr := s.settingsData(c)
		if derr != nil {
			return derr
		}
		detail, status := s.describe(err, c)
		if status >= 500 && status != http.StatusServiceUnavailable {
			return err
		}
		return s.renderStatus(c, status, "settings", pageData{Title: "Settings", Nav: "settings", Data: d, Error: detail.Message})
	}
	return c.Redirect(http.StatusSeeOther, "/app/settings/numbers/"+in.ID)
}

func (s *Server) number(c echo.Context) (numberView, error) {
	in, err := s.deps.Numbers.Get(c.Request().Context(), accountOf(c).Tenant.ID, c.Param("id"))
	return numberView{Instance: in, Sandbox: s.isSandbox(in)}, err
}

// handleNumberPage is the connect page: the QR code (or pairing code),
// refreshing itself until the phone is linked.
func (s *Server) handleNumberPage(c echo.Context) error {
	in, err := s.deps.Numbers.QR(c.Request().Context(), accountOf(c).Tenant.ID, c.Param("id"), "")
	if err != nil {
		return err
	}
	d := settingsData{Number: numberView{Instance: in, Sandbox: s.isSandbox(in)}, SandboxOn: s.deps.Sandbox != nil}
	return s.render(c, "number", pageData{Title: "Connect WhatsApp", Nav: "settings", Data: d})
}

func (s *Server) handleQRFragment(c echo.Context) error {
	in, err := s.deps.Numbers.QR(c.Request().Context(), accountOf(c).Tenant.ID, c.Param("id"), "")
	if err != nil {
		return err
	}
	d := settingsData{Number: numberView{Instance: in, Sandbox: s.isSandbox(in)}}
	return s.renderFragment(c, "number", "qr-panel", pageData{Data: d})
}

func (s *Server) handlePairForm(c echo.Context) error {
	in, err := s.deps.Numbers.QR(c.Request().Context(), accountOf(c).Tenant.ID, c.Param("id"), c.FormValue("number"))
	d := settingsData{Number: numberView{Instance: in, Sandbox: s.isSandbox(in)}, Pairing: true}
	if err != nil {
		detail, status := s.describe(err, c)
		if status >= 500 && status != http.StatusServiceUnavailable {
			return err
		}
		return s.renderStatus(c, status, "number", pageData{Title: "Connect WhatsApp", Nav: "settings", Data: d, Error: detail.Message, Form: map[string]string{"number": c.FormValue("number")}})
	}
	return s.render(c, "number", pageData{Title: "Connect WhatsApp", Nav: "settings", Data: d})
}

// handleSandboxScan plays the phone's part for a sandbox number.
func (s *Server) handleSandboxScan(c echo.Context) error {
	nv, err := s.number(c)
	if err != nil {
		return err
	}
	if !nv.Sandbox {
		return tenants.Errorf(tenants.ENOTFOUND, "Not found.")
	}
	number := fmt.Sprintf("5511%09d", rand.IntN(1_000_000_000))
	if err := s.deps.Sandbox.Scan(c.Request().Context(), nv.GatewayName, number, accountOf(c).Tenant.Name); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/app/settings/numbers/"+nv.ID)
}

// handleNumberConfirm asks before disconnecting or removing: a page, not a
// script dialog, so it works everywhere and is read by screen readers.
func (s *Server) handleNumberConfirm(c echo.Context) error {
	nv, err := s.number(c)
	if err != nil {
		return err
	}
	action := c.QueryParam("action")
	if action != "logout" && action != "remove" {
		return tenants.Invalid("action", "action must be logout or remove.")
	}
	return s.render(c, "confirm", pageData{Title: "Confirm", Nav: "settings", Data: settingsData{Number: nv, Action: action}})
}

func (s *Server) handleNumberLogoutForm(c echo.Context) error {
	if _, err := s.deps.Numbers.Logout(c.Request().Context(), accountOf(c).Tenant.ID, c.Param("id")); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/app/settings")
}

func (s *Server) handleNumberRemoveForm(c echo.Context) error {
	if err := s.deps.Numbers.Remove(c.Request().Context(), accountOf(c).Tenant.ID, c.Param("id")); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/app/settings")
}
