package httpapi

import (
	"net/http"
	"time"

	"github.com/aibud/aibud/tenants"
	"github.com/golang-jwt/jwt/v5"
	"github.com/labstack/echo/v4"
)

// The support view: an operator sees a tenant's dashboard exactly as its
// owner does, read-only, for an hour. Opening it writes an audit entry the
// owner can read (the access log, at the end of this file); the view itself
// is a signed cookie checked on each request, which writes nothing.

// supportCookie carries the signed support-view token.
const supportCookie = "aibud_support"

// supportTTL is how long a support view lasts before it must be reopened
// (and audited) again.
const supportTTL = time.Hour

// supportAudience marks support tokens, so that no other token signed with
// the server secret (a session token) is taken for one.
const supportAudience = "aibud-support"

// supportAdminKey holds the operator behind a support view (a
// tenants.User) in the request context, for handlers and logs.
const supportAdminKey = "support_admin"

// supportClaims is the support-view token: the admin (subject), the tenant
// and the owner whose dashboard is shown.
type supportClaims struct {
	TenantID string `json:"tid"`
	OwnerID  string `json:"oid,omitempty"`
	jwt.RegisteredClaims
}

func (t *tokenIssuer) signSupport(adminID string, v tenants.SupportView) (string, time.Time, error) {
	now := t.now()
	exp := now.Add(supportTTL)
	claims := supportClaims{
		TenantID: v.Tenant.ID, OwnerID: v.Owner.ID,
		RegisteredClaims: jwt.RegisteredClaims{
			Subject: adminID, Issuer: t.issuer, Audience: jwt.ClaimStrings{supportAudience},
			IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(exp),
		},
	}
	token, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(t.secret)
	return token, exp, err
}

func (t *tokenIssuer) parseSupport(token string) (supportClaims, error) {
	var claims supportClaims
	_, err := jwt.ParseWithClaims(token, &claims, func(*jwt.Token) (any, error) { return t.secret, nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithIssuer(t.issuer), jwt.WithAudience(supportAudience),
		jwt.WithExpirationRequired(), jwt.WithTimeFunc(t.now))
	if err != nil || claims.Subject == "" || claims.TenantID == "" {
		return supportClaims{}, tenants.Errorf(tenants.EUNAUTHORIZED, "The support view is not valid.")
	}
	return claims, nil
}

// authenticateSupport resolves the support-view cookie, if any, to the
// tenant owner's account marked with RoleAdmin; ok reports whether a view
// is open. The admin must still exist and be an admin. A cookie that no
// longer holds (expired, admin gone) is cleared and ignored, so the
// browser falls back to its own session.
func (s *Server) authenticateSupport(c echo.Context) (tenants.Account, bool, error) {
	ck, err := c.Cookie(supportCookie)
	if err != nil || ck.Value == "" || s.deps.Admin == nil {
		return tenants.Account{}, false, nil
	}
	claims, err := s.tokens.parseSupport(ck.Value)
	if err != nil {
		s.clearCookie(c, supportCookie)
		return tenants.Account{}, false, nil
	}
	acc, admin, err := s.deps.Admin.SupportAccount(c.Request().Context(), claims.Subject, claims.TenantID, claims.OwnerID)
	switch tenants.ErrorCode(err) {
	case "":
	case tenants.EUNAUTHORIZED, tenants.ENOTFOUND:
		s.clearCookie(c, supportCookie)
		return tenants.Account{}, false, nil
	default:
		return tenants.Account{}, false, err
	}
	c.Set(supportAdminKey, admin)
	return acc, true, nil
}

// handleSupportOpen audits the opening, sets the support cookie and sends
// the operator to the tenant's dashboard.
func (s *Server) handleSupportOpen(c echo.Context) error {
	admin := adminOf(c)
	v, err := s.deps.Admin.OpenSupportView(c.Request().Context(), admin, c.Param("id"), c.FormValue("reason"))
	if err != nil {
		return s.tenantPageWithError(c, "support", err)
	}
	token, exp, err := s.tokens.signSupport(admin.ID, v)
	if err != nil {
		return err
	}
	c.SetCookie(&http.Cookie{
		Name: supportCookie, Value: token, Path: "/", Expires: exp,
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteStrictMode,
	})
	return c.Redirect(http.StatusSeeOther, "/app")
}

// handleSupportEnd closes the support view and goes back to the tenant's
// console page.
func (s *Server) handleSupportEnd(c echo.Context) error {
	to := "/admin/tenants"
	if ck, err := c.Cookie(supportCookie); err == nil {
		if claims, err := s.tokens.parseSupport(ck.Value); err == nil {
			to += "/" + claims.TenantID
		}
	}
	s.clearCookie(c, supportCookie)
	return c.Redirect(http.StatusSeeOther, to)
}

// auditData is the owner's audit page.
type auditData struct {
	Entries []tenants.AuditEntry
}

// handleAuditPage shows a tenant's owner every operator action on their
// account, support views first among them.
func (s *Server) handleAuditPage(c echo.Context) error {
	page, err := s.auditPage(c)
	if err != nil {
		return err
	}
	return s.render(c, "audit", pageData{Title: "Access log", Nav: "audit", Cursor: page.NextCursor, Data: auditData{Entries: page.Entries}})
}

func (s *Server) handleAPIAudit(c echo.Context) error {
	page, err := s.auditPage(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, auditJSON(page))
}

func (s *Server) auditPage(c echo.Context) (tenants.AuditPage, error) {
	if s.deps.Admin == nil {
		return tenants.AuditPage{}, nil
	}
	return s.deps.Admin.AuditLog(c.Request().Context(), accountOf(c).Tenant.ID, c.QueryParam("cursor"), 50)
}

type auditPageJSON struct {
	Entries    []tenants.AuditEntry `json:"entries"`
	NextCursor string               `json:"next_cursor,omitempty"`
}

func auditJSON(p tenants.AuditPage) auditPageJSON {
	if p.Entries == nil {
		p.Entries = []tenants.AuditEntry{}
	}
	return auditPageJSON{Entries: p.Entries, NextCursor: p.NextCursor}
}
