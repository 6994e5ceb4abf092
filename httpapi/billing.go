package httpapi

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"

	"github.com/aibud/aibud/tenants"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
)

// The billing page, its JSON twins and the Stripe webhook.

func (s *Server) registerBillingRoutes(e *echo.Echo) {
	e.GET("/api/v1/billing", s.handleAPIBilling, s.requireAPI)
	e.POST("/api/v1/billing/checkout", s.handleAPICheckout, s.requireAPI)
	e.POST("/api/v1/billing/portal", s.handleAPIPortal, s.requireAPI)
	e.POST("/webhooks/stripe", s.handleStripeWebhook, middleware.BodyLimit(webhookBodyLimit))
	g := e.Group("/app/billing")
	g.GET("", s.handleBillingPage, s.requirePage)
	g.POST("/checkout", s.handleCheckoutForm, s.requirePage)
	g.POST("/portal", s.handlePortalForm, s.requirePage)
}

// billing returns the billing use case. A server built without one (tests
// of other resources) gets a Stripe-less one over the credits, so the page
// still works and says billing is not configured.
func (s *Server) billing() *tenants.Billing {
	if s.deps.Billing != nil {
		return s.deps.Billing
	}
	return &tenants.Billing{Credits: s.deps.Credits, Now: s.cfg.Now, Logger: s.log}
}

type billingResponse struct {
	Plan           tenants.PlanID `json:"plan"`
	Status         string         `json:"status"` // active, past_due or canceled
	Balance        int64          `json:"balance"`
	NumbersAllowed int            `json:"numbers_allowed"`
	MonthlyCredits int64          `json:"monthly_credits"`
}

func (s *Server) handleAPIBilling(c echo.Context) error {
	sum, err := s.billing().Summary(c.Request().Context(), accountOf(c).Tenant)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, billingResponse{Plan: sum.Plan.ID, Status: sum.Status.Label(), Balance: sum.Balance,
		NumbersAllowed: sum.Plan.Numbers, MonthlyCredits: sum.Plan.MonthlyCredits})
}

// checkoutRequest is {"plan":"growth"} or {"pack":"1000"}; a pack may also
// be given as a number.
type checkoutRequest struct {
	Plan tenants.PlanID  `json:"plan"`
	Pack json.RawMessage `json:"pack"`
}

func (r checkoutRequest) input() (tenants.CheckoutInput, error) {
	in := tenants.CheckoutInput{Plan: r.Plan}
	if raw := bytes.TrimSpace(r.Pack); len(raw) > 0 && !bytes.Equal(raw, []byte("null")) {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			var n json.Number
			if json.Unmarshal(raw, &n) != nil {
				return in, tenants.Invalid("pack", "Pack must be 1000 or 5000.")
			}
			s = n.String()
		}
		in.Pack = tenants.PackID(s)
	}
	return in, nil
}

type urlResponse struct {
	URL string `json:"url"`
}

func (s *Server) handleAPICheckout(c echo.Context) error {
	var req checkoutRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	in, err := req.input()
	if err != nil {
		return err
	}
	u, err := s.checkout(c, in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, urlResponse{URL: u})
}

func (s *Server) handleAPIPortal(c echo.Context) error {
	u, err := s.billing().Portal(c.Request().Context(), *accountOf(c), s.cfg.PublicURL+"/app/billing")
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, urlResponse{URL: u})
}

// checkout starts a Stripe Checkout that comes back to the billing page.
func (s *Server) checkout(c echo.Context, in tenants.CheckoutInput) (string, error) {
	in.SuccessURL = s.cfg.PublicURL + "/app/billing?checkout=done"
	in.CancelURL = s.cfg.PublicURL + "/app/billing?checkout=canceled"
	return s.billing().Checkout(c.Request().Context(), *accountOf(c), in)
}

// handleStripeWebhook verifies and applies a Stripe event. It answers 2xx
// once the event is applied (or known, or not ours), 400 to a bad signature
// or payload with nothing changed, and 5xx when Stripe should retry.
func (s *Server) handleStripeWebhook(c echo.Context) error {
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		return err // the body limit: 413
	}
	ev, out, err := s.billing().HandleWebhook(c.Request().Context(), body, c.Request().Header.Get("Stripe-Signature"))
	if err != nil {
		if tenants.ErrorCode(err) == tenants.EINVALID {
			s.log.Warn("stripe webhook refused", "err", err, "bytes", len(body), "ip", c.RealIP())
		}
		return err
	}
	return c.JSON(http.StatusOK, map[string]string{"id": ev.ID, "type": ev.Type, "outcome": string(out)})
}

// billingPage is the page's own data (pageData.Data).
type billingPage struct {
	Summary tenants.BillingSummary
	Plans   []tenants.Plan
	Packs   []tenants.Pack
	Filter  string
	Filters []ledgerFilterOption
	PastDue bool
	Notice  string
	// NoticeWarn marks a notice that something did not happen.
	NoticeWarn bool
	Usage      usageChart
}

type ledgerFilterOption struct{ Value, Label string }

var ledgerFilters = []ledgerFilterOption{
	{"all", "All movements"}, {"sends", "Sends"}, {"refunds", "Refunds"}, {"grants", "Grants"}, {"purchases", "Purchases"},
}

func (s *Server) handleBillingPage(c echo.Context) error {
	return s.renderBilling(c, http.StatusOK, nil)
}

// renderBilling writes the billing page, or its ledger alone for htmx (a
// filter change, or the next rows); formErr is shown above the page.
func (s *Server) renderBilling(c echo.Context, status int, formErr error) error {
	filter, err := tenants.ParseLedgerFilter(c.QueryParam("reason"))
	if err != nil {
		return err
	}
	cursor, _, err := ledgerQuery(c)
	if err != nil {
		return err
	}
	ctx, b, acct := c.Request().Context(), s.billing(), accountOf(c)
	page, err := b.Ledger(ctx, acct.Tenant.ID, filter, cursor, 25)
	if err != nil {
		return err
	}
	bp := billingPage{Filter: string(filter), Filters: ledgerFilters}
	if filter == tenants.LedgerAll {
		bp.Filter = "all"
	}
	d := pageData{Title: "Billing", Nav: "billing", Ledger: page.Entries, Cursor: page.NextCursor, Data: bp}
	c.Response().Header().Add("Vary", "HX-Request")
	h := c.Request().Header
	if h.Get("HX-Request") == "true" && h.Get("HX-History-Restore-Request") != "true" && formErr == nil {
		if cursor != "" {
			return s.renderFragment(c, "billing", "billing-ledger-rows", d)
		}
		return s.renderFragment(c, "billing", "billing-ledger", d)
	}
	if bp.Summary, err = b.Summary(ctx, acct.Tenant); err != nil {
		return err
	}
	bp.Plans, bp.Packs, bp.PastDue = tenants.Plans(), tenants.Packs(), bp.Summary.Status == tenants.BillingPastDue
	if s.deps.Usage != nil {
		days, err := s.deps.Usage.Days(ctx, acct.Tenant, 30)
		if err != nil {
			return err
		}
		bp.Usage = newUsageChart(days)
	}
	switch c.QueryParam("checkout") {
	case "done":
		bp.Notice = "Thank you! Your payment went through; the credits appear here in a moment."
	case "canceled":
		bp.Notice, bp.NoticeWarn = "Checkout canceled: nothing was charged.", true
	}
	d.Data, d.Credits, d.Plan = bp, bp.Summary.Balance, bp.Summary.Plan
	if formErr != nil {
		d.Error, d.Field = tenants.ErrorMessage(formErr), tenants.ErrorField(formErr)
	}
	allowStripeForms(c)
	return s.renderStatus(c, status, "billing", d)
}

// allowStripeForms lets this page's forms end on Stripe: browsers apply
// form-action to the redirect after a form post, and the Upgrade, Buy and
// Manage billing forms redirect to Checkout and the portal.
func allowStripeForms(c echo.Context) {
	h := c.Response().Header()
	if csp := h.Get(echo.HeaderContentSecurityPolicy); strings.Contains(csp, "form-action 'self'") {
		h.Set(echo.HeaderContentSecurityPolicy, strings.Replace(csp, "form-action 'self'",
			"form-action 'self' https://checkout.stripe.com https://billing.stripe.com", 1))
	}
}

// handleCheckoutForm is the Upgrade and Buy buttons: 303 to Stripe.
func (s *Server) handleCheckoutForm(c echo.Context) error {
	u, err := s.checkout(c, tenants.CheckoutInput{Plan: tenants.PlanID(c.FormValue("plan")), Pack: tenants.PackID(c.FormValue("pack"))})
	if err != nil {
		return s.billingFormError(c, err)
	}
	return c.Redirect(http.StatusSeeOther, u)
}

// handlePortalForm is the Manage billing button: 303 to Stripe's portal.
func (s *Server) handlePortalForm(c echo.Context) error {
	u, err := s.billing().Portal(c.Request().Context(), *accountOf(c), s.cfg.PublicURL+"/app/billing")
	if err != nil {
		return s.billingFormError(c, err)
	}
	return c.Redirect(http.StatusSeeOther, u)
}

// billingFormError shows a refused purchase on the billing page itself;
// internal errors go to the error handler, which logs them.
func (s *Server) billingFormError(c echo.Context, err error) error {
	code := tenants.ErrorCode(err)
	status, ok := statusOf[code]
	if !ok || code == tenants.EINTERNAL {
		return err
	}
	return s.renderBilling(c, status, err)
}
