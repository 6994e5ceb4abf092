package httpapi

import (
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strings"

	"github.com/aibud/aibud/tenants"
	"github.com/labstack/echo/v4"
)

func (s *Server) registerAccountRoutes(e *echo.Echo) {
	e.POST("/api/v1/signup", s.handleAPISignup)
	e.POST("/api/v1/login", s.handleAPILogin)
	e.POST("/api/v1/logout", s.handleAPILogout)
	e.GET("/api/v1/me", s.handleAPIMe, s.requireAPI)

	e.GET("/", s.handleLanding, s.identify)
	e.GET("/signup", s.handleSignupPage, s.identify)
	e.POST("/signup", s.handleSignupForm)
	e.GET("/login", s.handleLoginPage, s.identify)
	e.POST("/login", s.handleLoginForm)
	e.POST("/logout", s.handleLogoutForm)
	e.GET("/app", s.handleOverview, s.requirePage)
}

type signupRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	Company  string `json:"company"`
}

type signupResponse struct {
	TenantID string         `json:"tenant_id"`
	UserID   string         `json:"user_id"`
	Plan     tenants.PlanID `json:"plan"`
	Credits  int64          `json:"credits"`
}

// decodeJSON reads a JSON object body into v; anything else is a 400 that
// says what was wrong.
func decodeJSON(c echo.Context, v any) error {
	dec := json.NewDecoder(c.Request().Body)
	if err := dec.Decode(v); err != nil {
		var he *echo.HTTPError
		if errors.As(err, &he) { // the body limit tripped while reading
			return he
		}
		return badJSON(err)
	}
	if dec.More() {
		return tenants.Invalid("body", "Request body must hold one JSON object.")
	}
	return nil
}

func (s *Server) handleAPISignup(c echo.Context) error {
	var req signupRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	acc, err := s.deps.Accounts.Signup(c.Request().Context(), tenants.SignupInput(req))
	if err != nil {
		return err
	}
	if err := s.startSession(c, acc); err != nil {
		return err
	}
	bal, err := s.deps.Credits.Balance(c.Request().Context(), acc.Tenant.ID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, signupResponse{TenantID: acc.Tenant.ID, UserID: acc.User.ID, Plan: acc.Tenant.Plan, Credits: bal})
}

type loginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

func (s *Server) handleAPILogin(c echo.Context) error {
	var req loginRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	acc, err := s.login(c, req.Email, req.Password)
	if err != nil {
		return err
	}
	c.Set(accountKey, &acc)
	return s.handleAPIMe(c)
}

// login checks credentials behind the per-IP and per-email throttle.
func (s *Server) login(c echo.Context, email, password string) (tenants.Account, error) {
	ipKey := "ip:" + clientIP(c)
	emailKey := "email:" + strings.ToLower(strings.TrimSpace(email))
	if err := s.throttle.check(ipKey, emailKey); err != nil {
		return tenants.Account{}, err
	}
	acc, err := s.deps.Accounts.Login(c.Request().Context(), email, password)
	if tenants.ErrorCode(err) == tenants.EUNAUTHORIZED {
		s.throttle.fail(ipKey, emailKey)
		return tenants.Account{}, err
	} else if err != nil {
		return tenants.Account{}, err
	}
	s.throttle.succeed(emailKey)
	return acc, s.startSession(c, acc)
}

// clientIP is the peer address. X-Forwarded-For is not trusted here: the
// operator's proxy settings decide that (Echo's IPExtractor, set by main).
func clientIP(c echo.Context) string {
	ip := c.RealIP()
	if host, _, err := net.SplitHostPort(ip); err == nil {
		return host
	}
	return ip
}

func (s *Server) handleAPILogout(c echo.Context) error {
	if err := s.endSession(c); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

type meResponse struct {
	User    meUser   `json:"user"`
	Tenant  meTenant `json:"tenant"`
	Credits int64    `json:"credits"`
}

type meUser struct {
	ID    string       `json:"id"`
	Email string       `json:"email"`
	Role  tenants.Role `json:"role"`
}

type meTenant struct {
	ID     string               `json:"id"`
	Name   string               `json:"name"`
	Plan   tenants.PlanID       `json:"plan"`
	Status tenants.TenantStatus `json:"status"`
}

func (s *Server) handleAPIMe(c echo.Context) error {
	acc := accountOf(c)
	bal, err := s.deps.Credits.Balance(c.Request().Context(), acc.Tenant.ID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, meResponse{
		User:    meUser{ID: acc.User.ID, Email: acc.User.Email, Role: acc.User.Role},
		Tenant:  meTenant{ID: acc.Tenant.ID, Name: acc.Tenant.Name, Plan: acc.Tenant.Plan, Status: acc.Tenant.Status},
		Credits: bal,
	})
}
