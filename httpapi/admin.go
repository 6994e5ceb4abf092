package httpapi

import (
	"net/http"
	"strings"

	"github.com/aibud/aibud/tenants"
	"github.com/labstack/echo/v4"
)

// The operator console: /admin pages and /api/v1/admin JSON, both only for
// platform admins. Everyone else, logged in or not, gets 404 there, as if
// the console did not exist. Operators log in at /operator/login (outside
// /admin, which must stay invisible) into their own cookie, aibud_admin,
// separate from tenant sessions.

// adminCookie carries an operator's signed console session token.
const adminCookie = "aibud_admin"

// adminKey holds the signed-in operator (a *tenants.User) in the context.
const adminKey = "admin"

// adminOf returns the operator of a request that passed requireAdmin.
func adminOf(c echo.Context) tenants.User {
	u, _ := c.Get(adminKey).(*tenants.User)
	if u == nil {
		return tenants.User{}
	}
	return *u
}

func (s *Server) registerAdminRoutes(e *echo.Echo) {
	e.GET("/operator/login", s.handleOperatorLoginPage)
	e.POST("/operator/login", s.handleOperatorLogin)
	e.POST("/api/v1/operator/login", s.handleOperatorLogin)

	// The group middleware also guards unknown paths under the prefixes,
	// so nothing there tells a stranger the console exists.
	g := e.Group("/admin", s.requireAdmin)
	g.GET("", s.handleAdminHome)
	g.POST("/logout", s.handleOperatorLogout)
	g.POST("/support/end", s.handleSupportEnd)
	s.registerAdminTenantPages(g)
	s.registerAdminShardPages(g)

	api := e.Group("/api/v1/admin", s.requireAdmin)
	s.registerAdminAPI(api)

	// The tenant owner's side of the audit log.
	e.GET("/app/audit", s.handleAuditPage, s.requirePage)
	e.GET("/api/v1/audit", s.handleAPIAudit, s.requireAPI)
}

// requireAdmin lets platform admins through and answers 404 to everyone
// else, whatever the reason.
func (s *Server) requireAdmin(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		admin, err := s.authenticateAdmin(c)
		if err != nil {
			if tenants.ErrorCode(err) == tenants.EINTERNAL {
				s.log.Error("admin authentication", "err", err)
			}
			return echo.ErrNotFound
		}
		c.Set(adminKey, &admin)
		return next(c)
	}
}

// authenticateAdmin resolves the console session cookie to an admin.
func (s *Server) authenticateAdmin(c echo.Context) (tenants.User, error) {
	if s.deps.Admin == nil {
		return tenants.User{}, tenants.Errorf(tenants.ENOTFOUND, "Not found.")
	}
	ck, err := c.Cookie(adminCookie)
	if err != nil || ck.Value == "" {
		return tenants.User{}, tenants.Errorf(tenants.EUNAUTHORIZED, "Please log in.")
	}
	sid, err := s.tokens.parse(ck.Value)
	if err != nil {
		return tenants.User{}, err
	}
	return s.deps.Admin.ResumeSession(c.Request().Context(), sid)
}

func (s *Server) handleAdminHome(c echo.Context) error {
	return c.Redirect(http.StatusSeeOther, "/admin/tenants")
}

func (s *Server) handleOperatorLoginPage(c echo.Context) error {
	if s.deps.Admin == nil {
		return echo.ErrNotFound
	}
	if _, err := s.authenticateAdmin(c); err == nil {
		return c.Redirect(http.StatusSeeOther, "/admin/tenants")
	}
	return s.render(c, "admin_login", pageData{Title: "Operator log-in", Form: map[string]string{}})
}

// handleOperatorLogin checks an operator's credentials (form or JSON) behind
// the log-in throttle and sets the console cookie.
func (s *Server) handleOperatorLogin(c echo.Context) error {
	if s.deps.Admin == nil {
		return echo.ErrNotFound
	}
	isJSON := strings.HasPrefix(c.Request().Header.Get(echo.HeaderContentType), echo.MIMEApplicationJSON)
	var req loginRequest
	if isJSON {
		if err := decodeJSON(c, &req); err != nil {
			return err
		}
	} else {
		req = loginRequest{Email: c.FormValue("email"), Password: c.FormValue("password")}
	}
	admin, err := s.operatorLogin(c, req.Email, req.Password)
	if err != nil {
		detail, status := s.describe(err, c)
		if isJSON || status >= 500 {
			return err
		}
		return s.renderStatus(c, status, "admin_login", pageData{Title: "Operator log-in", Error: detail.Message,
			Form: map[string]string{"email": req.Email}})
	}
	if isJSON {
		return c.JSON(http.StatusOK, map[string]string{"id": admin.ID, "email": admin.Email, "role": string(admin.Role)})
	}
	return c.Redirect(http.StatusSeeOther, "/admin/tenants")
}

func (s *Server) operatorLogin(c echo.Context, email, password string) (tenants.User, error) {
	ipKey := "ip:" + clientIP(c)
	emailKey := "email:" + strings.ToLower(strings.TrimSpace(email))
	if err := s.throttle.check(ipKey, emailKey); err != nil {
		return tenants.User{}, err
	}
	ctx := c.Request().Context()
	admin, err := s.deps.Admin.Login(ctx, email, password)
	if tenants.ErrorCode(err) == tenants.EUNAUTHORIZED {
		s.throttle.fail(ipKey, emailKey)
		return tenants.User{}, err
	} else if err != nil {
		return tenants.User{}, err
	}
	s.throttle.succeed(emailKey)
	sess, err := s.deps.Admin.StartSession(ctx, admin)
	if err != nil {
		return tenants.User{}, err
	}
	token, err := s.tokens.sign(sess)
	if err != nil {
		return tenants.User{}, err
	}
	c.SetCookie(&http.Cookie{
		Name: adminCookie, Value: token, Path: "/", Expires: sess.ExpiresAt,
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteStrictMode,
	})
	s.log.Info("operator logged in", "admin", admin.Email)
	return admin, nil
}

// handleOperatorLogout ends the console session and any support view.
func (s *Server) handleOperatorLogout(c echo.Context) error {
	if ck, err := c.Cookie(adminCookie); err == nil {
		if sid, err := s.tokens.parse(ck.Value); err == nil {
			if err := s.deps.Admin.EndSession(c.Request().Context(), sid); err != nil {
				return err
			}
		}
	}
	s.clearCookie(c, adminCookie)
	s.clearCookie(c, supportCookie)
	return c.Redirect(http.StatusSeeOther, "/operator/login")
}

func (s *Server) clearCookie(c echo.Context, name string) {
	c.SetCookie(&http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteStrictMode})
}
